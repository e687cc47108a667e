import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { BindError, bindDgram, type RemoteAddress } from '../../src/transport/socket';
import { bindNative, type NativePacketSocket } from '../../src/transport/native-socket';

const LOCAL4 = new Uint8Array([127, 0, 0, 1]);
const LOCAL6 = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

interface Received {
  data: Buffer;
  family: 4 | 6;
  ip: number[];
  port: number;
}

/** Polls `cond` every 5 ms; fails after `ms`. */
async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Copies what the handler sees (the views are reused after it returns). */
function collect(into: Received[]) {
  return (buf: Uint8Array, off: number, len: number, from: RemoteAddress) => {
    into.push({ data: Buffer.from(buf.subarray(off, off + len)), family: from.family, ip: [...from.ip], port: from.port });
  };
}

function sendP(s: NativePacketSocket, data: Uint8Array, ip: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => s.send(data, 0, data.length, ip, port, (err) => (err ? reject(err) : resolve())));
}

function dgramBind(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const sock = dgram.createSocket(type);
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, address, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

function dgramClose(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => sock.close(() => resolve()));
}

describe('NativePacketSocket (native UDP over libuv, recvmmsg batches)', () => {
  const sockets: Array<{ close(): Promise<void> | void }> = [];
  const native = async (address: string, extra: Parameters<typeof bindNative>[0] = {}) => {
    const s = await bindNative({ address, port: 0, ...extra });
    sockets.push(s);
    return s;
  };
  const dgramSock = async (type: 'udp4' | 'udp6', address: string) => {
    const s = await dgramBind(type, address);
    sockets.push({ close: () => dgramClose(s).catch(() => undefined) });
    return s;
  };

  afterEach(async () => {
    for (const s of sockets.splice(0)) {
      try {
        await s.close();
      } catch {
        // already closed by the test
      }
    }
  });

  it('exchanges datagrams between two native sockets on 127.0.0.1 with correct source', async () => {
    const a = await native('127.0.0.1');
    const b = await native('127.0.0.1');
    assert.equal(a.kind, 'native');
    assert.deepEqual({ address: a.address().address, family: a.address().family }, { address: '127.0.0.1', family: 4 });
    assert.ok(a.address().port > 0);
    const atA: Received[] = [];
    const atB: Received[] = [];
    a.start(collect(atA));
    b.start(collect(atB));

    await sendP(a, Buffer.from('ping from a'), LOCAL4, b.address().port);
    await until(() => atB.length === 1, 3000, 'a -> b');
    assert.equal(atB[0].data.toString(), 'ping from a');
    assert.deepEqual([atB[0].family, atB[0].ip, atB[0].port], [4, [127, 0, 0, 1], a.address().port]);

    await sendP(b, Buffer.from('pong from b'), LOCAL4, a.address().port);
    await until(() => atA.length === 1, 3000, 'b -> a');
    assert.equal(atA[0].data.toString(), 'pong from b');
    assert.deepEqual([atA[0].family, atA[0].ip, atA[0].port], [4, [127, 0, 0, 1], b.address().port]);
    assert.equal(a.stats().sendTry, 1);
  });

  it('exchanges datagrams on ::1 (IPv6) with correct source', async () => {
    // This machine must have ::1: fail loudly rather than skip.
    try {
      await dgramClose(await dgramBind('udp6', '::1'));
    } catch (err) {
      assert.fail(`IPv6 loopback ::1 is not usable on this machine (dgram bind failed: ${(err as Error).message})`);
    }
    const a = await native('::1');
    const b = await native('::1');
    assert.deepEqual({ address: a.address().address, family: a.address().family }, { address: '::1', family: 6 });
    const atA: Received[] = [];
    const atB: Received[] = [];
    a.start(collect(atA));
    b.start(collect(atB));
    await sendP(a, Buffer.from('six'), LOCAL6, b.address().port);
    await until(() => atB.length === 1, 3000, 'a -> b over ::1');
    assert.equal(atB[0].data.toString(), 'six');
    assert.deepEqual([atB[0].family, atB[0].ip, atB[0].port], [6, [...LOCAL6], a.address().port]);
    await sendP(b, Buffer.from('back'), LOCAL6, a.address().port);
    await until(() => atA.length === 1, 3000, 'b -> a over ::1');
    assert.deepEqual([atA[0].data.toString(), atA[0].family, atA[0].port], ['back', 6, b.address().port]);

    // And with a dgram IPv6 peer.
    const d = await dgramSock('udp6', '::1');
    const atD: Array<{ msg: string; address: string; port: number }> = [];
    d.on('message', (msg, rinfo) => atD.push({ msg: msg.toString(), address: rinfo.address, port: rinfo.port }));
    await sendP(a, Buffer.from('to dgram6'), LOCAL6, d.address().port);
    d.send('from dgram6', a.address().port, '::1');
    await until(() => atD.length === 1 && atA.length === 2, 3000, 'native <-> dgram over ::1');
    assert.deepEqual(atD[0], { msg: 'to dgram6', address: '::1', port: a.address().port });
    assert.deepEqual([atA[1].data.toString(), atA[1].family, atA[1].ip, atA[1].port], ['from dgram6', 6, [...LOCAL6], d.address().port]);
  });

  it('interoperates with dgram in both directions', async () => {
    const n = await native('127.0.0.1');
    const got: Received[] = [];
    n.start(collect(got));
    const d = await dgramSock('udp4', '127.0.0.1');
    const atD: Array<{ msg: string; address: string; port: number }> = [];
    d.on('message', (msg, rinfo) => atD.push({ msg: msg.toString(), address: rinfo.address, port: rinfo.port }));

    d.send('dgram -> native', n.address().port, '127.0.0.1');
    await until(() => got.length === 1, 3000, 'dgram -> native');
    assert.deepEqual([got[0].data.toString(), got[0].family, got[0].ip, got[0].port], ['dgram -> native', 4, [127, 0, 0, 1], d.address().port]);

    await sendP(n, Buffer.from('native -> dgram'), LOCAL4, d.address().port);
    await until(() => atD.length === 1, 3000, 'native -> dgram');
    assert.deepEqual(atD[0], { msg: 'native -> dgram', address: '127.0.0.1', port: n.address().port });

    // The PacketSocket wrappers mix too.
    const pd = await bindDgram({ address: '127.0.0.1' });
    sockets.push(pd);
    const atPd: Received[] = [];
    pd.start(collect(atPd));
    await sendP(n, Buffer.from('to DgramPacketSocket'), LOCAL4, pd.address().port);
    await new Promise<void>((resolve, reject) =>
      pd.send(Buffer.from('from DgramPacketSocket'), 0, 22, LOCAL4, n.address().port, (e) => (e ? reject(e) : resolve())),
    );
    await until(() => atPd.length === 1 && got.length === 2, 3000, 'PacketSocket mix');
    assert.equal(atPd[0].data.toString(), 'to DgramPacketSocket');
    assert.equal(atPd[0].port, n.address().port);
    assert.equal(got[1].data.toString(), 'from DgramPacketSocket');
  });

  it('receives a burst of 2,000 datagrams completely, in fewer batches than datagrams', async () => {
    const rx = await native('127.0.0.1');
    const tx = await native('127.0.0.1');
    const N = 2000;
    const seen = new Uint8Array(N);
    let count = 0;
    let bad = 0;
    rx.start((buf, off, len) => {
      const i = buf[off] | (buf[off + 1] << 8);
      if (len !== 100 || i >= N || buf[off + 99] !== (i & 0xff)) bad++;
      else if (!seen[i]) {
        seen[i] = 1;
        count++;
      }
    });
    const pkt = Buffer.alloc(100);
    let errors = 0;
    for (let i = 0; i < N; i++) {
      pkt[0] = i & 0xff;
      pkt[1] = i >> 8;
      pkt[99] = i & 0xff;
      tx.send(pkt, 0, 100, LOCAL4, rx.address().port, (err) => {
        if (err) errors++;
      });
    }
    assert.equal(errors, 0);
    await until(() => count === N, 5000, `all ${N} datagrams (got ${count})`);
    assert.equal(bad, 0);
    const s = rx.stats();
    assert.equal(s.datagrams, N);
    assert.ok(s.batches < s.datagrams, `batches ${s.batches} should be < datagrams ${s.datagrams}`);
    assert.ok(s.maxBatch > 1, `maxBatch ${s.maxBatch}`);
    assert.equal(s.recvmmsg, 1, 'libuv reads with recvmmsg on Linux');
    assert.equal(s.recvErrors, 0);
    assert.equal(tx.stats().sendTry + tx.stats().sendQueued, N);
  });

  it('delivers a 2,000-byte datagram with its true length (no truncation)', async () => {
    const rx = await native('127.0.0.1');
    const tx = await native('127.0.0.1');
    const got: Received[] = [];
    rx.start(collect(got));
    const big = Buffer.alloc(2000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await sendP(tx, big, LOCAL4, rx.address().port);
    // The largest UDP payload over IPv4 fits a 64 KiB chunk too.
    const max = Buffer.alloc(65507, 0xab);
    await sendP(tx, max, LOCAL4, rx.address().port);
    await until(() => got.length === 2, 3000, 'big datagrams');
    assert.equal(got[0].data.length, 2000);
    assert.ok(got[0].data.equals(big));
    assert.equal(got[1].data.length, 65507);
    assert.ok(got[1].data.equals(max));
    assert.equal(rx.stats().truncated, 0);
  });

  it('rejects binding a port in use with BindError (BIND_FAILED, EADDRINUSE, address:port)', async () => {
    const first = await native('127.0.0.1');
    const port = first.address().port;
    await assert.rejects(bindNative({ address: '127.0.0.1', port }), (err: unknown) => {
      assert.ok(err instanceof BindError);
      assert.equal(err.code, 'BIND_FAILED');
      assert.match(err.message, /EADDRINUSE/);
      assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
      assert.equal(((err as { cause?: NodeJS.ErrnoException }).cause)?.code, 'EADDRINUSE');
      return true;
    });
    // A port held by dgram too.
    const d = await dgramSock('udp4', '127.0.0.1');
    await assert.rejects(bindNative({ address: '127.0.0.1', port: d.address().port }), /EADDRINUSE/);
    // An address that is not an IP, and one this host does not have.
    await assert.rejects(bindNative({ address: 'not-an-ip' }), (err: unknown) => {
      assert.ok(err instanceof BindError);
      assert.match(err.message, /not-an-ip:0.*EINVAL/);
      return true;
    });
    await assert.rejects(bindNative({ address: '192.0.2.1' }), (err: unknown) => {
      assert.ok(err instanceof BindError);
      assert.match(err.message, /192\.0\.2\.1:0: EADDRNOTAVAIL/);
      return true;
    });
  });

  it('keeps delivering the rest of a batch when the handler throws, and reports the error', async () => {
    const errors: unknown[] = [];
    const rx = await native('127.0.0.1', { onError: (e) => errors.push(e) });
    const tx = await native('127.0.0.1');
    const seen: number[] = [];
    rx.start((buf, off) => {
      seen.push(buf[off]);
      if (buf[off] === 3) throw new Error('bad datagram 3');
    });
    const pkt = Buffer.alloc(10);
    for (let i = 0; i < 10; i++) {
      pkt[0] = i;
      tx.send(pkt, 0, 10, LOCAL4, rx.address().port, () => undefined);
    }
    await until(() => seen.length === 10, 3000, 'all 10 datagrams');
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const s = rx.stats();
    assert.ok(s.batches < 10, `the 10 datagrams came in ${s.batches} batches`);
    assert.equal(s.handlerErrors, 1);
    assert.equal(s.callbackErrors, 0, 'nothing escaped into the native layer');
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /bad datagram 3/);

    // Still alive and receiving afterwards; an onError that throws is contained too.
    rx.onError = () => {
      throw new Error('onError throws');
    };
    pkt[0] = 3;
    tx.send(pkt, 0, 10, LOCAL4, rx.address().port, () => undefined);
    pkt[0] = 42;
    tx.send(pkt, 0, 10, LOCAL4, rx.address().port, () => undefined);
    await until(() => seen.length === 12, 3000, 'datagrams after the throw');
    assert.equal(seen[11], 42);
    assert.equal(rx.stats().handlerErrors, 2);
  });

  it('close(): resolves, is idempotent, no handler call after it, send after close fails via done', async () => {
    const rx = await native('127.0.0.1');
    const tx = await native('127.0.0.1');
    let calls = 0;
    rx.start(() => calls++);
    const pkt = Buffer.alloc(50);
    for (let i = 0; i < 50; i++) tx.send(pkt, 0, 50, LOCAL4, rx.address().port, () => undefined);
    // The datagrams are in rx's kernel buffer, not read yet: closing now
    // must drop them without a handler call.
    const p1 = rx.close();
    const p2 = rx.close();
    await p1;
    await p2;
    await rx.close();
    await sleep(50);
    assert.equal(calls, 0);

    let doneErr: Error | undefined;
    let doneCalls = 0;
    assert.doesNotThrow(() =>
      rx.send(pkt, 0, 10, LOCAL4, tx.address().port, (err) => {
        doneCalls++;
        doneErr = err;
      }),
    );
    assert.equal(doneCalls, 1);
    assert.equal((doneErr as { code?: string } | undefined)?.code, 'CLOSED');
    assert.equal(typeof rx.stats().datagrams, 'number');
  });

  it('close() from inside the handler stops the rest of the batch', async () => {
    const rx = await native('127.0.0.1');
    const tx = await native('127.0.0.1');
    let calls = 0;
    let closed: Promise<void> | undefined;
    rx.start(() => {
      calls++;
      closed ??= rx.close();
    });
    const pkt = Buffer.alloc(20);
    for (let i = 0; i < 20; i++) tx.send(pkt, 0, 20, LOCAL4, rx.address().port, () => undefined);
    await until(() => closed !== undefined, 3000, 'first datagram');
    await closed;
    await sleep(30);
    assert.equal(calls, 1);
  });

  it('unwraps IPv4-mapped sources on a dual-stack socket bound to "::"', async () => {
    const n = await native('::');
    assert.equal(n.address().family, 6);
    const got: Received[] = [];
    n.start(collect(got));
    const d = await dgramSock('udp4', '127.0.0.1');
    const atD: Array<{ msg: string; port: number }> = [];
    d.on('message', (msg, rinfo) => atD.push({ msg: msg.toString(), port: rinfo.port }));
    d.send('v4 to dual-stack', n.address().port, '127.0.0.1');
    await until(() => got.length === 1, 3000, 'datagram from 127.0.0.1');
    assert.equal(got[0].family, 4);
    assert.deepEqual(got[0].ip, [127, 0, 0, 1]);
    assert.equal(got[0].port, d.address().port);
    // The reply to the 4-byte address goes out as ::ffff:127.0.0.1.
    await sendP(n, Buffer.from('reply'), new Uint8Array(got[0].ip), got[0].port);
    await until(() => atD.length === 1, 3000, 'reply to the IPv4 peer');
    assert.deepEqual(atD[0], { msg: 'reply', port: n.address().port });
  });

  it('hands the handler the same buf and from objects for every datagram', async () => {
    const rx = await native('127.0.0.1');
    const tx = await native('127.0.0.1');
    const bufs = new Set<Uint8Array>();
    const froms = new Set<RemoteAddress>();
    const ips = new Set<Uint8Array>();
    const offs = new Set<number>();
    let n = 0;
    rx.start((buf, off, _len, from) => {
      bufs.add(buf);
      froms.add(from);
      ips.add(from.ip);
      offs.add(off);
      n++;
    });
    const pkt = Buffer.alloc(30);
    for (let i = 0; i < 60; i++) tx.send(pkt, 0, 30, LOCAL4, rx.address().port, () => undefined);
    await until(() => n === 60, 3000, '60 datagrams');
    assert.equal(bufs.size, 1);
    assert.equal(froms.size, 1);
    assert.equal(ips.size, 1);
    assert.ok(offs.size > 1, 'datagrams of one batch sit at different offsets of the slab');
  });

  it('send(): bad ip length -> done(err); unreachable families -> done(err); never throws', async () => {
    const s = await native('127.0.0.1');
    const errs: Array<Error | undefined> = [];
    const pkt = Buffer.alloc(8);
    s.send(pkt, 0, 8, new Uint8Array(5), 30303, (e) => errs.push(e));
    s.send(pkt, 0, 8, LOCAL6, 30303, (e) => errs.push(e)); // IPv6 dest on an IPv4 socket
    s.send(pkt, 4, 8, LOCAL4, 30303, (e) => errs.push(e)); // range outside buf
    s.send(pkt, 0, 8, LOCAL4, 0, (e) => errs.push(e)); // port 0
    assert.equal(errs.length, 4);
    assert.equal((errs[0] as { code?: string }).code, 'INVALID_ARGUMENT');
    assert.equal((errs[1] as NodeJS.ErrnoException).code, 'EAFNOSUPPORT');
    assert.equal((errs[2] as NodeJS.ErrnoException).code, 'EINVAL');
    assert.equal((errs[3] as NodeJS.ErrnoException).code, 'EINVAL');
  });

  it('copies into a bounded send queue when not sending synchronously, dropping beyond the bound', async () => {
    const rx = await native('127.0.0.1');
    // trySend: false forces the queued path (uv_udp_send), which otherwise
    // only runs when the socket buffer is full (EAGAIN/ENOBUFS).
    const tx = await native('127.0.0.1', { trySend: false, maxSendQueue: 10 });
    let got = 0;
    rx.start(() => got++);
    const results: Array<string | undefined> = [];
    const pkt = Buffer.alloc(40);
    for (let i = 0; i < 30; i++) {
      tx.send(pkt, 0, 40, LOCAL4, rx.address().port, (e) => results.push((e as { code?: string } | undefined)?.code));
      pkt.fill(0xee); // the queue holds a copy: scribbling now must not matter
    }
    assert.equal(results.length, 30, 'done runs at once for queued and dropped datagrams');
    assert.deepEqual(results.slice(0, 10), new Array(10).fill(undefined));
    assert.deepEqual(results.slice(10), new Array(20).fill('SEND_QUEUE_FULL'));
    const s = tx.stats();
    assert.equal(s.sendQueued, 10);
    assert.equal(s.sendDropped, 20);
    await until(() => got === 10, 3000, 'the 10 queued datagrams');
    // Queued datagrams pending at close are freed (libuv cancels them).
    for (let i = 0; i < 5; i++) tx.send(pkt, 0, 40, LOCAL4, rx.address().port, () => undefined);
    await tx.close();
  });

  it('drops (and counts) datagrams that arrive before start()', async () => {
    const rx = await native('127.0.0.1');
    const tx = await native('127.0.0.1');
    await sendP(tx, Buffer.from('early'), LOCAL4, rx.address().port);
    await until(() => rx.stats().unhandled === 1, 3000, 'the early datagram');
    const got: Received[] = [];
    rx.start(collect(got));
    await sendP(tx, Buffer.from('late'), LOCAL4, rx.address().port);
    await until(() => got.length === 1, 3000, 'the datagram after start');
    assert.equal(got[0].data.toString(), 'late');
  });

  it('applies the requested socket buffer sizes (forcing past rmem_max as root)', async () => {
    const s = await native('127.0.0.1', { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    assert.equal(s.stats().recvBufferSize, 1 << 20);
    assert.equal(s.stats().sendBufferSize, 1 << 20);
    const d = await native('127.0.0.1');
    assert.ok(d.stats().recvBufferSize > 0);
    if (process.getuid?.() === 0) {
      const big = await native('127.0.0.1', { recvBufferSize: 16 << 20 });
      assert.equal(big.stats().recvBufferSize, 16 << 20, 'SO_RCVBUFFORCE as root');
    }
  });

  it('keeps a slab view readable after close and GC, and survives many sockets', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let kept: Uint8Array | undefined;
    {
      const rx = await bindNative({ address: '127.0.0.1' });
      const tx = await bindNative({ address: '127.0.0.1' });
      rx.start((buf) => (kept = buf));
      await sendP(tx, Buffer.from('x'), LOCAL4, rx.address().port);
      await until(() => kept !== undefined, 3000, 'one datagram');
      await rx.close();
      await tx.close();
    }
    const many = await Promise.all(Array.from({ length: 20 }, () => bindNative({ address: '127.0.0.1' })));
    await Promise.all(many.map((s) => s.close()));
    many.length = 0;
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(10);
    }
    assert.equal(kept![0], 'x'.charCodeAt(0));
    kept!.fill(1, 0, 1024); // writable, still ours
  });

  it('a worker that exits with an open native socket (with and without crypto threads) releases it without crashing', async () => {
    const addon = path.resolve(__dirname, '../../build/Release/discv4_native.node');
    const codeFor = (threads: number) => `
      const { parentPort } = require('node:worker_threads');
      const m = require(${JSON.stringify(addon)});
      const s = new m.UdpSocket(4, () => {}, undefined, 16, true, ${threads});
      if (s.bind('127.0.0.1', 0) !== 0 || s.recvStart() !== 0) throw new Error('bind failed');
      s.startDelivery();
      s.setKey(Buffer.alloc(32, 7));
      parentPort.postMessage(s.address().port);
    `;
    for (const [how, code] of [['terminate', codeFor(1)], ['exit', codeFor(1)], ['terminate', codeFor(3)], ['exit', codeFor(3)]] as const) {
      const w = new Worker(how === 'exit' ? `${code}; setTimeout(() => process.exit(0), 20);` : code, { eval: true });
      const port = await new Promise<number>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      if (how === 'terminate') await w.terminate();
      else await new Promise((r) => w.once('exit', r));
      // The worker's socket is closed: its port can be bound again.
      const again = await native('127.0.0.1', { port });
      assert.equal(again.address().port, port);
    }
  });
});
