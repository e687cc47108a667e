/**
 * discv5 beside discv4 on one UDP port (src/v5): our Discovery with
 * startDiscv5, plain @chainsafe/discv5 nodes on their own UDP sockets, and
 * a discv4 client (our Transport), all on 127.0.0.1 with ephemeral ports.
 */
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { generatePrivateKey, listen } from '../../src';
import { encodeEnrText } from '../../src/enr/enr';
import { signRecord } from '../../src/enr/record';
import { Discovery } from '../../src/node/discovery';
import type { SocketKind } from '../../src/transport/listen';
import type { RemoteAddress } from '../../src/transport/socket';
import type { Transport } from '../../src/transport/transport';
import { startDiscv5, V5Service, V5Transport } from '../../src/v5';
import { loadDiscv5, type Discv5, type IPacket } from '../../src/v5/lib';
import { until } from '../transport/helpers';

const LOOPBACK = Uint8Array.of(127, 0, 0, 1);

describe('discv5 beside discv4 on one UDP port', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** Our node: Discovery on loopback (no refresh: nothing to find) with discv5 on. */
  async function startServer(socketKind: SocketKind = 'native', address = '127.0.0.1'): Promise<{ d: Discovery; v5: V5Service; key: Buffer }> {
    const key = generatePrivateKey();
    const d = await Discovery.start({
      privateKey: key,
      address,
      port: 0,
      socketKind,
      threads: 1,
      refreshOnStart: false,
      refreshIntervalMs: 0,
    });
    cleanups.push(() => d.close());
    const v5 = await startDiscv5(d, { privateKey: key });
    return { d, v5, key };
  }

  /**
   * A plain @chainsafe/discv5 node with the package's own UDP transport on
   * 127.0.0.1:0. Its record gets the bound port once the socket is open
   * (the package has no accessor for it: we read its socket).
   */
  async function startClient(): Promise<Discv5> {
    const lib = await loadDiscv5();
    const key = generatePrivateKey();
    const client = lib.Discv5.create({
      enr: encodeEnrText(signRecord(key, 1n, { ip: Buffer.from(LOOPBACK), udp: 0 })),
      privateKey: { type: 'secp256k1', raw: key } as unknown as Parameters<typeof lib.Discv5.create>[0]['privateKey'],
      bindAddrs: { ip4: lib.multiaddrFromSocketAddress({ ip: { type: 4, octets: LOOPBACK }, port: 0 }) },
    });
    await client.start();
    cleanups.push(() => client.stop());
    const sock = (client.sessionService.transport as unknown as { ip4: { socket: dgram.Socket } }).ip4.socket;
    client.enr.udp = sock.address().port;
    return client;
  }

  /** A discv4 client: our transport on its own port. */
  async function startV4Client(): Promise<Transport> {
    const t = await listen({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, socketKind: 'dgram', respTimeoutMs: 500 });
    cleanups.push(() => t.close());
    return t;
  }

  const portOf = (d: Discovery) => d.transport.socket.address().port;

  for (const kind of ['native', 'dgram'] as const) {
    it(`answers a discv5 client and a discv4 client on the same port at the same time (${kind} socket)`, async () => {
      const { d, v5 } = await startServer(kind);
      const client = await startClient();
      const v4 = await startV4Client();
      client.addEnr(v5.enr());
      const ourEnr = client.kadValues()[0];
      const us = { id: d.nodeId, ip: '127.0.0.1', udpPort: portOf(d) };

      const [pong5, found5, pong4, neighbors4] = await Promise.all([
        client.sendPing(ourEnr),
        client.findNode(v5.nodeId),
        v4.ping(us),
        v4.findnode(us, randomBytes(64)),
      ]);

      // discv5: a PONG with our seq and a lookup that ends at our node.
      assert.equal(pong5.enrSeq, d.localSeq);
      assert.deepEqual(found5.map((e) => e.nodeId), [v5.nodeId]);
      // discv4: a pong, and a (empty: our table is) neighbors answer after the bond.
      assert.ok(pong4.rttMs >= 0);
      assert.deepEqual(neighbors4, []);
      const s4 = d.transport.stats();
      assert.ok(s4.packetsIn.ping >= 1 && s4.packetsIn.findnode === 1, JSON.stringify(s4.packetsIn));
      assert.ok(s4.packetsOut.pong >= 1 && s4.packetsOut.neighbors === 1, JSON.stringify(s4.packetsOut));
      const s5 = v5.stats();
      assert.ok(s5.packetsIn >= 3 && s5.packetsOut >= 3, JSON.stringify(s5));
      assert.equal(s4.unhandled, s5.packetsIn);
      assert.equal(s5.decodeErrors, 0);
      // The client came in through the shared port: it is in our discv5 table.
      assert.ok(await until(() => v5.kadValues().some((e) => e.nodeId === client.enr.nodeId), 2000));
    });
  }

  it("serves discv5 to IPv4 peers from a dual-stack socket ('::')", async () => {
    const { d, v5 } = await startServer('native', '::');
    assert.deepEqual(v5.discv5.sessionService.transport.ipMode, { ip4: true, ip6: true });
    const client = await startClient();
    client.addEnr(v5.enr());
    const pong = await client.sendPing(client.kadValues()[0]);
    assert.equal(pong.enrSeq, d.localSeq);
    assert.equal(d.transport.stats().drops.bad_hash, 0);
  });

  it('serves our own record over discv5, byte for byte, and follows its changes', async () => {
    const { d, v5 } = await startServer();
    assert.equal(v5.enr(), encodeEnrText(d.localRecord));
    assert.equal(v5.discv5.enr.seq, d.localSeq);
    const client = await startClient();
    client.addEnr(v5.enr());
    const first = await client.sendPing(client.kadValues()[0]);
    assert.equal(first.enrSeq, d.localSeq);

    assert.ok(await d.local.set('tcp', 30303));
    assert.equal(v5.enr(), encodeEnrText(d.localRecord));
    const second = await client.sendPing(client.kadValues()[0]);
    assert.equal(second.enrSeq, d.localSeq);
    assert.equal(second.enrSeq, first.enrSeq + 1n);
  });

  it('counts discv5 datagrams as unhandled, never as discv4 drops, and gives them back on stop', async () => {
    const { d, v5 } = await startServer();
    const client = await startClient();
    client.addEnr(v5.enr());
    await client.sendPing(client.kadValues()[0]);
    await client.findNode(v5.nodeId);

    const s4 = d.transport.stats();
    assert.equal(s4.drops.bad_hash, 0);
    assert.equal(s4.drops.too_small, 0);
    for (const [type, n] of Object.entries(s4.packetsIn)) assert.equal(n, 0, `discv4 ${type} counted`);
    assert.equal(s4.unhandled, v5.stats().packetsIn);

    // Garbage that is neither protocol reaches discv5's decoder and is counted there.
    const raw = dgram.createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => raw.close(() => r())));
    const junk = randomBytes(120);
    raw.send(junk, portOf(d), '127.0.0.1');
    assert.ok(await until(() => v5.stats().decodeErrors === 1, 2000));
    assert.equal(d.transport.stats().drops.bad_hash, 0);

    // Stopped, discv5 gives the datagrams back: discv4 drops them as before.
    await v5.stop();
    const unhandled = d.transport.stats().unhandled;
    raw.send(junk, portOf(d), '127.0.0.1');
    assert.ok(await until(() => d.transport.stats().drops.bad_hash === 1, 2000));
    assert.equal(d.transport.stats().unhandled, unhandled);
    assert.equal(v5.discv5.isStarted(), false);
  });

  it('reaches a discv5 node that never contacted us (its 63-byte WHOAREYOU comes in on the shared port)', async () => {
    const { d, v5 } = await startServer();
    const fresh = await startClient();
    const pong = await v5.discv5.sendPing(fresh.enr.toENR());
    assert.equal(pong.enrSeq, fresh.enr.seq);
    assert.equal(d.transport.stats().drops.too_small, 0);
  });

  it('stops when the Discovery closes', async () => {
    const { d, v5 } = await startServer();
    assert.equal(v5.discv5.isStarted(), true);
    await d.close();
    assert.ok(await until(() => !v5.discv5.isStarted(), 2000));
    await v5.stop(); // idempotent
  });

  it("refuses a key that is not the Discovery's", async () => {
    const { d } = await startServer();
    await assert.rejects(startDiscv5(d, { privateKey: generatePrivateKey() }), { code: 'INVALID_ARGUMENT' });
  });
});

