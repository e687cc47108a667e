/**
 * The discv4 transport: owns the socket, verifies and answers packets,
 * and matches replies to requests. Behaviour follows geth's
 * p2p/discover/v4_udp.go; each packet type has a verify step (expiry,
 * bond, "did we ask?") and a handle step (effects), under the banners below.
 *
 * Hot path, per datagram: native `open` (hash + recover) and the RLP parse
 * into one reused PacketView, then the handler; replies are written into a
 * pooled 1280-byte slot and sealed in place by one native call. Bad packets
 * are counted in `stats().drops` by reason; nothing is thrown out of the
 * read loop.
 */
import { EventEmitter } from 'node:events';
import { Crypto, nativeCrypto, nodeIdFromPrivateKey } from '../crypto';
import { ClosedError, DECODE_ERROR_CODES, DecodeStatus, DiscError, InvalidArgumentError, TimeoutError } from '../errors';
import { parseRecord, signRecord } from '../enr/record';
import { packetFromView, PacketView, readOpenedPacket, readPacket } from '../wire/decode';
import {
  expirationFromNow,
  NodeBytes,
  writeEnrRequestRaw,
  writeEnrResponseRaw,
  writeFindnodeRaw,
  writeNeighborsRaw,
  writePingRaw,
  writePongRaw,
} from '../wire/encode';
import { ipToString, toIpBytes } from '../wire/ip';
import { readBigUint } from '../wire/rlp';
import { DEFAULT_EXPIRATION_SEC, Endpoint, HEAD_SIZE, NODE_ID_SIZE, Packet, PACKET_TYPE_NAMES, PacketType, PING_VERSION } from '../wire/types';
import { BondRecord, BondStore, MemoryBondStore } from './bonds';
import { Clock, systemClock } from './clock';
import { AmplificationLedger, AmplificationLimits, BoundedMap, IngressLimiter, RateLimits, Refusal } from './limits';
import { Netlist, relayIPError } from './netutil';
import { MatchResult, Matcher, PendingQueue } from './pending';
import { SendPool } from './pool';
import { PacketSocket, RemoteAddress } from './socket';

/** geth v4_udp.go respTimeout: how long a request waits for its reply. */
export const DEFAULT_RESP_TIMEOUT_MS = 500;
/** geth bondExpiration: an endpoint proof is good for 24 h. */
export const DEFAULT_BOND_EXPIRATION_MS = 24 * 60 * 60 * 1000;
/** Kademlia bucket size: a findnode is complete once this many nodes arrived. */
export const BUCKET_SIZE = 16;
/**
 * Nodes per neighbors packet (geth v4wire.MaxNeighbors). An IPv6 entry is
 * at most 2 + 17 + 3 + 3 + 66 = 91 bytes; 12 of them plus headers and
 * expiration stay under 1280: 97 + 1 + 3 + 3 + 12 * 91 + 9 = 1205.
 */
export const MAX_NEIGHBORS_PER_PACKET = 12;
/** The pending-queue node key of pings to an unknown id (no real key is empty). */
const ANY_NODE = '';
/** Findnode requests held while their sender's bond completes (see deferFindnode). */
export const MAX_DEFERRED_FINDNODES = 1024;
/** geth maxFindnodeFailures: past this many failures we re-bond before asking again. */
export const MAX_FINDNODE_FAILURES = 5;
/**
 * After a ping-back that got no pong, the same node at the same IP gets no
 * new ping-back for this long, doubling per further failure up to
 * PINGBACK_BACKOFF_MAX_MS (its pings are still answered with pongs). A key
 * that pings and never answers would otherwise spend its IP's amplification
 * allowance on every ping, and starve honest newcomers behind that address.
 */
export const PINGBACK_BACKOFF_MS = 5_000;
export const PINGBACK_BACKOFF_MAX_MS = 5 * 60_000;

/**
 * Why we ping (reth's PingReason): a ping-back answers a ping from a node
 * without a bond and is paid from that IP's amplification budget; our own
 * requests (revalidation, lookups, DB seeds, the CLI's ping) go to nodes we
 * chose and are not.
 */
const enum PingReason {
  Request = 0,
  PingBack = 1,
}

/** A node to talk to. */
export interface RemoteNode {
  id: Uint8Array;
  ip: Uint8Array | string;
  udpPort: number;
  tcpPort?: number;
}

export interface RequestOptions {
  /** This request's reply deadline instead of the transport's respTimeoutMs. */
  timeoutMs?: number;
}

/** A node that proved its endpoint by answering our ping (geth: addInboundNode). */
export interface VerifiedNode {
  id: Buffer;
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
}

export interface PongInfo {
  /** Our endpoint as the peer saw it (the pong's `to`): input for IP prediction. */
  to: Endpoint;
  /** The peer's record sequence number (EIP-868), when it sent one. */
  enrSeq?: bigint;
  rttMs: number;
}

/** An inbound packet as emitted to listeners (built only when someone listens). */
export interface InboundPacket<P extends Packet = Packet> {
  packet: P;
  from: { address: string; port: number; family: 4 | 6 };
}

