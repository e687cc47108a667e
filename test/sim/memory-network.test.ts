import { strict as assert } from 'node:assert';
import { performance } from 'node:perf_hooks';
import { generatePrivateKey, TimeoutError } from '../../src';
import { MemoryNetwork, MemoryPacketSocket } from '../../src/sim/memory-network';
import { Transport } from '../../src/transport/transport';
import type { NodeBytes } from '../../src/wire/encode';

interface Got {
  data: string;
  from: string;
}

/** Binds a socket that records what it receives (copies: the views die with the call). */
function recorder(net: MemoryNetwork, ip: string, port = 30303): { s: MemoryPacketSocket; got: Got[] } {
  const s = net.bind(ip, port);
  const got: Got[] = [];
  s.start((buf, off, len, from) => {
    got.push({ data: Buffer.from(buf.subarray(off, off + len)).toString(), from: `${Array.from(from.ip).join('.')}:${from.port}` });
  });
  return { s, got };
}

function sendText(s: MemoryPacketSocket, text: string, ip: number[], port = 30303): boolean {
  let done = false;
  const b = Buffer.from(text);
  s.send(b, 0, b.length, Uint8Array.from(ip), port, (err) => {
    assert.equal(err, undefined);
    done = true;
  });
  return done;
}

describe('MemoryNetwork', () => {
  it('delivers after send returns, in order, from the sender address, and calls done at once', async () => {
    const net = new MemoryNetwork();
    const a = recorder(net, '10.0.0.1');
    const b = recorder(net, '10.0.0.2', 4000);
    assert.equal(sendText(a.s, 'one', [10, 0, 0, 2], 4000), true, 'done ran inside send');
    assert.equal(sendText(a.s, 'two', [10, 0, 0, 2], 4000), true);
    assert.equal(b.got.length, 0, 'nothing delivered inside send');
    await net.drain();
    assert.deepEqual(b.got, [
      { data: 'one', from: '10.0.0.1:30303' },
      { data: 'two', from: '10.0.0.1:30303' },
    ]);
    assert.deepEqual({ ...net.stats }, { datagrams: 2, bytes: 6, dropped: 0, delivered: 2, handlerErrors: 0 });
    await a.s.close();
    await b.s.close();
  });

  it('copies on send: the sender may reuse its buffer as soon as done runs', async () => {
    const net = new MemoryNetwork();
    const a = recorder(net, '10.0.0.1');
    const b = recorder(net, '10.0.0.2');
    const buf = Buffer.from('xxhelloxx');
    a.s.send(buf, 2, 5, Uint8Array.from([10, 0, 0, 2]), 30303, () => buf.fill(0));
    await net.drain();
    assert.deepEqual(b.got.map((g) => g.data), ['hello']);
    await a.s.close();
    await b.s.close();
  });

  it('drops datagrams to addresses nobody is bound to, and to closed sockets', async () => {
    const net = new MemoryNetwork();
    const a = recorder(net, '10.0.0.1');
    const b = recorder(net, '10.0.0.2');
    sendText(a.s, 'nobody', [10, 0, 0, 3]);
    sendText(a.s, 'wrong port', [10, 0, 0, 2], 30304);
    sendText(a.s, 'closed before delivery', [10, 0, 0, 2]);
    await b.s.close();
    await net.drain();
    assert.equal(b.got.length, 0);
    assert.equal(net.stats.dropped, 3);
    let err: Error | undefined;
    b.s.send(Buffer.from('x'), 0, 1, Uint8Array.from([10, 0, 0, 1]), 30303, (e) => (err = e));
    assert.ok(err !== undefined, 'a closed socket refuses to send');
    await a.s.close();
  });

  it('delivers what a handler sends in the next batch, never inside the current one', async () => {
    const net = new MemoryNetwork();
    const order: string[] = [];
    const a = net.bind('10.0.0.1', 30303);
    const b = net.bind('10.0.0.2', 30303);
    a.start((buf, off, len) => order.push(`a:${Buffer.from(buf.subarray(off, off + len)).toString()}`));
    b.start((buf, off, len) => {
      const text = Buffer.from(buf.subarray(off, off + len)).toString();
      order.push(`b:${text}`);
      if (text === 'x1') sendText(b, 'reply', [10, 0, 0, 1]);
    });
    sendText(a, 'x1', [10, 0, 0, 2]);
    sendText(a, 'x2', [10, 0, 0, 2]);
    await net.drain();
    assert.deepEqual(order, ['b:x1', 'b:x2', 'a:reply']);
    await a.close();
    await b.close();
  });

  it('hands every datagram the same RemoteAddress object, and with poisonDelivered scribbles over the bytes after the handler', async () => {
    const net = new MemoryNetwork({ poisonDelivered: true });
    const froms = new Set<object>();
    const views: Uint8Array[] = [];
    const a = net.bind('10.0.0.1', 30303);
    const b = net.bind('10.0.0.2', 30303);
    const c = net.bind('10.0.0.3', 30303);
    c.start((buf, off, len, from) => {
      froms.add(from);
      views.push(buf.subarray(off, off + len));
    });
    sendText(a, 'aaaa', [10, 0, 0, 3]);
    sendText(b, 'bbbb', [10, 0, 0, 3]);
    await net.drain();
    assert.equal(froms.size, 1);
    assert.equal(views.length, 2);
    for (const v of views) assert.notEqual(Buffer.from(v).toString(), 'aaaa', 'kept views are invalidated');
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('loses datagrams at lossRate, by its random source', async () => {
    let i = 0;
    const net = new MemoryNetwork({ lossRate: 0.5, random: () => (i++ % 2 === 0 ? 0.1 : 0.9) });
    const a = recorder(net, '10.0.0.1');
    const b = recorder(net, '10.0.0.2');
    for (let k = 0; k < 10; k++) sendText(a.s, `m${k}`, [10, 0, 0, 2]);
    await net.drain();
    assert.deepEqual(b.got.map((g) => g.data), ['m1', 'm3', 'm5', 'm7', 'm9']);
    assert.equal(net.stats.dropped, 5);
    await a.s.close();
    await b.s.close();
  });

  it('delays delivery by latencyMs', async () => {
    const net = new MemoryNetwork({ latencyMs: 30 });
    const a = recorder(net, '10.0.0.1');
    const b = recorder(net, '10.0.0.2');
    const t0 = performance.now();
    sendText(a.s, 'late', [10, 0, 0, 2]);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(b.got.length, 0);
    await net.drain();
    assert.equal(b.got.length, 1);
    assert.ok(performance.now() - t0 >= 29, `delivered after ${performance.now() - t0} ms`);
    await a.s.close();
    await b.s.close();
  });

  it('drain waits for a whole exchange of replies, and works over IPv6', async () => {
    const net = new MemoryNetwork();
    const a = net.bind('fd00::1', 30303);
    const b = net.bind('fd00::2', 30303);
    let bounces = 0;
    const bounce = (s: MemoryPacketSocket) => (buf: Uint8Array, off: number, len: number, from: { ip: Uint8Array; port: number }) => {
      bounces++;
      // Reply to the source from inside the handler, as the transport does.
      if (buf[off] > 0) s.send(Uint8Array.from([buf[off] - 1]), 0, 1, from.ip, from.port, () => undefined);
      assert.equal(len, 1);
    };
    a.start(bounce(a));
    b.start(bounce(b));
    a.send(Uint8Array.from([99]), 0, 1, b.ip, 30303, () => undefined);
    await net.drain();
    assert.equal(bounces, 100);
    assert.deepEqual(a.address(), { address: 'fd00::1', port: 30303, family: 6 });
    await a.close();
    await b.close();
  });

  it('refuses to bind an address twice, and frees it on close', async () => {
    const net = new MemoryNetwork();
    const a = net.bind('10.0.0.1', 30303);
    assert.throws(() => net.bind('10.0.0.1', 30303), /in use/);
    assert.equal(net.size, 1);
    await a.close();
    assert.equal(net.size, 0);
    const again = net.bind('10.0.0.1', 30303);
    await again.close();
  });
});

describe('Transport over MemoryNetwork', () => {
  // poisonDelivered: the transport must copy whatever it keeps from a datagram.
  const net = new MemoryNetwork({ poisonDelivered: true });
  let nextIp = 1;
  const open: Transport[] = [];
  const start = (closest?: () => NodeBytes[]) => {
    const socket = net.bind(`10.1.0.${nextIp++}`, 30303);
    const t = new Transport({ privateKey: generatePrivateKey(), socket, sendSlots: 2, respTimeoutMs: 200, closest });
    open.push(t);
    return { t, node: { id: t.nodeId, ip: socket.ip, udpPort: 30303 } };
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
    assert.equal(net.stats.handlerErrors, 0, String(net.firstHandlerError));
  });

  it('pings both ways: a ping is answered, and the pinged node pings back to bond', async () => {
    const a = start();
    const b = start();
    const pong = await a.t.ping(b.node);
    assert.deepEqual(Array.from(pong.to.ip), [10, 1, 0, a.node.ip[3]], 'pong.to is our address as b saw it');
    await net.drain();
    assert.ok(a.t.isBonded(b.t.nodeId, b.node.ip), 'a has b\'s pong');
    assert.ok(b.t.isBonded(a.t.nodeId, a.node.ip), 'b pinged back and has a\'s pong');
    assert.equal(a.t.stats().packetsOut.ping, 1);
    assert.equal(b.t.stats().packetsOut.ping, 1);
  });

  it('bonds on first findnode, then gets 16 nodes in two neighbors packets', async () => {
    const others = Array.from({ length: 20 }, () => start());
    const list: NodeBytes[] = others.map((o) => ({ id: o.t.nodeId, ip: o.node.ip, udpPort: 30303, tcpPort: 0 }));
    const b = start(() => list.slice(0, 16));
    const a = start();
    net.resetCounters();
    const found = await a.t.findnode(b.node, others[0].t.nodeId);
    assert.equal(found.length, 16);
    assert.deepEqual(
      found.map((n) => n.id.toString('hex')),
      list.slice(0, 16).map((n) => Buffer.from(n.id).toString('hex')),
    );
    await net.drain();
    // ping, pong, ping-back, pong, findnode, 2 x neighbors.
    assert.equal(net.stats.datagrams, 7);
    assert.equal(b.t.stats().packetsOut.neighbors, 2);
    // Bonded now: a second findnode costs only findnode + neighbors.
    net.resetCounters();
    assert.equal((await a.t.findnode(b.node, others[1].t.nodeId)).length, 16);
    await net.drain();
    assert.equal(net.stats.datagrams, 3);
  });

  it('times out a request to an address nobody is bound to', async () => {
    const a = start();
    await assert.rejects(a.t.ping({ id: a.t.nodeId.map((x) => x ^ 1), ip: '10.1.9.9', udpPort: 30303 }), TimeoutError);
  });
});