describe('V5Transport (the adapter)', () => {
  /** The adapter over a stand-in for our Transport and socket: records sends, exposes the handler. */
  async function rig() {
    const lib = await loadDiscv5();
    const sent: Array<{ bytes: Buffer; ip: string; port: number }> = [];
    let handler: ((buf: Uint8Array, off: number, len: number, from: RemoteAddress) => void) | undefined;
    const socket = {
      address: () => ({ address: '127.0.0.1', port: 30303, family: 4 as const }),
      send: (buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void) => {
        sent.push({ bytes: Buffer.from(buf.subarray(off, off + len)), ip: Array.from(ip).join('.'), port });
        done();
      },
    };
    const transport = {
      socket,
      isClosed: false,
      setUnhandledHandler: (fn: typeof handler) => (handler = fn),
    } as unknown as Transport;
    const ourId = randomBytes(32).toString('hex');
    const adapter = new V5Transport({ transport, nodeId: ourId, lib });
    const packets: IPacket[] = [];
    const sources: object[] = [];
    adapter.on('packet', (src: object, p: IPacket) => {
      sources.push(src);
      packets.push(p);
    });
    await adapter.start();
    const deliver = (buf: Uint8Array, off: number, len: number, ip = LOOPBACK, port = 40000) =>
      handler!(buf, off, len, { family: 4, ip: Uint8Array.from(ip), port });
    return { lib, adapter, sent, packets, sources, ourId, deliver, handlerSet: () => handler !== undefined };
  }

  it('decodes a copy of each datagram: the receive buffer may be reused as soon as the handler returns', async () => {
    const { lib, packets, ourId, deliver } = await rig();
    const packet = lib.encodePacket(ourId, (await import('@chainsafe/discv5/packet')).createRandomPacket(randomBytes(32).toString('hex')));
    const slab = Buffer.alloc(4096);
    Buffer.from(packet).copy(slab, 100);
    deliver(slab, 100, packet.length);
    const message = Buffer.from(packets[0].message);
    slab.fill(0xaa); // the next datagram lands in the same slab
    assert.equal(packets.length, 1);
    assert.deepEqual(Buffer.from(packets[0].message), message);
    assert.deepEqual(Buffer.from(packets[0].message), Buffer.from(packet.subarray(packet.length - 44)));
  });

  it('counts datagrams of impossible sizes and undecodable ones without emitting packets', async () => {
    const { adapter, packets, deliver } = await rig();
    let decodeErrors = 0;
    adapter.on('decodeError', () => decodeErrors++);
    deliver(randomBytes(62), 0, 62);
    deliver(randomBytes(1281), 0, 1281);
    deliver(randomBytes(200), 0, 200);
    const s = adapter.stats();
    assert.equal(s.packetsIn, 3);
    assert.equal(s.badSize, 2);
    assert.equal(s.decodeErrors, 1);
    assert.equal(decodeErrors, 1);
    assert.equal(packets.length, 0);
  });

  it('sends encoded packets to the multiaddr given, and reuses one source multiaddr per address', async () => {
    const { lib, adapter, sent, sources, ourId, deliver } = await rig();
    const to = lib.multiaddrFromSocketAddress({ ip: { type: 4, octets: Uint8Array.of(10, 1, 2, 3) }, port: 9000 });
    const remoteId = randomBytes(32).toString('hex');
    const packet = (await import('@chainsafe/discv5/packet')).createRandomPacket(ourId);
    await adapter.send(to, remoteId, packet);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].ip, '10.1.2.3');
    assert.equal(sent[0].port, 9000);
    assert.deepEqual(sent[0].bytes, Buffer.from(lib.encodePacket(remoteId, packet)));
    assert.deepEqual(Buffer.from(lib.decodePacket(remoteId, sent[0].bytes).header.authdata), Buffer.from(packet.header.authdata));

    const inbound = lib.encodePacket(ourId, (await import('@chainsafe/discv5/packet')).createRandomPacket(remoteId));
    deliver(inbound, 0, inbound.length, Uint8Array.of(10, 1, 2, 3), 9000);
    deliver(inbound, 0, inbound.length, Uint8Array.of(10, 1, 2, 3), 9000);
    assert.equal(sources.length, 2);
    assert.equal(sources[0].toString(), '/ip4/10.1.2.3/udp/9000');
    assert.equal(sources[1], sources[0]);
    assert.equal(adapter.stats().packetsOut, 1);
  });

  it('takes the unhandled datagrams on start and gives them back on stop; an exception in discv5 never reaches the read loop', async () => {
    const { lib, adapter, ourId, deliver, handlerSet } = await rig();
    adapter.on('packet', () => {
      throw new Error('session layer bug');
    });
    const inbound = lib.encodePacket(ourId, (await import('@chainsafe/discv5/packet')).createRandomPacket(randomBytes(32).toString('hex')));
    assert.doesNotThrow(() => deliver(inbound, 0, inbound.length));
    assert.equal(adapter.stats().handlerErrors, 1);
    await adapter.stop();
    assert.equal(handlerSet(), false);
  });
});