export interface TransportConfig {
  privateKey: Uint8Array;
  /** A bound socket (bindDgram / bindNative). The transport closes it on close(). */
  socket: PacketSocket;
  /** Our endpoint as advertised in ping.from. Default: the socket's address, TCP port 0. */
  endpoint?: { ip: Uint8Array | string; udpPort: number; tcpPort?: number };
  /** Our node record (RLP) and its sequence number. Default: a record signed by our key with the endpoint above, seq 1. */
  localRecord?: { seq: bigint; record: Uint8Array };
  /** Closest known nodes to a target hash, for answering findnode. Default: none. */
  closest?: (targetHash: Buffer, count: number) => readonly NodeBytes[];
  respTimeoutMs?: number;
  bondExpirationMs?: number;
  /** Seconds added to now for outgoing packets' expiration. Default 20. */
  expirationSec?: number;
  /** Bound of the pending-reply queue. Default 10,000. */
  maxPending?: number;
  /** Send slots (1280 bytes each). Default 1,024. */
  sendSlots?: number;
  bonds?: BondStore;
  /** Packets from outside these networks are dropped; nodes outside are never relayed. */
  netrestrict?: Netlist;
  /** Monotonic clock for request deadlines. */
  clock?: Clock;
  /** Wall clock in ms for bond times and packet expiration. Default Date.now. */
  now?: () => number;
  crypto?: Crypto;
  /**
   * Ingress rate limits, checked before any crypto (limits.ts
   * DEFAULT_RATE_LIMITS for a bootnode); false turns them off.
   */
  rateLimits?: RateLimits | false;
  /**
   * The amplification budget for replies to endpoints without a bond
   * (limits.ts DEFAULT_AMPLIFICATION_LIMITS); false turns it off.
   */
  amplification?: AmplificationLimits | false;
  /**
   * Shorthand for `amplification.burstBytes` (default 4,096); Infinity turns the budget off.
   */
  amplificationAllowance?: number;
  /** Source IPs to drop before any crypto (a ban list). */
  isBannedIp?: (ip: Uint8Array) => boolean;
  /** Node ids whose packets are dropped once verified (a ban list). */
  isBannedId?: (id: Uint8Array) => boolean;
  /** Called (at most once per window) for an IP that keeps exceeding the rate limits: e.g. ban it. */
  onAbusiveIp?: (ip: Uint8Array) => void;
  /**
   * Receives datagrams that are not discv4 (outer hash mismatch, or
   * shorter than 98 bytes), e.g. for a discv5 service sharing the port. The view and
   * `from` are valid during the call only. Without it they are dropped as bad_hash.
   */
  onUnhandled?: (buf: Uint8Array, off: number, len: number, from: RemoteAddress) => void;
}

/** Drop reasons counted by the transport (beside the decode codes). */
export type DropReason =
  | Lowercase<Exclude<(typeof DECODE_ERROR_CODES)[number], 'OK'>>
  | 'self'
  | 'unsolicited'
  | 'unbonded'
  | 'netrestrict'
  | 'handler_error'
  | 'send_pool_exhausted'
  | 'rate_global'
  | 'rate_ip'
  | 'rate_type'
  | 'amplification'
  | 'banned';

export interface TransportStats {
  packetsIn: Record<string, number>;
  packetsOut: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  drops: Record<DropReason, number>;
  pending: number;
  bonds: number;
  timeouts: number;
  /** Findnode requests answered after their sender's bond completed (held meanwhile). */
  deferredFindnodes: number;
  /** Bytes sent to / received from endpoints without a bond, and sends refused (amplification ledger). */
  unproven: { bytesSent: number; bytesReceived: number; refusedBytes: number; trackedIps: number };
  /** Source IPs the rate limiter tracks right now. */
  rateLimitedIps: number;
  /** Non-discv4 datagrams handed to onUnhandled (e.g. discv5). */
  unhandled: number;
}

/** Events of a Transport, by name. Packet events carry copies, safe to keep. */
export interface TransportEvents {
  ping: [InboundPacket<Extract<Packet, { type: PacketType.Ping }>>];
  pong: [InboundPacket<Extract<Packet, { type: PacketType.Pong }>>];
  findnode: [InboundPacket<Extract<Packet, { type: PacketType.Findnode }>>];
  neighbors: [InboundPacket<Extract<Packet, { type: PacketType.Neighbors }>>];
  enrRequest: [InboundPacket<Extract<Packet, { type: PacketType.EnrRequest }>>];
  enrResponse: [InboundPacket<Extract<Packet, { type: PacketType.EnrResponse }>>];
  /** A node that pinged us and holds a fresh endpoint proof (answered our ping). */
  inboundNode: [VerifiedNode];
  /** A handler threw (counted as drops.handler_error); the read loop goes on. */
  handlerError: [unknown];
  close: [];
}

/** Event and stats names by packet type, as an array for the hot path. */
const TYPE_NAMES = ['', ...[1, 2, 3, 4, 5, 6].map((t) => PACKET_TYPE_NAMES[t as PacketType])] as Array<keyof TransportEvents | ''>;

/** 4 or 16 IP bytes as a short latin1 string: the IP half of map keys. */
export function ipKeyOf(ip: Uint8Array): string {
  if (ip.length === 4) return String.fromCharCode(ip[0], ip[1], ip[2], ip[3]);
  let s = '';
  for (let i = 0; i < ip.length; i++) s += String.fromCharCode(ip[i]);
  return s;
}

