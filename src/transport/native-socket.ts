/**
 * A PacketSocket over the addon's native UDP socket (native/udp.cc): a
 * libuv `uv_udp_t` on Node's own event loop that reads with recvmmsg (up to
 * 20 datagrams per syscall on Linux) into one slab allocated at creation.
 * The addon calls into JS ONCE per kernel batch with a count; this wrapper
 * walks the batch's metadata records and calls the handler per datagram with
 * views created once: no JS allocation per datagram.
 *
 * Differences from the dgram socket worth knowing:
 * - `buf` is a view over the whole receive slab (1.25 MiB); use off/len.
 * - Truncation cannot happen (each datagram gets a 64 KiB chunk, the UDP
 *   maximum). Should the kernel report one anyway it is delivered with the
 *   bytes received (>= 64 KiB, so the transport counts it TOO_LARGE) and
 *   also counted in `stats().truncated`.
 * - Datagrams arriving after bind but before start() are dropped and
 *   counted as `unhandled` (dgram emits them to no listener).
 * - Sends go out synchronously (`uv_udp_try_send`) when the socket buffer
 *   has room; otherwise they are copied into a bounded queue
 *   (`maxSendQueue`, default 4096 datagrams) and `done` runs at once either
 *   way, because the caller's buffer is no longer needed.
 */
import { availableParallelism, cpus } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { DatagramRecord, native, RecordStatus, SendResult } from '../crypto/native';
import { DiscError, InvalidArgumentError } from '../errors';
import {
  BindError,
  DEFAULT_SOCKET_BUFFER_SIZE,
  type Admit,
  type BindOptions,
  type DatagramHandler,
  type OpenedFrom,
  type OpenedHandler,
  type PacketSocket,
  type SocketAddress,
} from './socket';
import { MAX_SEND_QUEUE } from '../defaults';


export interface NativeBindOptions extends BindOptions {
  /** Datagrams the send queue holds when the socket buffer is full. Default 4096. */
  maxSendQueue?: number;
  /**
   * Try a synchronous send first (default true). false sends everything
   * through libuv's queue (uv_udp_send); for tests and measurements.
   */
  trySend?: boolean;
  /** Receives exceptions thrown by the datagram handler (they are counted and never propagate). */
  onError?: (err: unknown) => void;
  /**
   * Threads doing packet crypto: the hash check + sender recovery of
   * received datagrams and the hash + signature of replies. Default: the
   * number of cores (os.availableParallelism()). 1 keeps everything on the
   * JavaScript thread; the protocol logic always stays there.
   */
  threads?: number;
  /**
   * Datagrams each crypto thread holds for sealing and sending (default
   * 2,048, ~1.3 KiB each). Past it, replies are dropped and counted
   * (`workQueueDrops`) rather than queued without bound.
   */
  workQueue?: number;
}

/** The addon's `UdpSocket` (native/udp.cc). Negative numbers are libuv errnos. */
interface NativeUdp {
  /** The slab (slabSize bytes) followed by metaCount 32-byte records. */
  readonly memory: ArrayBuffer;
  readonly slabSize: number;
  readonly metaCount: number;
  bind(ip: string, port: number): number;
  setBufferSizes(recv: number, send: number): number;
  recvStart(): number;
  /** Datagrams go to the handler from now on (dropped as `unhandled` before). */
  startDelivery(): void;
  /** 0 sent, 1 copied into the send queue, 2 dropped (queue full), < 0 a libuv errno. */
  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number): number;
  /** send() after sealing with the setKey() key; 5 if no key is set. */
  sealSend(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number): number;
  /** 0, or 5 for an invalid key. */
  setKey(priv: Uint8Array): number;
  /** Verifies the batch's datagrams still marked to open; returns how many. */
  openBatch(count: number): number;
  readonly metaSize: number;
  address(): { address: string; port: number; family: 4 | 6 } | number;
  close(cb: () => void): boolean;
  ref(): void;
  unref(): void;
  stats(): Record<string, number>;
}

