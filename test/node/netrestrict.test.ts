import { strict as assert } from 'node:assert';
import { Discovery, DiscoveryOptions } from '../../src/node/discovery';
import { formatEnode } from '../../src/node/enode';
import { Table, TableNode } from '../../src/table/table';
import { FakeClock } from '../../src/transport/clock';
import { Netlist } from '../../src/transport/netutil';
import type { PongInfo } from '../../src/transport/transport';
import { until } from '../transport/helpers';
import { loopbackNodes } from './helpers';

describe('netrestrict: the table', () => {
  const id = (b: number) => Buffer.alloc(64, b);
  const pinged: TableNode[] = [];
  const net = {
    ping: async (n: TableNode): Promise<PongInfo> => {
      pinged.push(n);
      return { to: { ip: Buffer.from([127, 0, 0, 1]), udpPort: 1, tcpPort: 0 }, rttMs: 1 };
    },
    requestENR: async () => Buffer.alloc(0),
  };

  it('never adds, verifies or pings nodes outside the list (IPv4 and IPv6)', async () => {
    const t = new Table({ selfId: id(0), net, clock: new FakeClock(), netrestrict: Netlist.parse('10.0.0.0/8, fd00::/8') });
    try {
      assert.equal(t.addVerified({ id: id(1), ip: Buffer.from([11, 0, 0, 1]), udpPort: 30303, tcpPort: 0 }), false);
      assert.equal(t.addVerified({ id: id(2), ip: Buffer.from('fe800000000000000000000000000001', 'hex'), udpPort: 30303, tcpPort: 0 }), false);
      t.addFound({ id: id(3), ip: Buffer.from([192, 168, 0, 1]), udpPort: 30303, tcpPort: 0 });
      assert.equal(t.size, 0);
      assert.equal(t.stats.netrestricted, 3);
      assert.equal(pinged.length, 0, 'no verification ping to a node outside the list');

      assert.equal(t.addVerified({ id: id(4), ip: Buffer.from([10, 1, 2, 3]), udpPort: 30303, tcpPort: 0 }), true);
      assert.equal(t.addVerified({ id: id(5), ip: Buffer.from('fd000000000000000000000000000001', 'hex'), udpPort: 30303, tcpPort: 0 }), true);
      t.addFound({ id: id(6), ip: Buffer.from([10, 9, 9, 9]), udpPort: 30303, tcpPort: 0 });
      await new Promise((r) => setImmediate(r));
      assert.equal(pinged.length, 1);
      assert.equal(t.size, 3);
    } finally {
      t.close();
    }
  });
});

describe('netrestrict on loopback (127.0.0.1 admitted, 127.0.0.2 not)', () => {
  const startNode = loopbackNodes({ refreshOnStart: false, transport: { respTimeoutMs: 200 } });
  const start = (address: string, opts: Partial<DiscoveryOptions> = {}) => startNode({ address, ...opts });
  const enodeOf = (d: Discovery) => {
    const a = d.transport.socket.address();
    return formatEnode(d.nodeId, Buffer.from(a.address.split('.').map(Number)), 0, a.port);
  };
  it('drops (and counts) packets from outside, and never tables, stores or relays such a node', async () => {
    const netrestrict = Netlist.parse('127.0.0.1/32');
    // X (unrestricted, 127.0.0.1) knows Z (127.0.0.2); A and B are restricted to 127.0.0.1.
    const x = await start('127.0.0.1');
    await x.refresh();
    const z = await start('127.0.0.2', { bootnodes: [enodeOf(x)] });
    await z.lookup(z.nodeId);
    assert.ok(await until(() => x.table.getNode(z.nodeId) !== undefined, 3000), 'X should know Z (sanity check)');

    const a = await start('127.0.0.1', { netrestrict, bootnodes: [enodeOf(x), enodeOf(z)] });
    const b = await start('127.0.0.1', { netrestrict, bootnodes: [enodeOf(x)] });
    // One lookup each instead of a full refresh (four lookups): enough, and quick.
    await a.lookup(a.nodeId);
    await b.lookup(b.nodeId);
    await a.lookup(b.nodeId);
    // Z reaches out to A and B itself: its pings must be dropped before decoding.
    await Promise.allSettled([a, b].map((n) => z.transport.ping({ id: n.nodeId, ip: '127.0.0.1', udpPort: n.transport.socket.address().port })));
    await z.lookup(a.nodeId).catch(() => undefined);
    await a.lookup(z.nodeId);
    await b.lookup(z.nodeId);
    assert.ok(await until(() => a.table.getNode(b.nodeId) !== undefined && b.table.getNode(a.nodeId) !== undefined, 3000), 'A and B should find each other');

    for (const n of [a, b]) {
      assert.ok(n.transport.stats().drops.netrestrict > 0, 'packets from 127.0.0.2 are counted as netrestrict drops');
      assert.equal(n.table.getNode(z.nodeId), undefined, 'Z must not enter the table');
      assert.equal(n.db.getNode(z.nodeId), undefined, 'Z must not be stored');
      assert.ok(n.table.nodes().every((t) => t.ip[3] === 1));
      // Neighbors from A, B and X as received by a restricted node never list Z.
      for (const peer of [x, a, b].filter((p) => p !== n)) {
        const found = await n.transport.findnode({ id: peer.nodeId, ip: '127.0.0.1', udpPort: peer.transport.socket.address().port }, z.nodeId);
        assert.ok(found.every((f) => !f.id.equals(z.nodeId)), 'neighbors must not list Z');
      }
      assert.ok((await n.lookup(z.nodeId)).every((f) => !f.id.equals(z.nodeId)), 'lookups must not return Z');
    }
    // And what A answers to an unrestricted asker (X) never lists Z either.
    const fromA = await x.transport.findnode({ id: a.nodeId, ip: '127.0.0.1', udpPort: a.transport.socket.address().port }, z.nodeId);
    assert.ok(fromA.length > 0 && fromA.every((f) => !f.id.equals(z.nodeId)));
  });
});