/** a[aOff, aOff+len) == b[bOff, bOff+len), without making views. */
function equalAt(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

function latin1(b: Buffer): string {
  return b.toString('latin1');
}

export interface Transport {
  on<K extends keyof TransportEvents>(event: K, listener: (...args: TransportEvents[K]) => void): this;
  once<K extends keyof TransportEvents>(event: K, listener: (...args: TransportEvents[K]) => void): this;
  off<K extends keyof TransportEvents>(event: K, listener: (...args: TransportEvents[K]) => void): this;
  emit<K extends keyof TransportEvents>(event: K, ...args: TransportEvents[K]): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Transport extends EventEmitter {
  readonly nodeId: Buffer;
  readonly socket: PacketSocket;
  private readonly priv: Buffer;
  private readonly crypto: Crypto;
  private readonly clock: Clock;
  private readonly wallNow: () => number;
  private readonly respTimeoutMs: number;
  private readonly bondExpirationMs: number;
  private readonly expirationSec: number;
  private readonly pending: PendingQueue<PacketView>;
  private readonly pool: SendPool;
  private readonly bonds: BondStore;
  private readonly netrestrict?: Netlist;
  private readonly closest: (targetHash: Buffer, count: number) => readonly NodeBytes[];
  private readonly view = new PacketView();
  private readonly targetHash = Buffer.alloc(32);
  private readonly ourIp: Uint8Array;
  private readonly ourUdp: number;
  private readonly ourTcp: number;
  private localSeq: number | bigint = 1;
  private localRecordRlp: Uint8Array;
  private closed = false;
  private closing?: Promise<void>;
  /** The socket verifies datagrams and seals replies itself (native socket, native crypto). */
  private socketCrypto = false;
  /** Ping-backs in flight, so a burst of pings from one node sends one. */
  private readonly pingBacks = new Set<string>();
  /** Findnode requests held until the ping-back of their sender completes (see deferFindnode). */
  private readonly deferred = new Map<string, { id: Buffer; target: Buffer; ip: Buffer; port: number }>();
  private packetsDeferredAnswered = 0;
  /** Nodes whose last ping-back got no pong: no new ping-back before `untilMs` (see PINGBACK_BACKOFF_MS). */
  private readonly pingBackFailures = new BoundedMap<string, { untilMs: number; fails: number }>(100_000);
  /** Pings in flight to endpoints of unknown id (pingAddress): their pongs match on IP and token only. */
  private addressPings = 0;
  /** ensureBond waiters for an inbound ping, by bond key. */
  private readonly pingWaiters = new Map<string, Array<() => void>>();

  private readonly packetsIn = new Float64Array(7);
  private readonly packetsOut = new Float64Array(7);
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly decodeDrops = new Float64Array(8);
  private readonly drops = {
    self: 0,
    unsolicited: 0,
    unbonded: 0,
    netrestrict: 0,
    handler_error: 0,
    send_pool_exhausted: 0,
    rate_global: 0,
    rate_ip: 0,
    rate_type: 0,
    amplification: 0,
    banned: 0,
  };
  private readonly isBannedIp?: (ip: Uint8Array) => boolean;
  private readonly isBannedId?: (id: Uint8Array) => boolean;
  private readonly onAbusiveIp?: (ip: Uint8Array) => void;
  private unhandled?: (buf: Uint8Array, off: number, len: number, from: RemoteAddress) => void;
  private unhandledPackets = 0;
  private readonly limiter?: IngressLimiter;
  private readonly ledger?: AmplificationLedger;

  constructor(cfg: TransportConfig) {
    super();
    if (!(cfg.privateKey instanceof Uint8Array) || cfg.privateKey.length !== 32) {
      throw new InvalidArgumentError('privateKey must be 32 bytes');
    }
    this.crypto = cfg.crypto ?? nativeCrypto;
    this.priv = Buffer.from(cfg.privateKey);
    this.nodeId = nodeIdFromPrivateKey(this.priv, this.crypto);
    this.socket = cfg.socket;
    this.clock = cfg.clock ?? systemClock;
    this.wallNow = cfg.now ?? Date.now;
    this.respTimeoutMs = cfg.respTimeoutMs ?? DEFAULT_RESP_TIMEOUT_MS;
    this.bondExpirationMs = cfg.bondExpirationMs ?? DEFAULT_BOND_EXPIRATION_MS;
    this.expirationSec = cfg.expirationSec ?? DEFAULT_EXPIRATION_SEC;
    this.pending = new PendingQueue<PacketView>({
      maxPending: cfg.maxPending ?? 10_000,
      clock: this.clock,
      onCallbackError: () => this.drops.handler_error++,
    });
    this.pool = new SendPool(cfg.sendSlots ?? 1024);
    this.bonds = cfg.bonds ?? new MemoryBondStore();
    this.netrestrict = cfg.netrestrict;
    this.closest = cfg.closest ?? (() => []);
    const addr = this.socket.address();
    const ep = cfg.endpoint ?? { ip: addr.address, udpPort: addr.port, tcpPort: 0 };
    this.ourIp = toIpBytes(ep.ip);
    this.ourUdp = ep.udpPort;
    this.ourTcp = ep.tcpPort ?? 0;
    const local = cfg.localRecord ?? {
      seq: 1n,
      record: signRecord(this.priv, 1n, { [this.ourIp.length === 4 ? 'ip' : 'ip6']: this.ourIp, [this.ourIp.length === 4 ? 'udp' : 'udp6']: this.ourUdp }, this.crypto),
    };
    this.localRecordRlp = local.record;
    this.setLocalSeq(local.seq);
    this.isBannedIp = cfg.isBannedIp;
    this.isBannedId = cfg.isBannedId;
    this.onAbusiveIp = cfg.onAbusiveIp;
    this.unhandled = cfg.onUnhandled;
    if (cfg.rateLimits !== false) this.limiter = new IngressLimiter(cfg.rateLimits ?? {}, this.clock.now());
    const allowance = cfg.amplificationAllowance;
    if (cfg.amplification !== false && allowance !== Infinity) {
      this.ledger = new AmplificationLedger({ ...(allowance === undefined ? {} : { burstBytes: allowance }), ...(cfg.amplification ?? {}) });
    }
    // With our native crypto, a socket that can do it verifies datagrams
    // and seals replies on its own threads (all cores); the cheap rejects
    // (netrestrict, rate limits) run before that crypto, as they do here.
    // A custom Crypto keeps it all here.
    if (this.crypto === nativeCrypto && this.socket.enableCrypto !== undefined) {
      const prefilter =
        this.netrestrict === undefined && this.limiter === undefined
          ? undefined
          : (buf: Uint8Array, off: number, len: number, from: RemoteAddress) => {
              if (this.admit(buf, off, len, from)) return true;
              this.bytesIn += len;
              return false;
            };
      this.socketCrypto = this.socket.enableCrypto(this.priv, prefilter) && this.socket.sealSend !== undefined;
    }
    this.socket.start(this.onDatagram);
  }

  /** Sets (or clears) the receiver of non-discv4 datagrams (see TransportConfig.onUnhandled). */
  setUnhandledHandler(fn: ((buf: Uint8Array, off: number, len: number, from: RemoteAddress) => void) | undefined): void {
    this.unhandled = fn;
  }

  /** Replaces the record served to ENRRequest and the enr-seq sent in ping/pong. */
  setLocalRecord(record: Uint8Array, seq: bigint): void {
    this.localRecordRlp = record;
    this.setLocalSeq(seq);
  }

  private setLocalSeq(seq: bigint): void {
    // Numbers encode without BigInt arithmetic on the hot path.
    this.localSeq = seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq;
  }

  // ------------------------------------------------------------ read loop

  private readonly onDatagram = (buf: Uint8Array, off: number, len: number, from: RemoteAddress): void => {
    this.bytesIn += len;
    if (this.closed) return;
    const opened = from.openStatus;
    // Cheap rejects before the elliptic-curve work (a socket doing the
    // crypto itself ran them already, in its prefilter).
    if (opened === undefined && !this.admit(buf, off, len, from)) return;
    const view = this.view;
    const st =
      opened !== undefined && from.nodeId !== undefined
        ? readOpenedPacket(view, buf, off, len, opened, from.nodeId, this.wallNow() / 1000)
        : readPacket(view, buf, off, len, this.wallNow() / 1000, this.crypto);
    if (st !== DecodeStatus.Ok) {
      // Not discv4 (the outer hash does not match, or shorter than any
      // discv4 packet: discv5's WHOAREYOU is 63 bytes): maybe another
      // protocol on the same port, e.g. discv5 (geth's unhandled-packet channel).
      if ((st === DecodeStatus.BadHash || st === DecodeStatus.TooSmall) && this.unhandled !== undefined) {
        this.unhandledPackets++;
        this.unhandled(buf, off, len, from);
        return;
      }
      this.decodeDrops[st]++;
      return;
    }
    const type = view.type;
    this.packetsIn[type]++;
    if (view.nodeId.equals(this.nodeId)) {
      this.drops.self++;
      return;
    }
    if (this.isBannedId !== undefined && this.isBannedId(view.nodeId)) {
      this.drops.banned++;
      return;
    }
    // Credit for replies to this IP while it has no bond (amplification ledger).
    this.ledger?.received(from.ip, len, this.clock.now());
    try {
      switch (type) {
        case PacketType.Ping:
          this.handlePing(view, from);
          break;
        case PacketType.Pong:
          this.verifyPong(view, from);
          break;
        case PacketType.Findnode:
          if (this.hasBond(view, from)) this.handleFindnode(view, from);
          else this.deferFindnode(view, from);
          break;
        case PacketType.Neighbors:
          this.verifyReply(view, from);
          break;
        case PacketType.EnrRequest:
          if (this.verifyBonded(view, from)) this.handleEnrRequest(view, from);
          break;
        case PacketType.EnrResponse:
          this.verifyReply(view, from);
          break;
      }
    } catch (err) {
      this.drops.handler_error++;
      if (this.listenerCount('handlerError') > 0) this.emit('handlerError', err);
    }
  };

  /** netrestrict and the rate limits; counts what it refuses. No crypto, no allocation for IPv4. */
  private admit(buf: Uint8Array, off: number, len: number, from: RemoteAddress): boolean {
    if (this.netrestrict !== undefined && !this.netrestrict.contains(from.ip)) {
      this.drops.netrestrict++;
      return false;
    }
    if (this.isBannedIp !== undefined && this.isBannedIp(from.ip)) {
      this.drops.banned++;
      return false;
    }
    const limiter = this.limiter;
    if (limiter === undefined) return true;
    // The type byte, unverified: a forged one fails the hash check later.
    const r = limiter.admit(from.ip, len > HEAD_SIZE ? buf[off + HEAD_SIZE] : 0, this.clock.now());
    if (r === Refusal.None) return true;
    if (r === Refusal.Global) this.drops.rate_global++;
    else {
      if (r === Refusal.Ip) this.drops.rate_ip++;
      else this.drops.rate_type++;
      if (this.onAbusiveIp !== undefined && limiter.abusive(from.ip, this.clock.now())) this.onAbusiveIp(Buffer.from(from.ip));
    }
    return false;
  }

  /**
   * Books `len` bytes to an endpoint without a bond; false (counted) if
   * that would amplify. Ping-backs leave the pong reserve untouched.
   */
  private spendUnproven(ip: Uint8Array, len: number, reason: PingReason | undefined): boolean {
    const ledger = this.ledger;
    if (ledger === undefined) return true;
    if (ledger.spend(ip, len, this.clock.now(), reason === PingReason.PingBack ? ledger.limits.pongReserveBytes : 0)) return true;
    this.drops.amplification++;
    return false;
  }

  private emitPacket(view: PacketView, from: RemoteAddress): void {
    const name = TYPE_NAMES[view.type];
    if (this.listenerCount(name) === 0) return;
    const info: InboundPacket = {
      packet: packetFromView(view),
      from: { address: ipToString(from.ip) ?? '', port: from.port, family: from.family },
    };
    // Views into the receive slot die with this callback: give listeners copies.
    copyPacketBytes(info.packet);
    (this.emit as (event: string, arg: InboundPacket) => boolean)(name, info);
  }

  // ------------------------------------------------------------ PING/v4

  private handlePing(view: PacketView, from: RemoteAddress): void {
    const now = this.wallNow();
    const rec = this.bonds.upsert(view.nodeId, 0, from.ip);
    const unproven = now - rec.lastPongReceivedMs > this.bondExpirationMs;
    // Reply to the datagram's real source, whatever the ping claims. A pong
    // the budget refuses takes the ping-back with it: never ping-back alone.
    const ponged = this.sendPong(view, from, unproven);
    rec.lastPingReceivedMs = now;
    if (this.pingWaiters.size > 0) {
      const key = latin1(view.nodeId) + ipKeyOf(from.ip);
      const waiters = this.pingWaiters.get(key);
      if (waiters !== undefined) {
        this.pingWaiters.delete(key);
        for (const w of waiters) w();
      }
    }
    const wantsInbound = this.listenerCount('inboundNode') > 0;
    if (unproven) {
      // No endpoint proof on file: ping back so both sides are bonded; the
      // node becomes a table candidate only once it answers. (Keys are
      // built here only: once per new node, not per ping.)
      const nodeKey = latin1(view.nodeId);
      const ipKey = ipKeyOf(from.ip);
      const key = nodeKey + ipKey;
      if (ponged && !this.pingBacks.has(key) && !this.closed && !this.pingBackBackedOff(key)) {
        this.pingBacks.add(key);
        const node = this.verifiedFromView(view, from);
        this.pingRaw(node.ip, node.udpPort, nodeKey, ipKey, undefined, PingReason.PingBack).then(
          () => {
            this.pingBacks.delete(key);
            this.pingBackFailures.delete(key);
            this.releaseDeferred(key, true);
            if (wantsInbound || this.listenerCount('inboundNode') > 0) this.emit('inboundNode', node);
          },
          () => {
            this.pingBacks.delete(key);
            this.pingBackFailed(key);
            this.releaseDeferred(key, false);
          },
        );
      }
    } else if (wantsInbound) {
      this.emit('inboundNode', this.verifiedFromView(view, from));
    }
    this.emitPacket(view, from);
  }

  /** Whether `key` (node + IP) is in its back-off after an unanswered ping-back. */
  private pingBackBackedOff(key: string): boolean {
    if (this.pingBackFailures.size === 0) return false;
    const f = this.pingBackFailures.get(key);
    return f !== undefined && this.clock.now() < f.untilMs;
  }

  private pingBackFailed(key: string): void {
    const fails = (this.pingBackFailures.get(key)?.fails ?? 0) + 1;
    const wait = Math.min(PINGBACK_BACKOFF_MAX_MS, PINGBACK_BACKOFF_MS * 2 ** (fails - 1));
    this.pingBackFailures.delete(key);
    this.pingBackFailures.set(key, { untilMs: this.clock.now() + wait, fails });
  }

  private verifiedFromView(view: PacketView, from: RemoteAddress): VerifiedNode {
    return { id: Buffer.from(view.nodeId), ip: Buffer.from(from.ip), udpPort: from.port, tcpPort: view.fromTcp };
  }

  /** Sends the pong to `view`'s ping; false if it did not go out (budget, send pool). */
  private sendPong(view: PacketView, from: RemoteAddress, unproven: boolean): boolean {
    const slot = this.acquire();
    if (slot < 0) return false;
    const pool = this.pool;
    const len = writePongRaw(
      pool.slab,
      pool.offset(slot),
      from.ip,
      from.port,
      view.fromTcp,
      view.buf,
      view.off,
      this.expiration(),
      this.localSeq,
    );
    if (unproven && len > 0 && !this.spendUnproven(from.ip, len, undefined)) {
      pool.release(slot);
      return false;
    }
    return this.sealAndSend(slot, len, PacketType.Pong, from.ip, from.port);
  }

  // ------------------------------------------------------------ PONG/v4

  private verifyPong(view: PacketView, from: RemoteAddress): void {
    const nodeKey = latin1(view.nodeId);
    const ipKey = ipKeyOf(from.ip);
    if (
      !this.pending.dispatch(nodeKey, ipKey, PacketType.Pong, view) &&
      (this.addressPings === 0 || !this.pending.dispatch(ANY_NODE, ipKey, PacketType.Pong, view))
    ) {
      this.drops.unsolicited++;
      return;
    }
    this.bonds.upsert(view.nodeId, 0, from.ip).lastPongReceivedMs = this.wallNow();
    this.emitPacket(view, from);
  }

  // ------------------------------------------------------------ FINDNODE/v4

  /**
   * Endpoint proof: answer findnode and ENRRequest only if this node
   * answered our ping from this IP within the bond window. Without it an
   * attacker could spoof a victim's address and have us send it neighbors
   * packets many times larger than the request (amplification).
   */
  private verifyBonded(view: PacketView, from: RemoteAddress): boolean {
    if (this.hasBond(view, from)) return true;
    this.drops.unbonded++;
    return false;
  }

  private hasBond(view: PacketView, from: RemoteAddress): boolean {
    const rec = this.bonds.get(view.nodeId, 0, from.ip);
    return rec !== undefined && this.wallNow() - rec.lastPongReceivedMs <= this.bondExpirationMs;
  }

  /**
   * A findnode from a node we are bonding with right now (it pinged us,
   * our ping-back is in flight) is held until its pong proves the endpoint,
   * then answered; anything else unbonded is dropped. Clients that ask
   * right after their first ping (ethjs's bootstrap does) would otherwise
   * get nothing until their next refresh. Still no reply before the proof,
   * so no amplification; held requests are bounded.
   */
  private deferFindnode(view: PacketView, from: RemoteAddress): void {
    if (this.pingBacks.size === 0 || this.deferred.size >= MAX_DEFERRED_FINDNODES) {
      this.drops.unbonded++;
      return;
    }
    const key = latin1(view.nodeId) + ipKeyOf(from.ip);
    if (!this.pingBacks.has(key) || this.deferred.has(key)) {
      this.drops.unbonded++;
      return;
    }
    this.deferred.set(key, {
      id: Buffer.from(view.nodeId),
      target: Buffer.from(view.buf.subarray(view.targetStart, view.targetStart + NODE_ID_SIZE)),
      ip: Buffer.from(from.ip),
      port: from.port,
    });
  }

  /** The ping-back of `key` ended: answer the findnode held for it, if any. */
  private releaseDeferred(key: string, bonded: boolean): void {
    const d = this.deferred.get(key);
    if (d === undefined) return;
    this.deferred.delete(key);
    if (!bonded || this.closed) {
      this.drops.unbonded++;
      return;
    }
    this.packetsDeferredAnswered++;
    this.answerFindnode(d.id, d.target, 0, d.ip, d.port);
  }

  private handleFindnode(view: PacketView, from: RemoteAddress): void {
    this.answerFindnode(view.nodeId, view.buf, view.targetStart, from.ip, from.port);
    this.emitPacket(view, from);
  }

  private answerFindnode(requester: Uint8Array, target: Uint8Array, targetOff: number, ip: Uint8Array, port: number): void {
    this.crypto.keccak256Into(target, targetOff, NODE_ID_SIZE, this.targetHash, 0);
    // One more than a bucket: the requester itself is often among the
    // closest (a self lookup). We leave it out (it learns nothing from its
    // own entry; geth includes it), and asking for 17 keeps the reply at 16
    // so the requester does not wait out its timeout for a 16th node.
    const closest = this.closest(this.targetHash, BUCKET_SIZE + 1);
    // Keep only what this requester may be told: never itself, never
    // addresses it could not reach (geth CheckRelayIP), never outside netrestrict.
    const nodes: NodeBytes[] = [];
    for (const n of closest) {
      if (nodes.length === BUCKET_SIZE) break;
      if (n.id.length === NODE_ID_SIZE && equalAt(requester, 0, n.id, 0, NODE_ID_SIZE)) continue;
      if (relayIPError(ip, n.ip) !== undefined) continue;
      if (this.netrestrict !== undefined && !this.netrestrict.contains(n.ip)) continue;
      nodes.push(n);
    }
    // geth sends one (possibly empty) packet even when it knows nobody.
    const exp = this.expiration();
    let start = 0;
    do {
      const end = Math.min(nodes.length, start + MAX_NEIGHBORS_PER_PACKET);
      const slot = this.acquire();
      if (slot < 0) return;
      const len = writeNeighborsRaw(this.pool.slab, this.pool.offset(slot), nodes, start, end, exp);
      this.sealAndSend(slot, len, PacketType.Neighbors, ip, port);
      start = end;
    } while (start < nodes.length);
  }

  // ------------------------------------------------------------ NEIGHBORS/v4, ENRRESPONSE/v4

  private verifyReply(view: PacketView, from: RemoteAddress): void {
    if (!this.pending.dispatch(latin1(view.nodeId), ipKeyOf(from.ip), view.type, view)) {
      this.drops.unsolicited++;
      return;
    }
    this.emitPacket(view, from);
  }

  // ------------------------------------------------------------ ENRREQUEST/v4

  private handleEnrRequest(view: PacketView, from: RemoteAddress): void {
    const slot = this.acquire();
    if (slot < 0) return;
    const len = writeEnrResponseRaw(this.pool.slab, this.pool.offset(slot), view.buf, view.off, this.localRecordRlp);
    this.sealAndSend(slot, len, PacketType.EnrResponse, from.ip, from.port);
    this.emitPacket(view, from);
  }

  // ------------------------------------------------------------ sending

  private expiration(): number {
    return expirationFromNow(this.wallNow(), this.expirationSec);
  }

  private acquire(): number {
    const slot = this.pool.acquire();
    if (slot < 0) this.drops.send_pool_exhausted++;
    return slot;
  }

  /** Seals slot's packet in place and sends it. Returns false if it could not be built. */
  private sealAndSend(slot: number, len: number, type: PacketType, ip: Uint8Array, port: number): boolean {
    const pool = this.pool;
    const off = pool.offset(slot);
    if (this.socketCrypto && len >= 0) {
      // Sealed (and sent) on the socket's crypto threads.
      this.bytesOut += len;
      this.packetsOut[type]++;
      this.socket.sealSend!(pool.slab, off, len, ip, port, pool.releaser(slot));
      return true;
    }
    if (len < 0 || this.crypto.seal(pool.slab, off, len, this.priv) !== 0) {
      pool.release(slot);
      return false;
    }
    this.bytesOut += len;
    this.packetsOut[type]++;
    this.socket.send(pool.slab, off, len, ip, port, pool.releaser(slot));
    return true;
  }

  /**
   * Sends a request built by `write` into a fresh slot and registers `m`
   * for its reply. The packet hash (the reply token) is copied into
   * `token` before sending.
   */
  private request(
    m: Matcher<PacketView>,
    ip: Uint8Array,
    port: number,
    type: PacketType,
    token: Buffer | undefined,
    write: (buf: Buffer, off: number) => number,
    timeoutMs = this.respTimeoutMs,
    reason = PingReason.Request,
  ): void {
    if (this.closed) {
      m.onDone(new ClosedError());
      return;
    }
    const slot = this.pool.acquire();
    if (slot < 0) {
      this.drops.send_pool_exhausted++;
      m.onDone(new DiscError('SEND_POOL_EXHAUSTED', 'no free send buffer'));
      return;
    }
    const off = this.pool.offset(slot);
    const len = write(this.pool.slab, off);
    if (len < 0 || this.crypto.seal(this.pool.slab, off, len, this.priv) !== 0) {
      this.pool.release(slot);
      m.onDone(new InvalidArgumentError('request packet could not be built'));
      return;
    }
    if (reason === PingReason.PingBack && !this.spendUnproven(ip, len, reason)) {
      this.pool.release(slot);
      m.onDone(new DiscError('AMPLIFICATION', 'ping-back not sent: the amplification budget of this IP is spent'));
      return;
    }
    if (token !== undefined) this.pool.slab.copy(token, 0, off, off + 32);
    // Register before sending: on loopback the reply can arrive in the
    // next event-loop turn, and the matcher must already be there.
    const handle = this.pending.add(m, timeoutMs);
    if (handle === 0) {
      this.pool.release(slot);
      return;
    }
    this.bytesOut += len;
    this.packetsOut[type]++;
    this.socket.send(this.pool.slab, off, len, ip, port, (err) => {
      this.pool.release(slot);
      // A request that never left fails now rather than at its deadline.
      if (err !== undefined) this.pending.cancel(handle, err);
    });
  }

  // ------------------------------------------------------------ requests

  /** Pings a node; resolves with what its pong said. Rejects with TimeoutError / ClosedError / QueueFullError. */
  ping(node: RemoteNode, opts: RequestOptions = {}): Promise<PongInfo> {
    const n = checkNode(node);
    return this.pingRaw(n.ip, n.udpPort, latin1(n.id), ipKeyOf(n.ip), opts.timeoutMs, PingReason.Request);
  }

  /**
   * Pings an endpoint whose node id we do not know (an ethjs-style
   * `addPeer({ address, udpPort })`); resolves with the id that signed the
   * pong. The pong must come from that IP and carry our ping's hash, which
   * only a receiver of the ping can know.
   */
  async pingAddress(ip: Uint8Array | string, udpPort: number, opts: RequestOptions = {}): Promise<PongInfo & { id: Buffer }> {
    if (!Number.isInteger(udpPort) || udpPort <= 0 || udpPort > 0xffff) {
      throw new InvalidArgumentError(`udpPort must be 1..65535 (got ${String(udpPort)})`);
    }
    const ipBytes = toIpBytes(ip);
    this.addressPings++;
    try {
      const info = await this.pingRaw(ipBytes, udpPort, ANY_NODE, ipKeyOf(ipBytes), opts.timeoutMs, PingReason.Request);
      return info as PongInfo & { id: Buffer };
    } finally {
      this.addressPings--;
    }
  }

  private pingRaw(ip: Uint8Array, udpPort: number, nodeKey: string, ipKey: string, timeoutMs: number | undefined, reason: PingReason): Promise<PongInfo> {
    return new Promise<PongInfo>((resolve, reject) => {
      const token = Buffer.allocUnsafe(32);
      const sentAt = this.clock.now();
      let info: PongInfo | undefined;
      const m: Matcher<PacketView> = {
        nodeKey,
        ipKey,
        type: PacketType.Pong,
        onPacket: (v) => {
          if (!equalAt(token, 0, v.buf, v.tokenStart, 32)) return MatchResult.None;
          info = {
            to: { ip: Buffer.from(v.buf.subarray(v.toIpStart, v.toIpEnd)), udpPort: v.toUdp, tcpPort: v.toTcp },
            rttMs: this.clock.now() - sentAt,
          };
          if (v.enrSeqStart >= 0) info.enrSeq = readBigUint(v.buf, v.enrSeqStart, v.enrSeqEnd);
          if (nodeKey === ANY_NODE) (info as PongInfo & { id: Buffer }).id = Buffer.from(v.nodeId);
          return MatchResult.Done;
        },
        onDone: (err) => {
          if (err === undefined && info !== undefined) resolve(info);
          else {
            reject(err ?? new TimeoutError('ping: no pong'));
          }
        },
      };
      const ourIp = this.ourIp;
      this.request(m, ip, udpPort, PacketType.Ping, token, (buf, off) =>
        writePingRaw(buf, off, PING_VERSION, ourIp, this.ourUdp, this.ourTcp, ip, udpPort, 0, this.expiration(), this.localSeq),
        timeoutMs,
        reason,
      );
    });
  }

  /**
   * Makes sure the node will answer our findnode/ENRRequest: if it has not
   * pinged us within the bond window (so it holds no proof of our
   * endpoint), ping it and give it one response timeout to ping us back
   * (geth ensureBond; we return early when its ping arrives).
   */
  private async ensureBond(n: CheckedNode, nodeKey: string, ipKey: string): Promise<BondRecord> {
    const key = nodeKey + ipKey;
    const rec = this.bonds.get(n.id, 0, n.ip);
    const now = this.wallNow();
    if (rec !== undefined && now - rec.lastPingReceivedMs <= this.bondExpirationMs && rec.findFails <= MAX_FINDNODE_FAILURES) {
      return rec;
    }
    const pinged = new Promise<void>((resolve) => {
      const list = this.pingWaiters.get(key) ?? [];
      list.push(resolve);
      this.pingWaiters.set(key, list);
      const timer = this.clock.setTimer(() => {
        const l = this.pingWaiters.get(key);
        if (l !== undefined) {
          const i = l.indexOf(resolve);
          if (i >= 0) l.splice(i, 1);
          if (l.length === 0) this.pingWaiters.delete(key);
        }
        resolve();
      }, this.respTimeoutMs * 2);
      timer.unref?.();
    });
    await this.pingRaw(n.ip, n.udpPort, nodeKey, ipKey, undefined, PingReason.Request);
    await pinged;
    return this.bonds.upsert(n.id, 0, n.ip);
  }

  /**
   * Asks a node for the nodes closest to `target` (a 64-byte public key).
   * Collects neighbors packets until 16 nodes arrived or the response
   * timeout; a timeout after at least one packet is a success (geth).
   * Returned nodes are validated (relay rules, netrestrict, UDP port > 1024).
   */
  async findnode(node: RemoteNode, target: Uint8Array): Promise<VerifiedNode[]> {
    const n = checkNode(node);
    if (!(target instanceof Uint8Array) || target.length !== NODE_ID_SIZE) {
      throw new InvalidArgumentError('target must be a 64-byte public key');
    }
    const nodeKey = latin1(n.id);
    const ipKey = ipKeyOf(n.ip);
    const rec = await this.ensureBond(n, nodeKey, ipKey);
    const targetCopy = Buffer.from(target);
    try {
      const nodes = await new Promise<VerifiedNode[]>((resolve, reject) => {
        const nodes: VerifiedNode[] = [];
        let received = 0;
        let packets = 0;
        const m: Matcher<PacketView> = {
          nodeKey,
          ipKey,
          type: PacketType.Neighbors,
          onPacket: (v) => {
            packets++;
            for (let i = 0; i < v.nodeCount; i++) {
              received++;
              const o = i * 5;
              const ip = v.buf.subarray(v.nodes[o], v.nodes[o + 1]);
              const udpPort = v.nodes[o + 2];
              if (udpPort <= 1024) continue; // geth errLowPort
              if (relayIPError(n.ip, ip) !== undefined) continue;
              if (this.netrestrict !== undefined && !this.netrestrict.contains(ip)) continue;
              const idStart = v.nodes[o + 4];
              nodes.push({
                id: Buffer.from(v.buf.subarray(idStart, idStart + NODE_ID_SIZE)),
                ip: Buffer.from(ip),
                udpPort,
                tcpPort: v.nodes[o + 3],
              });
            }
            return received >= BUCKET_SIZE ? MatchResult.Done : MatchResult.Matched;
          },
          onDone: (err) => {
            if (err === undefined || (err instanceof TimeoutError && packets > 0)) resolve(nodes);
            else {
                reject(err);
            }
          },
        };
        this.request(m, n.ip, n.udpPort, PacketType.Findnode, undefined, (buf, off) =>
          writeFindnodeRaw(buf, off, targetCopy, this.expiration()),
        );
      });
      rec.findFails = 0;
      return nodes;
    } catch (err) {
      if (err instanceof TimeoutError) rec.findFails++;
      throw err;
    }
  }

  /** Asks a node for its record; resolves with the record's RLP (verified by the ENR layer). */
  async requestENR(node: RemoteNode): Promise<Buffer> {
    const n = checkNode(node);
    const nodeKey = latin1(n.id);
    const ipKey = ipKeyOf(n.ip);
    await this.ensureBond(n, nodeKey, ipKey);
    return new Promise<Buffer>((resolve, reject) => {
      const token = Buffer.allocUnsafe(32);
      let record: Buffer | undefined;
      const m: Matcher<PacketView> = {
        nodeKey,
        ipKey,
        type: PacketType.EnrResponse,
        onPacket: (v) => {
          if (!equalAt(token, 0, v.buf, v.tokenStart, 32)) return MatchResult.None;
          record = Buffer.from(v.buf.subarray(v.recordStart, v.recordEnd));
          return MatchResult.Done;
        },
        onDone: (err) => {
          if (err === undefined && record !== undefined) {
            // The record must verify and belong to the node we asked (geth:
            // "invalid ID in response record"), or anyone on the path could
            // hand us someone else's record.
            const parsed = parseRecord(record, this.crypto);
            if (typeof parsed === 'string') reject(new DiscError('BAD_RECORD', `invalid record in ENRResponse: ${parsed}`));
            else if (!parsed.nodeId.equals(n.id)) reject(new DiscError('BAD_RECORD', 'ENRResponse record belongs to another node'));
            else resolve(record);
          }
          else {
            reject(err ?? new TimeoutError('requestENR: no response'));
          }
        },
      };
      this.request(m, n.ip, n.udpPort, PacketType.EnrRequest, token, (buf, off) => writeEnrRequestRaw(buf, off, this.expiration()));
    });
  }

  // ------------------------------------------------------------ lifecycle and stats

  /** Stops the socket and rejects every pending request with ClosedError. Resolves once both are done. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    this.pending.close(new ClosedError());
    for (const waiters of this.pingWaiters.values()) for (const w of waiters) w();
    this.pingWaiters.clear();
    this.deferred.clear();
    this.closing = this.socket.close().then(() => {
      this.emit('close');
    });
    return this.closing;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether `node` holds a fresh endpoint proof with us (answered our ping from this IP). */
  isBonded(id: Uint8Array, ip: Uint8Array | string): boolean {
    const rec = this.bonds.get(id, 0, toIpBytes(ip));
    return rec !== undefined && this.wallNow() - rec.lastPongReceivedMs <= this.bondExpirationMs;
  }

  /** Consecutive findnode failures of this node at this IP (reset by a success). */
  findFails(id: Uint8Array, ip: Uint8Array | string): number {
    return this.bonds.get(id, 0, toIpBytes(ip))?.findFails ?? 0;
  }

  stats(): TransportStats {
    const byType = (a: Float64Array) => {
      const o: Record<string, number> = {};
      for (let t = 1; t <= 6; t++) o[TYPE_NAMES[t]] = a[t];
      return o;
    };
    const drops = { ...this.drops } as Record<DropReason, number>;
    for (let s = 1; s < DECODE_ERROR_CODES.length; s++) {
      drops[DECODE_ERROR_CODES[s].toLowerCase() as DropReason] = this.decodeDrops[s];
    }
    return {
      packetsIn: byType(this.packetsIn),
      packetsOut: byType(this.packetsOut),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      drops,
      pending: this.pending.size,
      bonds: this.bonds.size,
      timeouts: this.pending.stats().timeouts,
      deferredFindnodes: this.packetsDeferredAnswered,
      unproven: {
        bytesSent: this.ledger?.bytesSent ?? 0,
        bytesReceived: this.ledger?.bytesReceived ?? 0,
        refusedBytes: this.ledger?.refusedBytes ?? 0,
        trackedIps: this.ledger?.trackedIps ?? 0,
      },
      rateLimitedIps: this.limiter?.trackedIps ?? 0,
      unhandled: this.unhandledPackets,
    };
  }
}

interface CheckedNode {
  id: Buffer;
  ip: Uint8Array;
  udpPort: number;
}

function checkNode(node: RemoteNode): CheckedNode {
  if (node === null || typeof node !== 'object') throw new InvalidArgumentError('node must be an object');
  if (!(node.id instanceof Uint8Array) || node.id.length !== NODE_ID_SIZE) {
    throw new InvalidArgumentError('node.id must be the 64-byte node id');
  }
  if (!Number.isInteger(node.udpPort) || node.udpPort <= 0 || node.udpPort > 0xffff) {
    throw new InvalidArgumentError(`node.udpPort must be 1..65535 (got ${String(node.udpPort)})`);
  }
  return { id: Buffer.from(node.id), ip: toIpBytes(node.ip), udpPort: node.udpPort };
}

/** Replaces every view in a decoded packet by a copy (for event listeners). */
function copyPacketBytes(p: Packet): void {
  const rec = p as unknown as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    const v = rec[k];
    if (Buffer.isBuffer(v)) rec[k] = Buffer.from(v);
    else if (Array.isArray(v)) rec[k] = v.map((x) => (Buffer.isBuffer(x) ? Buffer.from(x) : copyObj(x)));
    else if (v !== null && typeof v === 'object') rec[k] = copyObj(v);
  }
}

function copyObj(o: unknown): unknown {
  if (o === null || typeof o !== 'object') return o;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = Buffer.isBuffer(v) ? Buffer.from(v) : v;
  return out;
}
