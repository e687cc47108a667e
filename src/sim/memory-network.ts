/**
 * An in-memory datagram network: PacketSockets bound to (ip, port) pairs
 * that deliver to each other without the kernel, so the real transport
 * (signing, verification, bonding, pending replies) runs unchanged over
 * thousands of nodes in one process. geth's tests do the same with
 * `dgramPipe` (p2p/discover/v4_udp_test.go); unlike it we queue a *copy*
 * of the bytes, since our transport reuses its send slots as soon as
 * `done` runs (the trap STYLE.md notes in dgramPipe).
 *
 * Semantics, mirroring the native socket (src/transport/native-socket.ts):
 * - `send` copies the datagram into the network's queue and calls `done`
 *   at once (a synchronous send); it never delivers inside `send`, so a
 *   handler that sends a reply cannot re-enter another handler.
 * - Delivery is asynchronous, FIFO, in batches: one scheduler drains the
 *   queue (setImmediate, or one setTimeout when latency is set); no timer
 *   or closure per datagram. Datagrams sent during a batch wait for the
 *   next batch, as they would in the kernel's receive queue.
 * - A datagram to an (ip, port) with no open socket is dropped (counted),
 *   as UDP to a closed port is.
 * - The handler sees a view into the batch's slab and one reused
 *   RemoteAddress (reused ip bytes too): both change after it returns.
 *   With `poisonDelivered` the bytes are overwritten right after the
 *   handler returns, so a receiver that keeps a view fails loudly in tests.
 * - While a socket is open the network keeps the event loop alive, as a
 *   bound UDP socket does: a request waiting on its (unref'd) timeout
 *   still gets to time out.
 */
import { performance } from 'node:perf_hooks';
import { DiscError, InvalidArgumentError } from '../errors';
import { ipToBytes, ipToString } from '../wire/ip';
import { MAX_PACKET_SIZE } from '../wire/types';
import type { DatagramHandler, PacketSocket, RemoteAddress, SocketAddress } from '../transport/socket';

export interface MemoryNetworkOptions {
  /** Probability in [0, 1) that a datagram is lost at send time. Default 0. */
  lossRate?: number;
  /** One-way delay added to every datagram, in ms. Default 0 (next event-loop turn). */
  latencyMs?: number;
  /** Random in [0, 1) for losses: injectable for reproducible runs. Default Math.random. */
  random?: () => number;
  /** Overwrite each datagram's bytes once its handler returned (tests of the receive contract). Default false. */
  poisonDelivered?: boolean;
  /** Sees every datagram as it is sent (after the copy, before any loss): counters by packet type, traces. */
  tap?: (buf: Uint8Array, off: number, len: number) => void;
}

export interface MemoryNetworkStats {
  /** Datagrams accepted by send() (lost ones included). */
  datagrams: number;
  /** Their bytes. */
  bytes: number;
  /** Datagrams lost (lossRate) or sent to an address nobody is bound to. */
  dropped: number;
  /** Datagrams handed to a socket's handler. */
  delivered: number;
  /** Exceptions thrown by handlers (caught, so one receiver cannot stall the network). Not reset by resetCounters. */
  handlerErrors: number;
}

/** The largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes): what a real socket would accept. */
const MAX_UDP_PAYLOAD = 65_507;

/** Where a datagram goes: IPv4 packs into one number (ip * 65536 + port), IPv6 into a string. */
type AddrKey = number | string;