type NativeUdpCtor = new (
  family: 4 | 6,
  onBatch: (count: number) => void,
  onError: ((err: unknown) => void) | undefined,
  maxSendQueue: number,
  trySend: boolean,
  threads: number,
  workQueue?: number,
) => NativeUdp;

function nativeCtor(): NativeUdpCtor {
  const ctor = (native as unknown as { UdpSocket?: NativeUdpCtor }).UdpSocket;
  if (ctor === undefined) {
    throw new Error('discv4-native: the addon has no UdpSocket; rebuild it (`npx node-gyp rebuild`)');
  }
  return ctor;
}

// The datagram record (native/udp.h `Meta`), read as int32 words: off, len,
// family, port, ip[16], status, 3 reserved, id[64]. The numbers come from
// src/crypto/native.ts, which the addon's own `contract` is checked against.
const META_WORDS = DatagramRecord.Size / 4;
const META_OFF = DatagramRecord.Off / 4;
const META_LEN = DatagramRecord.Len / 4;
const META_FAMILY = DatagramRecord.Family / 4;
const META_PORT = DatagramRecord.Port / 4;
const META_STATUS = DatagramRecord.Status / 4;

/** Default crypto threads: one per core. */
export function defaultThreads(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
}

/** A libuv errno as an Error with the usual `code` / `errno` fields. */
function uvError(errno: number, what: string): NodeJS.ErrnoException {
  let name: string;
  try {
    name = getSystemErrorName(errno);
  } catch {
    name = `E${-errno}`;
  }
  const err: NodeJS.ErrnoException = new Error(`${what}: ${name}`);
  err.code = name;
  err.errno = errno;
  return err;
}

export class NativePacketSocket implements PacketSocket {
  readonly kind = 'native';
  /** Receives handler exceptions; settable after bind. */
  onError: ((err: unknown) => void) | undefined;

  private readonly udp: NativeUdp;
  /** The receive slab; the same object for every datagram. */
  private readonly buf: Uint8Array;
  private readonly meta32: Int32Array;
  private readonly meta8: Uint8Array;
  private readonly ip4 = new Uint8Array(4);
  private readonly ip6 = new Uint8Array(16);
  /** The address of every datagram; the open fields are set only with a crypto key. */
  private readonly from: OpenedFrom = { family: 4, ip: this.ip4, port: 0, openStatus: -1, nodeId: this.ip4 };
  private handler: DatagramHandler | null = null;
  private closing: Promise<void> | null = null;
  private local: SocketAddress = { address: '', port: 0, family: 4 };
  private handlerErrors = 0;
  /** Crypto threads (1: the JS thread only). */
  readonly threads: number;
  /** setCryptoKey() was called: datagrams arrive opened (startOpened), replies can be sealed here (sealSend). */
  private crypto = false;
  private prefilter: Admit | undefined;
  /** One 64-byte view per record: the sender id, no allocation per datagram. */
  private readonly idViews: Uint8Array[] = [];

