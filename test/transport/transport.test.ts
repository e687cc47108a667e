import { strict as assert } from 'node:assert';
import {
  BindError,
  ClosedError,
  generatePrivateKey,
  keccak256,
  listen,
  nodeIdFromPrivateKey,
  PacketType,
  QueueFullError,
  recover,
  TimeoutError,
} from '../../src';
import { readItem, RlpItem } from '../../src/wire/rlp';
import type { NodeBytes } from '../../src/wire/encode';
import { MAX_PACKET_SIZE } from '../../src/wire/types';
import { bindNative } from '../../src/transport/native-socket';
import { dgramFactory, farFuture, pastExpiration, RawPeer, SocketFactory, startNode, until } from './helpers';

/** n fake nodes on loopback (relayable to loopback requesters), ids from fixed keys. */
function fakeNodes(n: number, ipv6 = false): NodeBytes[] {
  return Array.from({ length: n }, (_, i) => ({
    id: nodeIdFromPrivateKey(Buffer.alloc(32, i + 1)),
    ip: ipv6 ? Buffer.from('00000000000000000000000000000001', 'hex') : Buffer.from([127, 0, 1, i + 1]),
    udpPort: 30000 + i,
    tcpPort: 30000 + i,
  }));
}

/** Splits an RLP list into its items' raw encodings. */
function rlpItems(buf: Buffer): Buffer[] {
  const it: RlpItem = { isList: false, start: 0, end: 0 };
  assert.ok(readItem(buf, 0, buf.length, it) && it.isList);
  const out: Buffer[] = [];
  for (let p = it.start; p < it.end; ) {
    const sub: RlpItem = { isList: false, start: 0, end: 0 };
    assert.ok(readItem(buf, p, it.end, sub));
    out.push(buf.subarray(sub.start, sub.end));
    p = sub.end;
  }
  return out;
}

// The native socket in single-thread mode and with a crypto thread pool
// (more threads than cores, so the pool is exercised on any machine): the
// same behaviour is asserted for each.
const factories: Array<[string, SocketFactory]> = [
  ['dgram', dgramFactory],
  ['native, 1 thread', (address) => bindNative({ address, threads: 1 })],
  ['native, 4 threads', (address) => bindNative({ address, threads: 4 })],
];

