/**
 * One suite, two implementations: the behaviour applications rely on,
 * run against @ethereumjs/devp2p's DPT and ours. Every node is on
 * 127.0.0.1; waits are bounded.
 */
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { destroy, destroyAll, events, freePort, hex, IMPLS, knows, startDpt, until } from './helpers';

for (const impl of IMPLS) {
  describe(`DPT behaviour (${impl.name})`, function () {
    this.timeout(15_000);
    afterEach(destroyAll);

    it('emits listening after bind, then close after destroy', async () => {
      const a = await startDpt(impl);
      const closed = new Promise<void>((resolve) => a.dpt.events.once('close', resolve));
      destroy(a);
      await closed;
      assert.deepEqual(events(a, 'listening', 'close'), ['listening', 'close']);
    });

    it('throws "Server already destroyed" when destroyed twice', async () => {
      const a = await startDpt(impl);
      destroy(a);
      assert.throws(() => a.dpt.destroy(), /Server already destroyed/);
    });

    it('addPeer pings the peer and resolves with its PeerInfo; peer:new comes before peer:added', async () => {
      const a = await startDpt(impl);
      const b = await startDpt(impl);
      const peer = await a.dpt.addPeer(b.info);
      assert.equal(hex(peer.id), hex(b.dpt.id));
      assert.equal(peer.address, '127.0.0.1');
      assert.equal(peer.udpPort, b.port);
      assert.equal(peer.tcpPort, b.tcpPort);
      assert.deepEqual(events(a, 'peer:new', 'peer:added'), ['peer:new', 'peer:added']);
      const added = a.log.find(([n]) => n === 'peer:added')![1] as { id: Uint8Array };
      assert.equal(hex(added.id), hex(b.dpt.id));
      assert.equal(a.dpt.numPeers(), 1);
      assert.equal(hex(a.dpt.getPeers()[0].id), hex(b.dpt.id));
    });

    it('getPeer finds a peer by id bytes, by hex id and by address:tcpPort', async () => {
      const a = await startDpt(impl);
      const b = await startDpt(impl);
      await a.dpt.addPeer(b.info);
      for (const key of [b.dpt.id!, hex(b.dpt.id), `127.0.0.1:${b.tcpPort}`, { id: b.dpt.id }]) {
        assert.equal(hex(a.dpt.getPeer(key)?.id), hex(b.dpt.id), `by ${typeof key === 'string' ? key : 'object'}`);
      }
      assert.equal(a.dpt.getPeer('127.0.0.1:1'), null);
    });

    it('addPeer of a known peer resolves without a new peer:added', async () => {
      const a = await startDpt(impl);
      const b = await startDpt(impl);
      await a.dpt.addPeer(b.info);
      const again = await a.dpt.addPeer({ id: b.dpt.id, ...b.info });
      assert.equal(hex(again.id), hex(b.dpt.id));
      assert.equal(events(a, 'peer:added').length, 1);
    });

    it('addPeer to a silent endpoint rejects with "Timeout error: ping" and then bans it', async () => {
      const a = await startDpt(impl, { timeout: 300 });
      // A socket that receives and never answers.
      const silent = dgram.createSocket('udp4');
      const port = await freePort();
      await new Promise<void>((resolve) => silent.bind(port, '127.0.0.1', resolve));
      try {
        const peer = { address: '127.0.0.1', udpPort: port, tcpPort: 30303 };
        await assert.rejects(a.dpt.addPeer(peer), (err: Error) => err.message === `Timeout error: ping 127.0.0.1:${port}`);
        await assert.rejects(a.dpt.addPeer(peer), /Peer is banned/);
      } finally {
        silent.close();
      }
    });

    it('banPeer removes the peer (peer:removed) and addPeer then rejects with "Peer is banned"', async () => {
      const a = await startDpt(impl);
      const b = await startDpt(impl);
      const peer = await a.dpt.addPeer(b.info);
      a.dpt.banPeer(peer, 60_000);
      assert.equal(a.dpt.getPeer(b.dpt.id!), null);
      assert.deepEqual(events(a, 'peer:added', 'peer:removed'), ['peer:added', 'peer:removed']);
      await assert.rejects(a.dpt.addPeer(b.info), /Peer is banned/);
    });

    it('removePeer emits peer:removed with the same peer and forgets it', async () => {
      const a = await startDpt(impl);
      const b = await startDpt(impl);
      await a.dpt.addPeer(b.info);
      const added = a.log.find(([n]) => n === 'peer:added')![1];
      a.dpt.removePeer(b.dpt.id!);
      const removed = a.log.find(([n]) => n === 'peer:removed')![1];
      assert.equal(removed, added);
      assert.equal(a.dpt.numPeers(), 0);
      assert.equal(a.dpt.getPeer(hex(b.dpt.id)), null);
    });

    it('getClosestPeers returns the peers it knows, at most 16', async () => {
      const a = await startDpt(impl);
      const others = await Promise.all([0, 1, 2].map(() => startDpt(impl)));
      for (const o of others) await a.dpt.addPeer(o.info);
      const closest = a.dpt.getClosestPeers(others[0].dpt.id!);
      assert.deepEqual(closest.map((p) => hex(p.id)).sort(), others.map((o) => hex(o.dpt.id)).sort());
      assert.ok(closest.length <= 16);
    });

    it('with onlyConfirmed, getClosestPeers returns confirmed peers only', async () => {
      const a = await startDpt(impl, { onlyConfirmed: true });
      const [b, c] = await Promise.all([startDpt(impl), startDpt(impl)]);
      await a.dpt.addPeer(b.info);
      await a.dpt.addPeer(c.info);
      a.dpt.confirmPeer(hex(b.dpt.id));
      assert.deepEqual(a.dpt.getClosestPeers(c.dpt.id!).map((p) => hex(p.id)), [hex(b.dpt.id)]);
    });

    it('bootstrap adds the bootnode and learns the nodes it knows', async () => {
      const boot = await startDpt(impl);
      const b = await startDpt(impl);
      await boot.dpt.addPeer(b.info);
      const c = await startDpt(impl);
      await c.dpt.bootstrap(boot.info);
      assert.ok(knows(c, boot), 'bootnode not in the table');
      assert.ok(await until(() => knows(c, b), 8000), 'did not learn the bootnode\'s peer');
      assert.equal(events(c, 'error').length, 0, String(c.log.find(([n]) => n === 'error')?.[1]));
    });

    it('bootstrap from an unreachable node emits an error instead of rejecting', async () => {
      const a = await startDpt(impl, { timeout: 300 });
      const port = await freePort();
      await a.dpt.bootstrap({ address: '127.0.0.1', udpPort: port, tcpPort: 1 });
      assert.equal(events(a, 'error').length, 1);
      assert.match((a.log.find(([n]) => n === 'error')![1] as Error).message, /^Timeout error: ping/);
    });
  });
}
