/**
 * Port of @ethereumjs/devp2p 10.0.0 test/dpt.spec.ts, against both
 * implementations: the DPT's `_server` is replaced by a stub whose ping
 * resolves at once, then bootstrap/addPeer/refresh/getClosestPeers are
 * checked (vi.fn / vi.spyOn replaced by the harness's resolvingFn / spyOn).
 */
import * as assert from 'node:assert/strict';
import { IMPLS, resolvingFn, spyOn, suiteHooks, testFor } from './harness';

const hexToBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.replace(/^0x/, ''), 'hex'));

interface PeerInfo {
  id?: Uint8Array;
  address?: string;
  udpPort?: number | null;
  tcpPort?: number | null;
}

for (const impl of IMPLS) {
  const { name, DPT } = impl;
  const test = testFor(impl);
  describe(`ethjs suite: DPT (${name})`, () => {
    suiteHooks();

    const privateKey1 = hexToBytes('0x012e930448c53e0b73edbbbc433e8a741e978cda79be2be039905f538d6247c2');

    const peers: PeerInfo[] = [];

    for (let i = 1; i <= 5; i++) {
      const id = new Uint8Array([i]);
      const address = '127.0.0.1';
      const udpPort = 5000 + i;
      const peer: PeerInfo = {
        id,
        address,
        udpPort,
      };
      peers.push(peer);
    }

    class Server {
      ping() {}
      findneighbours() {}
      destroy() {}
    }

    test('should initialize and add peers', async () => {
      const dpt = new DPT(privateKey1, {});
      dpt['_server'] = new Server();
      assert.strictEqual(dpt['_dnsAddr'], '8.8.8.8', 'should initialize with default values');

      dpt['_server'].ping = resolvingFn(peers[0]);
      await dpt.bootstrap(peers[0]);
      assert.strictEqual(dpt.numPeers(), 1, 'should add peer on bootstrap()');

      // Attention! Not all peers are called by default in refresh()
      // (take into account on test design)
      const spy = spyOn(dpt['_server'], 'findneighbours');
      await dpt.refresh();
      assert.strictEqual(spy.calls.length, 1);

      dpt['_server'].ping = resolvingFn(peers[1]);
      await dpt.addPeer(peers[1]);
      assert.strictEqual(dpt.numPeers(), 2, 'should add another peer on addPeer()');

      assert.strictEqual(dpt.getClosestPeers(peers[0].id!).length, 2, 'should return all peers on getClosestPeers()');

      dpt.destroy();
    });

    test('should only call to confirmed peers on activated flag', async () => {
      const dpt = new DPT(privateKey1, { onlyConfirmed: true });
      dpt['_server'] = new Server();

      dpt['_server'].ping = resolvingFn(peers[0]);
      await dpt.addPeer(peers[0]);

      const spy = spyOn(dpt['_server'], 'findneighbours');
      await dpt.refresh();
      assert.strictEqual(spy.calls.length, 1, 'call findneighbours on unconfirmed if no confirmed peers yet');

      dpt['_refreshIntervalSelectionCounter'] = 0;
      dpt.confirmPeer('01');
      await dpt.refresh();
      assert.strictEqual(spy.calls.length, 2, 'call findneighbours on confirmed');

      dpt['_server'].ping = resolvingFn(peers[1]);
      await dpt.addPeer(peers[1]);
      assert.strictEqual(dpt.getClosestPeers(peers[0].id!).length, 1, 'should not return unconfirmed on getClosestPeers()');

      dpt.confirmPeer('02');
      assert.strictEqual(dpt.getClosestPeers(peers[0].id!).length, 2, 'should return confirmed on getClosestPeers()');

      dpt.removePeer(peers[1]);
      assert.strictEqual(dpt.getClosestPeers(peers[0].id!).length, 1, 'should work after peers being removed');

      dpt.destroy();
    });
  });
}