for (const [kind, factory] of factories) {
  describe(`transport over ${kind}`, () => {
    const open: Array<{ close(): Promise<void> }> = [];
    const node = async (...args: Parameters<typeof startNode>) => {
      const n = await startNode(args[0], args[1], args[2] ?? factory);
      open.push(n.t);
      return n;
    };
    const raw = async (address?: string, key?: Buffer) => {
      const p = await RawPeer.bind(address, key);
      open.push(p);
      return p;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((x) => x.close()));
    });

    it('answers a ping with a pong to the datagram source: token = ping hash, to = source, our enr-seq', async () => {
      const b = await node('127.0.0.1', { localRecord: { seq: 42n, record: Buffer.from([0xc0]) } });
      const p = await raw();
      const hash = p.send(
        PacketType.Ping,
        { from: { ip: '10.9.9.9', udpPort: 1, tcpPort: 7777 }, to: { ip: '127.0.0.1', udpPort: b.node.udpPort }, expiration: farFuture },
        b.node,
      );
      await p.waitFor(() => p.ofType(PacketType.Pong).length > 0);
      const pong = p.ofType(PacketType.Pong)[0];
      assert.ok(pong, 'no pong');
      assert.deepEqual(pong.replyToken, hash);
      assert.deepEqual(pong.to.ip, Buffer.from([127, 0, 0, 1]));
      assert.equal(pong.to.udpPort, p.port, 'pong.to must be the real source port, not ping.from');
      assert.equal(pong.to.tcpPort, 7777);
      assert.equal(pong.enrSeq, 42n);
      assert.deepEqual(pong.nodeId, b.t.nodeId);
    });

    it('pings back a node it holds no bond with, so both sides end up bonded', async () => {
      const a = await node();
      const b = await node();
      const inbound: Buffer[] = [];
      b.t.on('inboundNode', (n: { id: Buffer }) => inbound.push(n.id));
      const info = await a.t.ping(b.node);
      assert.deepEqual(info.to.ip, Buffer.from([127, 0, 0, 1]));
      assert.equal(info.to.udpPort, a.node.udpPort);
      assert.equal(info.enrSeq, 1n);
      assert.ok(await until(() => b.t.isBonded(a.t.nodeId, '127.0.0.1')), 'b never got a pong from a');
      assert.ok(a.t.isBonded(b.t.nodeId, '127.0.0.1'));
      assert.ok(await until(() => inbound.length === 1));
      assert.deepEqual(inbound[0], a.t.nodeId);
    });

    it('answers findnode from a bonded node over several neighbors packets, and the requester collects 16 nodes', async () => {
      const nodes = fakeNodes(16);
      const b = await node('127.0.0.1', { closest: () => nodes });
      const a = await node();
      const target = nodeIdFromPrivateKey(Buffer.alloc(32, 0x77));
      const found = await a.t.findnode(b.node, target);
      assert.equal(found.length, 16);
      assert.deepEqual(
        found.map((n) => n.id.toString('hex')).sort(),
        nodes.map((n) => Buffer.from(n.id).toString('hex')).sort(),
      );
      assert.equal(b.t.stats().packetsOut.neighbors, 2, '16 nodes take two neighbors packets of at most 12');
    });

    it('never lists the requester itself in neighbors', async () => {
      const a = await node();
      const others = fakeNodes(3);
      const b = await node('127.0.0.1', { closest: () => [...others, { id: a.t.nodeId, ip: Buffer.from([127, 0, 0, 1]), udpPort: a.node.udpPort, tcpPort: 0 }] });
      const found = await a.t.findnode(b.node, a.t.nodeId);
      assert.equal(found.length, 3);
      assert.ok(!found.some((n) => n.id.equals(a.t.nodeId)));
    });

    it('still answers 16 nodes when the requester is among the 17 closest, so the request completes without a timeout', async () => {
      const a = await node();
      const others = fakeNodes(16);
      const self = { id: a.t.nodeId, ip: Buffer.from([127, 0, 0, 1]), udpPort: a.node.udpPort, tcpPort: 0 };
      const b = await node('127.0.0.1', { closest: (_h, k) => [self, ...others].slice(0, k) });
      const found = await a.t.findnode(b.node, a.t.nodeId);
      assert.equal(found.length, 16);
      assert.equal(a.t.stats().timeouts, 0, 'the findnode waited for its deadline');
    });

    it('keeps every neighbors datagram within 1280 bytes (16 IPv6 nodes)', async () => {
      const b = await node('127.0.0.1', { closest: () => fakeNodes(16, true) });
      const p = await raw();
      // Bond the raw peer: ping b, answer b's ping-back with a pong.
      p.send(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: b.node.udpPort } }, b.node);
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      const pingBack = p.ofType(PacketType.Ping)[0];
      p.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: b.node.udpPort }, replyToken: pingBack.hash }, b.node);
      assert.ok(await until(() => b.t.isBonded(p.id, '127.0.0.1')));
      p.send(PacketType.Findnode, { target: p.id }, b.node);
      await p.waitFor(() => p.ofType(PacketType.Neighbors).reduce((s, n) => s + n.nodes.length, 0) >= 16);
      const sizes = p.received.filter((r) => r.packet?.type === PacketType.Neighbors).map((r) => r.size);
      assert.equal(sizes.length, 2);
      for (const s of sizes) assert.ok(s <= MAX_PACKET_SIZE, `datagram of ${s} bytes`);
    });

    it('gives a node without a bond nothing for findnode and counts the drop', async () => {
      const b = await node('127.0.0.1', { closest: () => fakeNodes(5) });
      const p = await raw();
      p.send(PacketType.Findnode, { target: p.id, expiration: farFuture }, b.node);
      await p.waitFor(() => false, 300);
      assert.equal(p.ofType(PacketType.Neighbors).length, 0);
      assert.equal(b.t.stats().drops.unbonded, 1);
      assert.equal(b.t.stats().packetsOut.neighbors, 0);
    });

    it('ignores findnode signed by a bonded node but sent from another IP (spoofed source)', async () => {
      const b = await node('127.0.0.1', { closest: () => fakeNodes(5) });
      const a = await node();
      await a.t.ping(b.node);
      assert.ok(await until(() => b.t.isBonded(a.t.nodeId, '127.0.0.1')));
      const spoof = await raw('127.0.0.2', a.key);
      spoof.send(PacketType.Findnode, { target: spoof.id }, b.node);
      await spoof.waitFor(() => false, 300);
      assert.equal(spoof.received.length, 0);
      assert.equal(b.t.stats().drops.unbonded, 1);
    });

    it('answers ENRRequest with its record: reply token = request hash, record signed by its key', async () => {
      const b = await node();
      const a = await node();
      const record = await a.t.requestENR(b.node);
      // [signature, seq, k, v, ...]: verify the v4 signature over [seq, k, v, ...].
      const sig = rlpItems(record)[0];
      assert.equal(sig.length, 64);
      const hash = keccak256(rlpListOf(record));
      const ids = [0, 1].map((recid) => {
        try {
          return recover(sig, recid, hash);
        } catch {
          return undefined;
        }
      });
      assert.ok(ids.some((id) => id?.equals(b.t.nodeId)), 'record not signed by the responder');
    });

    it('drops expired packets without answering them', async () => {
      const b = await node();
      const p = await raw();
      p.send(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: 1 }, expiration: pastExpiration }, b.node);
      await p.waitFor(() => false, 250);
      assert.equal(p.received.length, 0);
      assert.equal(b.t.stats().drops.expired, 1);
    });

    it('ignores a pong whose reply token does not match the ping (unsolicited)', async () => {
      const a = await node('127.0.0.1', { respTimeoutMs: 200 });
      const p = await raw();
      const pinging = a.t.ping({ id: p.id, ip: '127.0.0.1', udpPort: p.port });
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      const token = Buffer.from(p.ofType(PacketType.Ping)[0].hash);
      token[31] ^= 1;
      p.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: a.node.udpPort }, replyToken: token }, a.node);
      await assert.rejects(pinging, TimeoutError);
      assert.equal(a.t.stats().drops.unsolicited, 1);
      assert.ok(!a.t.isBonded(p.id, '127.0.0.1'));
    });

    it('ignores a pong with the right token from the right key but another IP (spoofed source)', async () => {
      const a = await node('127.0.0.1', { respTimeoutMs: 200 });
      const p = await raw('127.0.0.1');
      const spoof = await raw('127.0.0.2', p.key);
      const pinging = a.t.ping({ id: p.id, ip: '127.0.0.1', udpPort: p.port });
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      spoof.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: a.node.udpPort }, replyToken: p.ofType(PacketType.Ping)[0].hash }, a.node);
      await assert.rejects(pinging, TimeoutError);
      assert.equal(a.t.stats().drops.unsolicited, 1);
    });

    it('accepts the right pong: same node, same IP, matching token', async () => {
      const a = await node();
      const p = await raw();
      const pinging = a.t.ping({ id: p.id, ip: '127.0.0.1', udpPort: p.port });
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      p.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: a.node.udpPort }, replyToken: p.ofType(PacketType.Ping)[0].hash, enrSeq: 9n }, a.node);
      const info = await pinging;
      assert.equal(info.enrSeq, 9n);
      assert.ok(a.t.isBonded(p.id, '127.0.0.1'));
    });

    it('pingAddress: pings an endpoint of unknown id and resolves with the id that signed the pong', async () => {
      const a = await node();
      const p = await raw();
      const pinging = a.t.pingAddress('127.0.0.1', p.port);
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      p.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: a.node.udpPort }, replyToken: p.ofType(PacketType.Ping)[0].hash }, a.node);
      const info = await pinging;
      assert.ok(info.id.equals(p.id));
      assert.ok(a.t.isBonded(p.id, '127.0.0.1'));
    });

    it('pingAddress ignores a pong with the right token from another IP', async () => {
      const a = await node('127.0.0.1', { respTimeoutMs: 200 });
      const p = await raw('127.0.0.1');
      const other = await raw('127.0.0.2');
      const pinging = a.t.pingAddress('127.0.0.1', p.port);
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      other.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: a.node.udpPort }, replyToken: p.ofType(PacketType.Ping)[0].hash }, a.node);
      await assert.rejects(pinging, TimeoutError);
      assert.equal(a.t.stats().drops.unsolicited, 1);
    });

    it('holds a findnode sent during its bond and answers once the ping-back is answered', async () => {
      const b = await node('127.0.0.1', { closest: () => fakeNodes(5) });
      const p = await raw();
      // ping, then at once findnode (ethjs's bootstrap): no bond yet.
      p.send(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: b.node.udpPort } }, b.node);
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      p.send(PacketType.Findnode, { target: p.id }, b.node);
      await p.waitFor(() => false, 100);
      assert.equal(p.ofType(PacketType.Neighbors).length, 0, 'answered before the bond');
      p.send(PacketType.Pong, { to: { ip: '127.0.0.1', udpPort: b.node.udpPort }, replyToken: p.ofType(PacketType.Ping)[0].hash }, b.node);
      await p.waitFor(() => p.ofType(PacketType.Neighbors).length > 0);
      assert.equal(p.ofType(PacketType.Neighbors)[0].nodes.length, 5);
      assert.equal(b.t.stats().deferredFindnodes, 1);
      assert.equal(b.t.stats().drops.unbonded, 0);
    });

    it('drops a held findnode when the ping-back is never answered', async () => {
      const b = await node('127.0.0.1', { closest: () => fakeNodes(5), respTimeoutMs: 150 });
      const p = await raw();
      p.send(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: b.node.udpPort } }, b.node);
      await p.waitFor(() => p.ofType(PacketType.Ping).length > 0);
      p.send(PacketType.Findnode, { target: p.id }, b.node);
      assert.ok(await until(() => b.t.stats().drops.unbonded === 1, 1000));
      assert.equal(p.ofType(PacketType.Neighbors).length, 0);
      assert.equal(b.t.stats().packetsOut.neighbors, 0);
    });

    it('drops neighbors nobody asked for', async () => {
      const a = await node();
      const p = await raw();
      p.send(PacketType.Neighbors, { nodes: [] }, a.node);
      assert.ok(await until(() => a.t.stats().drops.unsolicited === 1, 500));
    });

    it('rejects with TimeoutError when nobody answers', async () => {
      const a = await node('127.0.0.1', { respTimeoutMs: 100 });
      const p = await raw(); // receives, never answers
      await assert.rejects(a.t.ping({ id: p.id, ip: '127.0.0.1', udpPort: p.port }), (err: unknown) => err instanceof TimeoutError && (err as TimeoutError).code === 'TIMEOUT');
    });

    it('fails a request at once with QueueFullError when the pending queue is at its bound', async () => {
      const a = await node('127.0.0.1', { maxPending: 2, respTimeoutMs: 300 });
      const p = await raw();
      const target = { id: p.id, ip: '127.0.0.1', udpPort: p.port };
      const first = a.t.ping(target);
      const second = a.t.ping(target);
      await assert.rejects(a.t.ping(target), QueueFullError);
      await assert.rejects(first, TimeoutError);
      await assert.rejects(second, TimeoutError);
    });

    it('close() rejects requests in flight with ClosedError and resolves once the socket is closed', async () => {
      const a = await node('127.0.0.1', { respTimeoutMs: 5000 });
      const p = await raw();
      const inflight = a.t.ping({ id: p.id, ip: '127.0.0.1', udpPort: p.port });
      const closed = a.t.close();
      await assert.rejects(inflight, ClosedError);
      await closed;
      assert.equal(a.t.stats().pending, 0);
      await assert.rejects(a.t.ping({ id: p.id, ip: '127.0.0.1', udpPort: p.port }), ClosedError);
    });

    it('counts garbage datagrams as drops by reason and keeps serving', async () => {
      const b = await node();
      const p = await raw();
      p.sendRaw(Buffer.alloc(10), b.node);
      p.sendRaw(Buffer.alloc(200, 7), b.node);
      assert.ok(await until(() => b.t.stats().drops.too_small === 1 && b.t.stats().drops.bad_hash === 1, 500));
      const a = await node();
      await a.t.ping(b.node);
    });

    it('bonds and answers over IPv6 loopback (::1)', async () => {
      const b = await node('::1', { closest: () => fakeNodes(4, true) });
      const a = await node('::1');
      const info = await a.t.ping(b.node);
      assert.deepEqual(info.to.ip, Buffer.from('00000000000000000000000000000001', 'hex'));
      const found = await a.t.findnode(b.node, a.t.nodeId);
      assert.equal(found.length, 4);
      const rec = await a.t.requestENR(b.node);
      assert.ok(rec.length > 0);
    });
  });
}

