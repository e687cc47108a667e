/**
 * Port of @ethereumjs/devp2p 10.0.0 test/integration/dpt-simulator.spec.ts,
 * against both implementations: DPTs on 127.0.0.1 talk to each other.
 * Every callback a test registers is wrapped with `h` (harness.ts): it must
 * run and must not throw, or the test fails (upstream passes silently).
 */
import * as assert from 'node:assert/strict';
import { freePort, freePortRange, IMPLS, suiteHooks, testFor } from './harness';
import type { SuiteDPT } from './harness';
import { testData } from './testdata';
import { makeUtil } from './util';

for (const impl of IMPLS) {
  const util = makeUtil(impl);
  const test = testFor(impl);

  describe(`ethjs suite: DPT simulator tests (${impl.name})`, () => {
    suiteHooks();

    test('DPT: new working node', async (h) => {
      const dpts = util.initTwoPeerDPTSetup(await freePortRange(2));

      dpts[0].events.on(
        'peer:new',
        h('peer:new', async (peer: { address: string }) => {
          assert.strictEqual(peer.address, '127.0.0.1', 'should have added peer on peer:new');
          await util.delay(500);
          util.destroyDPTs(dpts);
        }),
      );
    });

    test('DPT: working node added', async (h) => {
      const dpts = util.initTwoPeerDPTSetup(await freePortRange(2));

      dpts[0].events.on(
        'peer:added',
        h('peer:added', async () => {
          assert.strictEqual(dpts[0].getPeers().length, 1, 'should have added peer to k-bucket on peer:added');
          await util.delay(500);
          util.destroyDPTs(dpts);
        }),
      );
    });

    test('DPT: remove node', async (h) => {
      const dpts = util.initTwoPeerDPTSetup(await freePortRange(2));

      try {
        dpts[0].events.on(
          'peer:added',
          h('peer:added', async (peer: unknown) => {
            await util.delay(400);
            dpts[0].removePeer(peer);
          }),
        );
        dpts[0].events.on(
          'peer:removed',
          h('peer:removed', async () => {
            assert.strictEqual(dpts[0].getPeers().length, 0, 'should have removed peer from k-bucket on peer:removed');
            await util.delay(500);
            util.destroyDPTs(dpts);
          }),
        );
      } catch (err) {
        assert.fail(`An unexpected error occurred: ${err}`);
      }
    });

    test('DPT: ban node', async (h) => {
      const dpts = util.initTwoPeerDPTSetup(await freePortRange(2));

      try {
        dpts[0].events.once(
          'peer:added',
          h('peer:added', async (peer: unknown) => {
            await util.delay(400);
            dpts[0].banPeer(peer);
          }),
        );
        dpts[0].events.once(
          'peer:removed',
          h('peer:removed', async (peer: unknown) => {
            assert.strictEqual(dpts[0]['_banlist'].has(peer), true, 'ban-list should contain peer');
            assert.strictEqual(dpts[0].getPeers().length, 0, 'should have removed peer from k-bucket on peer:removed');
            await util.delay(500);
            util.destroyDPTs(dpts);
          }),
        );
      } catch (err) {
        assert.fail(`An unexpected error occurred: ${err}`);
      }
    });

    test('DPT: k-bucket ping', async (h) => {
      const dpts = util.initTwoPeerDPTSetup(await freePortRange(2));

      try {
        dpts[0].events.once(
          'peer:added',
          h('peer:added', async (peer: unknown) => {
            dpts[0]._onKBucketPing([peer], peer);
            await util.delay(400);
            assert.strictEqual(dpts[0].getPeers().length, 1, 'should still have one peer in k-bucket');
            await util.delay(400);
            util.destroyDPTs(dpts);
          }),
        );
      } catch (err) {
        assert.fail(`An unexpected error occurred: ${err}`);
      }
    });

    test('DPT: add non-available node', async (h) => {
      const dpts = util.getTestDPTs(1, await freePortRange(1));
      const peer = { address: util.localhost, udpPort: await freePort() };

      await dpts[0].addPeer(peer).catch(
        h('addPeer rejection', async (e: Error) => {
          assert.strictEqual(e.message, `Timeout error: ping 127.0.0.1:${peer.udpPort}`, 'should throw Timeout error');
          await util.delay(400);
          util.destroyDPTs(dpts);
        }),
      );
    });

    test(
      'DPT: simulate bootstrap',
      async () => {
        const numDPTs = 6;
        const basePort = await freePortRange(numDPTs);
        const dpts = util.getTestDPTs(numDPTs, basePort);
        for (const dpt of dpts) {
          dpt['_shouldFindNeighbours'] = true; // turn on findNeighbors for bootstrap test
        }
        await util.delay(250);
        await dpts[0].addPeer({ address: util.localhost, udpPort: basePort + 1 });
        await util.delay(100);

        for (const dpt of dpts.slice(2)) {
          await dpt.bootstrap({ address: util.localhost, udpPort: basePort + 1 });
        }

        for (const dpt of dpts) {
          for (let i = 0; i < 10; i++) {
            void dpt.refresh();
          }
          await util.delay(400);
        }

        await util.delay(500);

        for (const dpt of dpts) {
          assert.strictEqual(dpt.getPeers().length, numDPTs, 'Peers should be distributed to all DPTs');
        }
        await util.delay(1000);

        util.destroyDPTs(dpts);
      },
      60_000,
    );

    test('DPT: simulate acquiring peers via DNS', async (h) => {
      const dpts: SuiteDPT[] = util.getTestDPTsWithDns(1, await freePortRange(1));

      const mockDns = {
        resolve: () => {
          return [[testData.dns.enr]];
        },
      };
      dpts[0]._addPeerBatch = h('_addPeerBatch', () => {
        dpts[0].destroy();
        assert.ok(true, 'got peer from DNS');
      });
      dpts[0]['_dns'].__setNativeDNSModuleResolve(mockDns);
      await dpts[0].refresh();
    });
  });
}