  /** Use {@link bindNative}. */
  constructor(family: 4 | 6, opts: NativeBindOptions = {}) {
    this.onError = opts.onError;
    const threads = opts.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new InvalidArgumentError(`threads must be an integer 1..256 (got ${String(opts.threads)})`);
    }
    this.threads = threads;
    const Ctor = nativeCtor();
    this.udp = new Ctor(
      family,
      (count) => this.onBatch(count),
      (err) => this.reportError(err),
      opts.maxSendQueue ?? MAX_SEND_QUEUE,
      opts.trySend ?? true,
      threads,
      opts.workQueue,
    );
    if (this.udp.metaSize !== META_WORDS * 4) {
      throw new Error('discv4-native: the addon is out of date (datagram record size); rebuild it (`npx node-gyp rebuild`)');
    }
    const mem = this.udp.memory;
    this.buf = new Uint8Array(mem, 0, this.udp.slabSize);
    this.meta32 = new Int32Array(mem, this.udp.slabSize, this.udp.metaCount * META_WORDS);
    this.meta8 = new Uint8Array(mem, this.udp.slabSize, this.udp.metaCount * META_WORDS * 4);
    for (let i = 0; i < this.udp.metaCount; i++) {
      this.idViews.push(new Uint8Array(mem, this.udp.slabSize + i * META_WORDS * 4 + DatagramRecord.Id, 64));
    }
  }

  /**
   * Gives the socket's crypto threads our key: sealSend() seals with it and
   * startOpened() delivers opened datagrams. False for a bad key (the
   * socket then stays a plain one). Used by conn.ts's NativeConn.
   */
  setCryptoKey(privateKey: Uint8Array): boolean {
    if (this.udp.setKey(privateKey) !== 0) return false;
    this.crypto = true;
    return true;
  }

  /**
   * start() for a socket with a key: each batch is screened by `admit`
   * (free checks, no crypto), the rest opened by one native call over all
   * threads, then handed to `handler` in receive order, opened.
   */
  startOpened(admit: Admit, handler: OpenedHandler): void {
    if (!this.crypto) throw new InvalidArgumentError('startOpened before setCryptoKey');
    this.prefilter = admit;
    this.start(handler as DatagramHandler);
  }

  /** @internal bindNative's second step. Returns 0 or a libuv errno. */
  bindTo(address: string, port: number, recvBufferSize: number, sendBufferSize: number): number {
    let rc = this.udp.bind(address, port);
    if (rc < 0) return rc;
    this.udp.setBufferSizes(recvBufferSize, sendBufferSize);
    const a = this.udp.address();
    if (typeof a === 'number') return a;
    this.local = a;
    // Reading starts now so an open socket keeps the loop alive like
    // dgram; the native side drops (and counts) datagrams until start().
    rc = this.udp.recvStart();
    return rc < 0 ? rc : 0;
  }

  start(handler: DatagramHandler): void {
    if (this.closing !== null) return;
    this.handler = handler;
    this.udp.startDelivery();
  }

  /**
   * One call per kernel batch: `count` records in the metadata, each
   * locating one datagram in the slab. Every handler call has its own
   * try/catch so one bad datagram never stops the rest of the batch.
   */
  private onBatch(count: number): void {
    const m = this.meta32;
    const buf = this.buf;
    const from = this.from;
    if (this.crypto) {
      // Cheap rejects first (they cost no crypto), then one native call
      // verifies the rest on all threads, then the handler walks the batch
      // in receive order.
      const prefilter = this.prefilter;
      if (prefilter !== undefined) {
        for (let i = 0; i < count; i++) {
          this.fillFrom(i);
          let ok = false;
          try {
            ok = prefilter(buf, m[i * META_WORDS + META_OFF], m[i * META_WORDS + META_LEN], from);
          } catch (err) {
            this.handlerErrors++;
            this.reportError(err);
          }
          if (!ok) m[i * META_WORDS + META_STATUS] = RecordStatus.Skip;
        }
      }
      this.udp.openBatch(count);
    }
    for (let i = 0; i < count; i++) {
      const handler = this.handler;
      if (handler === null) return; // closed from inside the batch
      const w = i * META_WORDS;
      if (this.crypto) {
        const st = m[w + META_STATUS];
        if (st === RecordStatus.Skip) continue;
        from.openStatus = st;
        from.nodeId = this.idViews[i];
      }
      this.fillFrom(i);
      try {
        handler(buf, m[w], m[w + 1], from);
      } catch (err) {
        this.handlerErrors++;
        this.reportError(err);
      }
    }
  }

  /** Sets this.from's address fields from record i. */
  private fillFrom(i: number): void {
    const m8 = this.meta8;
    const from = this.from;
    const p = i * (META_WORDS * 4) + DatagramRecord.Ip;
    from.port = this.meta32[i * META_WORDS + META_PORT];
    if (this.meta32[i * META_WORDS + META_FAMILY] === 4) {
      const ip = this.ip4;
      ip[0] = m8[p];
      ip[1] = m8[p + 1];
      ip[2] = m8[p + 2];
      ip[3] = m8[p + 3];
      from.family = 4;
      from.ip = ip;
    } else {
      const ip = this.ip6;
      for (let k = 0; k < 16; k++) ip[k] = m8[p + k];
      from.family = 6;
      from.ip = ip;
    }
  }

  private reportError(err: unknown): void {
    const onError = this.onError;
    if (onError === undefined) return;
    try {
      onError(err);
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  }

  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void): void {
    if (this.refuseSend(ip, done)) return;
    this.finishSend(this.udp.send(buf, off, len, ip, port), done);
  }

  sealSend(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void): void {
    if (this.refuseSend(ip, done)) return;
    const rc = this.udp.sealSend(buf, off, len, ip, port);
    if (rc === SendResult.BadKey) done(new DiscError('BAD_KEY', 'sealSend before setCryptoKey'));
    else this.finishSend(rc, done);
  }

  /** A closed socket or a malformed address: `done(err)` and true. */
  private refuseSend(ip: Uint8Array, done: (err?: Error) => void): boolean {
    if (this.closing !== null) {
      done(new DiscError('CLOSED', 'socket closed'));
      return true;
    }
    if (ip.length !== 4 && ip.length !== 16) {
      done(new InvalidArgumentError(`invalid IP address length ${ip.length} (want 4 or 16)`));
      return true;
    }
    return false;
  }

  private finishSend(rc: number, done: (err?: Error) => void): void {
    if (rc === SendResult.Dropped) {
      done(new DiscError('SEND_QUEUE_FULL', 'UDP send queue full; datagram dropped'));
    } else if (rc >= 0) {
      done(); // sent, or copied into a queue: buf is free either way
    } else {
      done(uvError(rc, 'UDP send failed'));
    }
  }

  address(): SocketAddress {
    return { ...this.local };
  }

  /** Resolves after libuv's close callback; the same promise on every call. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.handler = null; // no handler call from now on, even mid-batch
    this.closing = new Promise<void>((resolve) => {
      if (!this.udp.close(() => resolve())) resolve();
    });
    return this.closing;
  }

  /** Keeps the event loop alive while open (the default). */
  ref(): this {
    this.udp.ref();
    return this;
  }

  /** Lets the process exit even though the socket is open. */
  unref(): this {
    this.udp.unref();
    return this;
  }

  /**
   * datagrams (received, including `unhandled` ones before start), batches
   * (JS calls), maxBatch, truncated, sendTry (sent synchronously),
   * sendQueued, sendDropped (queue full), sendErrors, recvErrors,
   * handlerErrors, recvBufferSize / sendBufferSize (what the kernel granted,
   * in requested units), recvmmsg (1 if libuv reads with recvmmsg)...
   */
  stats(): Record<string, number> {
    const s = this.udp.stats();
    s.handlerErrors = this.handlerErrors;
    return s;
  }
}

/**
 * Binds a native UDP socket; same options and errors as bindDgram. An
 * IPv6 address binds a dual-stack IPv6 socket (IPv4 peers appear as family
 * 4). Rejects with BindError naming the address:port and the errno.
 */
export async function bindNative(opts: NativeBindOptions = {}): Promise<NativePacketSocket> {
  const address = opts.address ?? '0.0.0.0';
  const port = opts.port ?? 0;
  const where = `cannot bind UDP ${address}:${port}`;
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : 0;
  if (family === 0) {
    const cause: NodeJS.ErrnoException = new Error(`invalid address: ${JSON.stringify(address)}`);
    cause.code = 'EINVAL';
    throw new BindError(`${where}: invalid address (EINVAL)`, cause);
  }
  const socket = new NativePacketSocket(family, opts);
  const rc = socket.bindTo(
    address,
    port,
    opts.recvBufferSize ?? DEFAULT_SOCKET_BUFFER_SIZE,
    opts.sendBufferSize ?? DEFAULT_SOCKET_BUFFER_SIZE,
  );
  if (rc < 0) {
    await socket.close();
    const err = uvError(rc, where);
    throw new BindError(err.message, err);
  }
  return socket;
}