/** The signed content of a record: the RLP list of its items after the signature. */
function rlpListOf(record: Buffer): Buffer {
  const items = rlpItems(record);
  const it: RlpItem = { isList: false, start: 0, end: 0 };
  readItem(record, 0, record.length, it);
  // Skip the signature item (0xb8 0x40 + 64 bytes) to get the content items' raw bytes.
  const contentStart = items[0].byteOffset - record.byteOffset + items[0].length;
  const payload = record.subarray(contentStart, it.end);
  const header = payload.length < 56 ? Buffer.from([0xc0 + payload.length]) : Buffer.from([0xf8, payload.length]);
  return Buffer.concat([header, payload]);
}

describe('listen()', () => {
  it('binds the native socket by default and serves pings', async () => {
    const a = await listen({ privateKey: generatePrivateKey(), address: '127.0.0.1' });
    const b = await listen({ privateKey: generatePrivateKey(), address: '127.0.0.1', socketKind: 'dgram' });
    try {
      assert.equal(a.socket.kind, 'native');
      assert.equal(b.socket.kind, 'dgram');
      const info = await a.ping({ id: b.nodeId, ip: '127.0.0.1', udpPort: b.socket.address().port });
      assert.equal(info.to.udpPort, a.socket.address().port);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('rejects with BindError (BIND_FAILED) when the port is taken', async () => {
    const a = await listen({ privateKey: generatePrivateKey(), address: '127.0.0.1' });
    try {
      await assert.rejects(
        listen({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: a.socket.address().port }),
        (err: unknown) => err instanceof BindError && (err as BindError).code === 'BIND_FAILED' && /EADDRINUSE/.test((err as Error).message),
      );
    } finally {
      await a.close();
    }
  });
});

describe('transport events', () => {
  it('emits each inbound packet type with copies of its bytes and the real source', async () => {
    // Native sockets: their receive slab is reused, so a view would change under the listener.
    const native = (address: string) => bindNative({ address });
    const b = await startNode('127.0.0.1', { closest: () => [] }, native);
    const a = await startNode('127.0.0.1', {}, native);
    try {
      const seen: string[] = [];
      let pingEvent: { packet: { nodeId: Buffer; hash: Buffer }; from: { address: string; port: number } } | undefined;
      b.t.on('ping', (e) => {
        seen.push('ping');
        pingEvent ??= e; // keep the first one; later traffic reuses the receive slab
      });
      b.t.on('findnode', () => seen.push('findnode'));
      b.t.on('enrRequest', () => seen.push('enrRequest'));
      a.t.on('pong', () => seen.push('pong'));
      a.t.on('neighbors', () => seen.push('neighbors'));
      a.t.on('enrResponse', () => seen.push('enrResponse'));
      await a.t.findnode(b.node, a.t.nodeId);
      await a.t.requestENR(b.node);
      for (const name of ['ping', 'pong', 'findnode', 'neighbors', 'enrRequest', 'enrResponse']) {
        assert.ok(seen.includes(name), `no ${name} event (saw ${seen.join(',')})`);
      }
      assert.ok(pingEvent);
      assert.deepEqual(pingEvent.packet.nodeId, a.t.nodeId);
      assert.equal(pingEvent.from.address, '127.0.0.1');
      assert.equal(pingEvent.from.port, a.node.udpPort);
      // A copy: it survives the receive slab being reused by later datagrams.
      const first = pingEvent;
      const hash = Buffer.from(first.packet.hash);
      const id = Buffer.from(first.packet.nodeId);
      for (let i = 0; i < 3; i++) await a.t.ping(b.node);
      assert.equal(pingEvent, first);
      assert.deepEqual(first.packet.hash, hash);
      assert.deepEqual(first.packet.nodeId, id);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });
});