function addrKey(ip: Uint8Array, port: number): AddrKey {
  if (ip.length === 4) return (((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0) * 65536 + port;
  return Buffer.from(ip).toString('latin1') + ':' + port;
}

/**
 * Queued datagrams in arrival order: bytes appended to one growing slab,
 * per-datagram fields in parallel arrays. Two of them alternate: one is
 * delivered while sends fill the other.
 */
class Batch {
  bytes: Buffer = Buffer.allocUnsafe(64 * MAX_PACKET_SIZE);
  used = 0;
  count = 0;
  readonly offs: number[] = [];
  readonly lens: number[] = [];
  readonly srcs: MemoryPacketSocket[] = [];
  readonly dsts: AddrKey[] = [];
  /** Delivery time (performance.now() ms); 0 without latency. */
  readonly dues: number[] = [];

  push(buf: Uint8Array, off: number, len: number, src: MemoryPacketSocket, dst: AddrKey, due: number): void {
    if (this.used + len > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + len));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    this.bytes.set(buf.subarray(off, off + len), this.used);
    const i = this.count++;
    this.offs[i] = this.used;
    this.lens[i] = len;
    this.srcs[i] = src;
    this.dsts[i] = dst;
    this.dues[i] = due;
    this.used += len;
  }

  reset(): void {
    // Drop references to sockets so closed ones can be collected; keep the slab.
    this.srcs.length = 0;
    this.count = 0;
    this.used = 0;
  }
}

export class MemoryNetwork {
  readonly stats: MemoryNetworkStats = { datagrams: 0, bytes: 0, dropped: 0, delivered: 0, handlerErrors: 0 };
  /** The first exception a handler threw, for tests to report. */
  firstHandlerError: unknown = undefined;
  private readonly sockets = new Map<AddrKey, MemoryPacketSocket>();
  private readonly lossRate: number;
  private readonly latencyMs: number;
  private readonly random: () => number;
  private readonly poison: boolean;
  private readonly tap?: (buf: Uint8Array, off: number, len: number) => void;
  private queue = new Batch();
  private spare = new Batch();
  /** Earliest due time in `queue` (latency only). */
  private queueMinDue = Infinity;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined = undefined;
  private delivering = false;
  private keepAlive: NodeJS.Timeout | undefined = undefined;
  private openSockets = 0;
  private drainWaiters: Array<() => void> = [];
  // One RemoteAddress and one pair of ip buffers for every delivery.
  private readonly from: RemoteAddress = { family: 4, ip: new Uint8Array(4), port: 0 };
  private readonly ip4 = new Uint8Array(4);
  private readonly ip6 = new Uint8Array(16);
  private readonly onSchedule = (): void => this.deliverBatch();

  constructor(opts: MemoryNetworkOptions = {}) {
    const lossRate = opts.lossRate ?? 0;
    const latencyMs = opts.latencyMs ?? 0;
    if (!(lossRate >= 0 && lossRate < 1)) throw new InvalidArgumentError(`lossRate must be in [0, 1), got ${lossRate}`);
    if (!(latencyMs >= 0 && Number.isFinite(latencyMs))) throw new InvalidArgumentError(`latencyMs must be >= 0, got ${latencyMs}`);
    this.lossRate = lossRate;
    this.latencyMs = latencyMs;
    this.random = opts.random ?? Math.random;
    this.poison = opts.poisonDelivered ?? false;
    this.tap = opts.tap;
  }

  /** A socket bound at ip:port (e.g. '10.0.1.2', 30303). Throws if the address is taken. */
  bind(ip: string, port: number): MemoryPacketSocket {
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) throw new InvalidArgumentError(`port must be 1..65535, got ${port}`);
    const ipBytes = ipToBytes(ip);
    const key = addrKey(ipBytes, port);
    if (this.sockets.has(key)) throw new DiscError('BIND_FAILED', `memory network: ${ip}:${port} is in use`);
    const s = new MemoryPacketSocket(this, ipBytes, port, key);
    this.sockets.set(key, s);
    this.openSockets++;
    if (this.keepAlive === undefined) this.keepAlive = setInterval(() => undefined, 1 << 30);
    return s;
  }

  /** Sockets bound and not closed. */
  get size(): number {
    return this.openSockets;
  }

  /** Datagrams queued and not yet delivered (or dropped); while a batch is being delivered, all of it counts. */
  get inFlight(): number {
    return this.queue.count + (this.delivering ? this.spare.count : 0);
  }

  /** Zeroes the traffic counters (datagrams, bytes, dropped, delivered); handlerErrors keeps counting. */
  resetCounters(): void {
    const s = this.stats;
    s.datagrams = 0;
    s.bytes = 0;
    s.dropped = 0;
    s.delivered = 0;
  }

  /**
   * Resolves once no datagram is in flight and none was sent during one
   * more event-loop turn (so promise chains woken by the last delivery
   * had their chance to send). Work waiting on a timer is not awaited.
   */
  async drain(): Promise<void> {
    for (;;) {
      if (this.queue.count > 0 || this.delivering) {
        await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
        continue;
      }
      const before = this.stats.datagrams;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.queue.count === 0 && !this.delivering && this.stats.datagrams === before) return;
    }
  }

  /** @internal Called by MemoryPacketSocket.send. */
  enqueue(src: MemoryPacketSocket, buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number): void {
    this.stats.datagrams++;
    this.stats.bytes += len;
    this.tap?.(buf, off, len);
    if (this.lossRate > 0 && this.random() < this.lossRate) {
      this.stats.dropped++;
      return;
    }
    const due = this.latencyMs > 0 ? performance.now() + this.latencyMs : 0;
    this.queue.push(buf, off, len, src, addrKey(ip, port), due);
    if (due < this.queueMinDue) this.queueMinDue = due;
    if (!this.delivering) this.schedule();
  }

  /** @internal Called by MemoryPacketSocket.close. */
  unbind(s: MemoryPacketSocket): void {
    if (this.sockets.get(s.key) !== s) return;
    this.sockets.delete(s.key);
    this.openSockets--;
    if (this.openSockets === 0 && this.keepAlive !== undefined) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  private schedule(): void {
    if (this.scheduled !== undefined || this.queue.count === 0) return;
    const wait = this.latencyMs > 0 ? this.queueMinDue - performance.now() : 0;
    this.scheduled = wait > 0 ? setTimeout(this.onSchedule, wait) : setImmediate(this.onSchedule);
  }

  /** Delivers every due datagram of the queue, in order; later ones move to the next batch. */
  private deliverBatch(): void {
    this.scheduled = undefined;
    const batch = this.queue;
    this.queue = this.spare;
    this.spare = batch;
    this.queueMinDue = Infinity;
    const now = this.latencyMs > 0 ? performance.now() : 0;
    // Not yet due: back to the queue first, ahead of anything sent below.
    if (this.latencyMs > 0) {
      for (let i = 0; i < batch.count; i++) {
        const due = batch.dues[i];
        if (due <= now) continue;
        this.queue.push(batch.bytes, batch.offs[i], batch.lens[i], batch.srcs[i], batch.dsts[i], due);
        if (due < this.queueMinDue) this.queueMinDue = due;
      }
    }
    this.delivering = true;
    const from = this.from;
    try {
      for (let i = 0; i < batch.count; i++) {
        if (batch.dues[i] > now) continue;
        const dst = this.sockets.get(batch.dsts[i]);
        const handler = dst?.handler;
        if (handler === undefined || handler === null) {
          this.stats.dropped++;
          continue;
        }
        const src = batch.srcs[i];
        if (src.ip.length === 4) {
          this.ip4.set(src.ip);
          from.family = 4;
          from.ip = this.ip4;
        } else {
          this.ip6.set(src.ip);
          from.family = 6;
          from.ip = this.ip6;
        }
        from.port = src.port;
        const off = batch.offs[i];
        const len = batch.lens[i];
        this.stats.delivered++;
        try {
          handler(batch.bytes, off, len, from);
        } catch (err) {
          this.stats.handlerErrors++;
          if (this.firstHandlerError === undefined) this.firstHandlerError = err;
        }
        if (this.poison) batch.bytes.fill(0xa5, off, off + len);
      }
    } finally {
      this.delivering = false;
      batch.reset();
    }
    this.schedule();
    if (this.queue.count === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/** A PacketSocket on a MemoryNetwork. Made by MemoryNetwork.bind. */
export class MemoryPacketSocket implements PacketSocket {
  readonly kind = 'memory';
  /** @internal The handler, null once closed. */
  handler: DatagramHandler | null | undefined = undefined;
  private sent = 0;
  private sendErrors = 0;

  /** @internal */
  constructor(
    private readonly net: MemoryNetwork,
    /** Our address: 4 or 16 bytes, never changed. */
    readonly ip: Uint8Array,
    readonly port: number,
    /** @internal */
    readonly key: AddrKey,
  ) {}

  start(handler: DatagramHandler): void {
    if (this.handler !== undefined) throw new DiscError('ALREADY_STARTED', 'socket already started');
    this.handler = handler;
  }

  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void): void {
    if (this.handler === null) {
      this.sendErrors++;
      done(new DiscError('CLOSED', 'socket closed'));
      return;
    }
    if (len > MAX_UDP_PAYLOAD || (ip.length !== 4 && ip.length !== 16)) {
      this.sendErrors++;
      done(new InvalidArgumentError(`cannot send ${len} bytes to a ${ip.length}-byte address`));
      return;
    }
    this.sent++;
    this.net.enqueue(this, buf, off, len, ip, port);
    done();
  }

  address(): SocketAddress {
    return { address: ipToString(this.ip) ?? '', port: this.port, family: this.ip.length === 4 ? 4 : 6 };
  }

  close(): Promise<void> {
    if (this.handler !== null) {
      this.handler = null;
      this.net.unbind(this);
    }
    return Promise.resolve();
  }

  stats(): Record<string, number> {
    return { sent: this.sent, sendErrors: this.sendErrors };
  }
}
