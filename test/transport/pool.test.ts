/**
 * The native socket's crypto thread pool: replies to one sender keep the
 * order of its requests, a full work queue drops (counted) instead of
 * growing, closing with work queued is clean, and the socket-side crypto
 * gives the same answers as the JavaScript-side path. (The whole transport
 * suite also runs over 1 and 4 threads: transport.test.ts.)
 */
import { strict as assert } from 'node:assert';
import { PacketType } from '../../src';
import { bindNative, NativePacketSocket } from '../../src/transport/native-socket';
import { Transport } from '../../src/transport/transport';
import { generatePrivateKey, nativeCrypto } from '../../src/crypto';
import { Netlist } from '../../src/transport/netutil';
import { farFuture, RawPeer, until } from './helpers';

describe('native crypto thread pool', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((x) => x.close()));
  });

  async function server(threads: number, extra: Partial<ConstructorParameters<typeof Transport>[0]> = {}, workQueue?: number) {
    const socket = await bindNative({ address: '127.0.0.1', threads, workQueue });
    // Bursts from one loopback address: no rate limits here (limits.test.ts covers them).
    const t = new Transport({ privateKey: generatePrivateKey(), socket, rateLimits: false, amplificationAllowance: Infinity, ...extra });
    open.push(t);
    return { t, socket, node: { id: t.nodeId, ip: '127.0.0.1', udpPort: socket.address().port } };
  }

  async function peer() {
    const p = await RawPeer.bind();
    open.push(p);
    return p;
  }

  const ping = (p: RawPeer, to: { ip: string; udpPort: number; id: Buffer }) =>
    p.send(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: to.udpPort }, expiration: farFuture }, to);

  it('answers 300 pings from one sender in the order they were sent (4 threads)', async () => {
    const s = await server(4);
    const p = await peer();
    const hashes: string[] = [];
    for (let i = 0; i < 300; i++) hashes.push(ping(p, s.node).toString('hex'));
    await p.waitFor(() => p.ofType(PacketType.Pong).length >= 300, 5000);
    const tokens = p.ofType(PacketType.Pong).map((x) => x.replyToken.toString('hex'));
    assert.deepEqual(tokens, hashes);
    assert.ok((s.socket.stats().opened ?? 0) >= 300, 'datagrams were not opened by the socket');
  });

  it('keeps order per sender while several senders share the workers', async () => {
    const s = await server(3);
    const peers = await Promise.all([0, 1, 2, 3, 4].map(() => peer()));
    const sent = peers.map(() => [] as string[]);
    for (let i = 0; i < 60; i++) peers.forEach((p, k) => sent[k].push(ping(p, s.node).toString('hex')));
    for (const [k, p] of peers.entries()) {
      await p.waitFor(() => p.ofType(PacketType.Pong).length >= 60, 5000);
      assert.deepEqual(
        p.ofType(PacketType.Pong).map((x) => x.replyToken.toString('hex')),
        sent[k],
        `sender ${k} got its pongs out of order`,
      );
    }
  });

  it('drops replies (counted) when a worker queue is full, and keeps serving', async () => {
    const s = await server(2, {}, 1);
    const p = await peer();
    for (let i = 0; i < 400; i++) ping(p, s.node);
    await p.waitFor(() => false, 1500);
    const st = s.socket.stats();
    const got = p.ofType(PacketType.Pong).length;
    assert.ok(st.workQueueDrops > 0, `no drops with a 1-datagram queue (${got} pongs)`);
    assert.ok(got > 0 && got < 400, `${got} pongs`);
    // Every datagram handed to the workers was sent or counted as dropped.
    // (The peer may still lose some in its own receive buffer.)
    const out = s.t.stats().packetsOut;
    assert.equal(st.workerSent + st.workQueueDrops + st.workerSendErrors, out.pong + out.ping, JSON.stringify(st));
    assert.ok(got <= st.workerSent);
    // Still serving after the burst.
    const before = got;
    ping(p, s.node);
    await p.waitFor(() => p.ofType(PacketType.Pong).length > before, 2000);
    assert.ok(p.ofType(PacketType.Pong).length > before);
  });

  it('closes cleanly with replies still queued on the workers', async () => {
    const s = await server(4);
    const p = await peer();
    for (let i = 0; i < 200; i++) ping(p, s.node);
    await until(() => s.t.stats().packetsIn.ping > 0, 2000);
    await s.t.close();
    const st = s.socket.stats();
    assert.equal(st.threads, 4);
    assert.ok(st.workerSent + st.discarded + st.workQueueDrops <= 200);
  });

  it('applies netrestrict before the crypto: rejected datagrams are never opened', async () => {
    const s = await server(2, { netrestrict: new Netlist(['10.0.0.0/8']) });
    const p = await peer();
    for (let i = 0; i < 20; i++) ping(p, s.node);
    assert.ok(await until(() => s.t.stats().drops.netrestrict === 20, 2000));
    assert.equal(s.socket.stats().opened, 0);
    assert.equal(p.received.length, 0);
  });

  it('falls back to the JavaScript-side crypto with a custom Crypto, with the same answers', async () => {
    const custom = { ...nativeCrypto, name: 'custom' };
    const s = await server(2, { crypto: custom });
    const p = await peer();
    const h = ping(p, s.node);
    await p.waitFor(() => p.ofType(PacketType.Pong).length > 0);
    assert.ok(p.ofType(PacketType.Pong)[0].replyToken.equals(h));
    assert.equal(s.socket.stats().opened, 0, 'a custom Crypto must not be bypassed');
  });

  it('rejects a thread count outside 1..256', async () => {
    for (const threads of [0, 257, 1.5]) {
      await assert.rejects(bindNative({ address: '127.0.0.1', threads }), /threads must be/);
    }
    const s = (await bindNative({ address: '127.0.0.1', threads: 1 })) as NativePacketSocket;
    assert.equal(s.threads, 1);
    await s.close();
  });
});
