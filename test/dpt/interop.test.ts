/**
 * Our DPT and @ethereumjs/devp2p's on one loopback network: each
 * bootstraps from the other, a mixed network converges, and ethjs's RLPx
 * dials the peers our DPT announces.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { destroyAll, ETHJS, EthjsRLPx, events, hex, knows, OURS, Running, startDpt, until } from './helpers';

describe('DPT interop with @ethereumjs/devp2p', function () {
  this.timeout(30_000);
  afterEach(destroyAll);

  it('our DPT bootstraps from theirs and learns their peers', async () => {
    const theirBoot = await startDpt(ETHJS);
    const theirPeer = await startDpt(ETHJS);
    await theirBoot.dpt.addPeer(theirPeer.info);
    const ours = await startDpt(OURS);
    await ours.dpt.bootstrap(theirBoot.info);
    assert.ok(knows(ours, theirBoot));
    assert.ok(await until(() => knows(ours, theirPeer), 8000), 'ours did not learn the ethjs bootnode\'s peer');
  });

  it('their DPT bootstraps from ours and learns our peers', async () => {
    const ourBoot = await startDpt(OURS);
    const ourPeer = await startDpt(OURS);
    await ourBoot.dpt.addPeer(ourPeer.info);
    const theirs = await startDpt(ETHJS);
    await theirs.dpt.bootstrap(ourBoot.info);
    assert.ok(knows(theirs, ourBoot));
    // ethjs asks right after its ping, before the bond is complete: our
    // bootnode holds that findnode until the bond completes, then answers.
    assert.ok(await until(() => knows(theirs, ourPeer), 8000), 'ethjs did not learn our bootnode\'s peer');
  });

  it('a mixed network of 3 + 3 nodes converges: every node knows the other five', async () => {
    const opts = { refreshInterval: 2000 };
    const nodes: Running[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await startDpt(OURS, opts), await startDpt(ETHJS, opts));
    const [boot1, boot2] = nodes;
    for (const n of nodes.slice(1)) await n.dpt.bootstrap(boot1.info);
    await boot1.dpt.bootstrap(boot2.info);
    const complete = () => nodes.every((a) => nodes.every((b) => a === b || knows(a, b)));
    const ok = await until(complete, 20_000);
    const missing = nodes.map((a, i) => `${i}:${nodes.filter((b) => a !== b && !knows(a, b)).length}`).join(' ');
    assert.ok(ok, `not converged; nodes missing peers (index:count): ${missing}`);
  });

  it("ethjs's RLPx dials the peers our DPT announces with peer:new", async () => {
    const ours = await startDpt(OURS);
    const other = await startDpt(OURS);
    // The announced peer's TCP port: a listener that records connections.
    let dialed = 0;
    const tcp = net.createServer((socket) => {
      dialed++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(other.tcpPort, '127.0.0.1', resolve));
    const rlpx = new EthjsRLPx(Buffer.from(ours.key), { dpt: ours.dpt, maxPeers: 5, capabilities: [], common: { customCrypto: {} } });
    rlpx.events.on('error', () => undefined);
    try {
      await ours.dpt.addPeer(other.info);
      assert.ok(events(ours, 'peer:new').length >= 1);
      assert.ok(await until(() => dialed > 0, 5000), 'RLPx did not dial the announced peer');
    } finally {
      rlpx.destroy();
      tcp.close();
    }
  });

  it('announces a peer once, with the same object in peer:new and peer:added', async () => {
    const ours = await startDpt(OURS);
    const other = await startDpt(ETHJS);
    await ours.dpt.addPeer(other.info);
    const seen = ours.log.filter(([n]) => n === 'peer:new' || n === 'peer:added');
    assert.equal(seen.length, 2);
    assert.equal(seen[0][1], seen[1][1]);
    assert.equal(hex((seen[0][1] as { id: Uint8Array }).id), hex(other.dpt.id));
  });
});
