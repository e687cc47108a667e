/**
 * The discv4 transport: owns the socket, verifies and answers packets,
 * and matches replies to requests. Behaviour follows geth's
 * p2p/discover/v4_udp.go; each packet type has a verify step (expiry,
 * bond, "did we ask?") and a handle step (effects), under the banners below.
 *
 * I/O goes through one PacketConn (conn.ts): datagrams arrive opened (hash
 * checked, sender recovered: on the native socket's threads, or by the
 * Crypto on this one), replies leave as bodies the connection seals. The
 * endpoint-proof state lives in Bonding (bonding.ts); packets are
 * dispatched through one table of type -> {verify, handle} (geth's
 * wrapPacket).
 *
 * Hot path, per datagram: the cheap admission checks, the opened
 * datagram's RLP parse into one reused PacketView, then verify + handle;
 * replies are written into a pooled 1280-byte slot and sealed in place by
 * one native call. Bad packets are counted in `stats().drops` by reason;
 * nothing is thrown out of the read loop.
 */
import { EventEmitter } from 'node:events';
import { Crypto, nativeCrypto, nodeIdFromPrivateKey } from '../crypto';
import { ClosedError, DECODE_ERROR_CODES, DecodeStatus, DiscError, InvalidArgumentError, TimeoutError } from '../errors';
import { parseRecord, signRecord } from '../enr/record';
import { packetFromView, PacketView, readOpenedPacket } from '../wire/decode';
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
import { equalAt } from '../wire/bytes';
import { readBigUint } from '../wire/rlp';
import { Endpoint, HEAD_SIZE, NODE_ID_SIZE, Packet, PACKET_TYPE_NAMES, PacketType, PING_VERSION } from '../wire/types';
import { BondRecord, BondStore, MemoryBondStore } from './bonds';
import { Bonding, HoldRefusal, ipKeyOf, nodeKeyOf, PingBackOutcome } from './bonding';
import { Clock, systemClock } from './clock';
import { openConn, PacketConn, SealMode } from './conn';
import { AmplificationLedger, AmplificationLimits, IngressLimiter, RateLimits, Refusal } from './limits';
import { Netlist, relayIPError } from './netutil';
import { MatchResult, Matcher, PendingQueue } from './pending';
import { SendPool } from './pool';
import { OpenedFrom, PacketSocket, RemoteAddress } from './socket';
import { BOND_EXPIRATION_MS, BUCKET_SIZE, EXPIRATION_SEC, RESP_TIMEOUT_MS } from '../defaults';
import { RefusalReason, RefusalTally } from './refusals';

export { BUCKET_SIZE, ipKeyOf };
export { MAX_FINDNODE_FAILURES, MAX_HELD_FINDNODES as MAX_DEFERRED_FINDNODES, PINGBACK_BACKOFF_MS, PINGBACK_BACKOFF_MAX_MS } from './bonding';

/**
 * Nodes per neighbors packet (geth v4wire.MaxNeighbors). An IPv6 entry is
 * at most 2 + 17 + 3 + 3 + 66 = 91 bytes; 12 of them plus headers and
 * expiration stay under 1280: 97 + 1 + 3 + 3 + 12 * 91 + 9 = 1205.
 */
export const MAX_NEIGHBORS_PER_PACKET = 12;
/** The pending-queue node key of pings to an unknown id (no real key is empty). */
const ANY_NODE = '';

/**
 * Why we send a packet (reth's PingReason, widened to every send), which
 * decides what pays for it: replies to an endpoint without a bond and
 * ping-backs are paid from that IP's amplification budget; our own
 * requests (revalidation, lookups, DB seeds, the CLI's ping) go to nodes we
 * chose, and replies to bonded endpoints follow a proof, so neither is.
 */
const enum SendReason {
  Request = 0,
  Bonded = 1,
  Unproven = 2,
  PingBack = 3,
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

/** Drops the transport counts beside the decode codes (protocol rules, limits, bans). */
const RULE_DROPS = [
  'self',
  'unsolicited',
  'unbonded',
  'netrestrict',
  'handler_error',
  'send_pool_exhausted',
  'rate_global',
  'rate_ip',
  'rate_type',
  'amplification',
  'banned',
] as const;

/** Drop reasons counted by the transport: the decode codes in lower case, then the rules. */
export type DropReason = Lowercase<Exclude<(typeof DECODE_ERROR_CODES)[number], 'OK'>> | (typeof RULE_DROPS)[number];

/** Every drop reason (the keys of stats().drops): the one list for the metrics help and the docs. */
export const DROP_REASONS: readonly DropReason[] = [
  ...DECODE_ERROR_CODES.slice(1).map((c) => c.toLowerCase() as DropReason),
  ...RULE_DROPS,
];

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

/** One packet type's verify ("may we act on it?", counting the drop if not) and handle (its effects), as geth's wrapPacket. */
interface PacketHandler {
  verify(view: PacketView, from: OpenedFrom): boolean;
  handle(view: PacketView, from: OpenedFrom): void;
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
  private readonly conn: PacketConn;
  private readonly crypto: Crypto;
  private readonly clock: Clock;
  private readonly wallNow: () => number;
  private readonly respTimeoutMs: number;
  private readonly expirationSec: number;
  private readonly pending: PendingQueue<PacketView>;
  private readonly pool: SendPool;
  private readonly bonding: Bonding;
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
  /** Pings in flight to endpoints of unknown id (pingAddress): their pongs match on IP and token only. */
  private addressPings = 0;
  /** verify + handle by packet type (index = type byte). */
  private readonly handlers: ReadonlyArray<PacketHandler | undefined>;

  private readonly packetsIn = new Float64Array(7);
  private readonly packetsOut = new Float64Array(7);
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly decodeDrops = new Float64Array(8);
  /** The source IPs refused most (before any crypto), for the operator's dashboard. */
  readonly refusals = new RefusalTally();
  private readonly drops = Object.fromEntries(RULE_DROPS.map((r) => [r, 0])) as Record<(typeof RULE_DROPS)[number], number>;
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
    const priv = Buffer.from(cfg.privateKey);
    this.nodeId = nodeIdFromPrivateKey(priv, this.crypto);
    this.socket = cfg.socket;
    this.clock = cfg.clock ?? systemClock;
    this.wallNow = cfg.now ?? Date.now;
    this.respTimeoutMs = cfg.respTimeoutMs ?? RESP_TIMEOUT_MS;
    this.expirationSec = cfg.expirationSec ?? EXPIRATION_SEC;
    this.pending = new PendingQueue<PacketView>({
      maxPending: cfg.maxPending ?? 10_000,
      clock: this.clock,
      onCallbackError: () => this.drops.handler_error++,
    });
    this.pool = new SendPool(cfg.sendSlots ?? 1024);
    this.bonding = new Bonding({
      bonds: cfg.bonds ?? new MemoryBondStore(),
      clock: this.clock,
      wallNow: this.wallNow,
      bondExpirationMs: cfg.bondExpirationMs ?? BOND_EXPIRATION_MS,
    });
    this.netrestrict = cfg.netrestrict;
    this.closest = cfg.closest ?? (() => []);
    const addr = this.socket.address();
    const ep = cfg.endpoint ?? { ip: addr.address, udpPort: addr.port, tcpPort: 0 };
    this.ourIp = toIpBytes(ep.ip);
    this.ourUdp = ep.udpPort;
    this.ourTcp = ep.tcpPort ?? 0;
    const local = cfg.localRecord ?? {
      seq: 1n,
      record: signRecord(priv, 1n, { [this.ourIp.length === 4 ? 'ip' : 'ip6']: this.ourIp, [this.ourIp.length === 4 ? 'udp' : 'udp6']: this.ourUdp }, this.crypto),
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
    this.handlers = this.packetHandlers();
    // With our native crypto on the native socket, datagrams are opened
    // and replies sealed on the socket's threads (all cores); otherwise
    // the Crypto does it here. One path either way (conn.ts).
    this.conn = openConn(this.socket, priv, this.crypto);
    this.conn.start(this.admit, this.onDatagram);
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

  /**
   * netrestrict, bans and the rate limits, before any crypto; counts what
   * it refuses (bytes included). No allocation for IPv4.
   */
  private readonly admit = (buf: Uint8Array, off: number, len: number, from: RemoteAddress): boolean => {
    if (this.closed) return false;
    let refused: RefusalReason | undefined;
    if (this.netrestrict !== undefined && !this.netrestrict.contains(from.ip)) refused = 'netrestrict';
    else if (this.isBannedIp !== undefined && this.isBannedIp(from.ip)) refused = 'banned';
    else if (this.limiter !== undefined) {
      // The type byte, unverified: a forged one fails the hash check later.
      const r = this.limiter.admit(from.ip, len > HEAD_SIZE ? buf[off + HEAD_SIZE] : 0, this.clock.now());
      if (r === Refusal.Global) refused = 'rate_global';
      else if (r !== Refusal.None) {
        refused = r === Refusal.Ip ? 'rate_ip' : 'rate_type';
        if (this.onAbusiveIp !== undefined && this.limiter.abusive(from.ip, this.clock.now())) this.onAbusiveIp(Buffer.from(from.ip));
      }
    }
    if (refused === undefined) return true;
    this.drops[refused]++;
    this.refusals.count(from.ip, refused, this.wallNow());
    this.bytesIn += len;
    return false;
  };

  private readonly onDatagram = (buf: Uint8Array, off: number, len: number, from: OpenedFrom): void => {
    this.bytesIn += len;
    if (this.closed) return;
    const view = this.view;
    const st = readOpenedPacket(view, buf, off, len, from.openStatus, from.nodeId, this.wallNow() / 1000);
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
      const h = this.handlers[type]!;
      if (h.verify(view, from)) h.handle(view, from);
    } catch (err) {
      this.drops.handler_error++;
      if (this.listenerCount('handlerError') > 0) this.emit('handlerError', err);
    }
  };

  /** The dispatch table: packet type -> verify + handle. */
  private packetHandlers(): Array<PacketHandler | undefined> {
    const always = () => true;
    const t: Array<PacketHandler | undefined> = [];
    t[PacketType.Ping] = { verify: always, handle: (v, f) => this.handlePing(v, f) };
    t[PacketType.Pong] = { verify: (v, f) => this.verifyPong(v, f), handle: (v, f) => this.handlePong(v, f) };
    t[PacketType.Findnode] = { verify: (v, f) => this.verifyFindnode(v, f), handle: (v, f) => this.handleFindnode(v, f) };
    t[PacketType.Neighbors] = { verify: (v, f) => this.verifyReply(v, f), handle: (v, f) => this.emitPacket(v, f) };
    t[PacketType.EnrRequest] = { verify: (v, f) => this.verifyBonded(v, f), handle: (v, f) => this.handleEnrRequest(v, f) };
    t[PacketType.EnrResponse] = { verify: (v, f) => this.verifyReply(v, f), handle: (v, f) => this.emitPacket(v, f) };
    return t;
  }

  /** Books `len` bytes of a reply to an endpoint without a bond; false (counted) if that would amplify. */
  private spendUnproven(ip: Uint8Array, len: number, reason: SendReason): boolean {
    const ledger = this.ledger;
    if (ledger === undefined) return true;
    // Ping-backs leave the pong reserve untouched.
    if (ledger.spend(ip, len, this.clock.now(), reason === SendReason.PingBack ? ledger.limits.pongReserveBytes : 0)) return true;
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
    const unproven = this.bonding.pinged(view.nodeId, from.ip);
    // Reply to the datagram's real source, whatever the ping claims. A pong
    // the budget refuses takes the ping-back with it: never ping-back alone.
    const ponged = this.sendPong(view, from, unproven ? SendReason.Unproven : SendReason.Bonded);
    const wantsInbound = this.listenerCount('inboundNode') > 0;
    if (unproven) {
      // No endpoint proof on file: ping back so both sides are bonded; the
      // node becomes a table candidate only once it answers. (Keys are
      // built here only: once per new node, not per ping.)
      const nodeKey = nodeKeyOf(view.nodeId);
      const ipKey = ipKeyOf(from.ip);
      const key = nodeKey + ipKey;
      if (ponged && !this.closed && this.bonding.beginPingBack(key)) {
        const node = this.verifiedFromView(view, from);
        this.pingRaw(node.ip, node.udpPort, nodeKey, ipKey, undefined, SendReason.PingBack).then(
          () => {
            this.releaseHeld(key, PingBackOutcome.Answered);
            if (wantsInbound || this.listenerCount('inboundNode') > 0) this.emit('inboundNode', node);
          },
          () => this.releaseHeld(key, PingBackOutcome.Failed),
        );
      }
    } else if (wantsInbound) {
      this.emit('inboundNode', this.verifiedFromView(view, from));
    }
    this.emitPacket(view, from);
  }

  private verifiedFromView(view: PacketView, from: RemoteAddress): VerifiedNode {
    return { id: Buffer.from(view.nodeId), ip: Buffer.from(from.ip), udpPort: from.port, tcpPort: view.fromTcp };
  }

  /** Sends the pong to `view`'s ping; false if it did not go out (budget, send pool). */
  private sendPong(view: PacketView, from: RemoteAddress, reason: SendReason): boolean {
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
    if (reason === SendReason.Unproven && len > 0 && !this.spendUnproven(from.ip, len, reason)) {
      pool.release(slot);
      return false;
    }
    return this.sendReply(slot, len, PacketType.Pong, from.ip, from.port);
  }

  // ------------------------------------------------------------ PONG/v4

  /** Only a pong we asked for: our ping's token, from the node (or, for pingAddress, the IP) we pinged. */
  private verifyPong(view: PacketView, from: RemoteAddress): boolean {
    const nodeKey = nodeKeyOf(view.nodeId);
    const ipKey = ipKeyOf(from.ip);
    if (
      this.pending.dispatch(nodeKey, ipKey, PacketType.Pong, view) ||
      (this.addressPings > 0 && this.pending.dispatch(ANY_NODE, ipKey, PacketType.Pong, view))
    ) {
      return true;
    }
    this.drops.unsolicited++;
    return false;
  }

  private handlePong(view: PacketView, from: RemoteAddress): void {
    this.bonding.proven(view.nodeId, from.ip);
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
    if (this.bonding.hasProof(view.nodeId, from.ip)) return true;
    this.drops.unbonded++;
    return false;
  }

  /**
   * verifyBonded, except that a findnode from a node we are bonding with
   * right now (it pinged us, our ping-back is in flight) is held until its
   * pong proves the endpoint, then answered (releaseHeld). Clients that ask
   * right after their first ping (ethjs's bootstrap does) would otherwise
   * get nothing until their next refresh. Still no reply before the proof,
   * so no amplification; held requests are bounded.
   */
  private verifyFindnode(view: PacketView, from: RemoteAddress): boolean {
    if (this.bonding.hasProof(view.nodeId, from.ip)) return true;
    const refusal = this.bonding.hold(view.nodeId, from.ip, () => ({
      id: Buffer.from(view.nodeId),
      target: Buffer.from(view.buf.subarray(view.targetStart, view.targetStart + NODE_ID_SIZE)),
      ip: Buffer.from(from.ip),
      port: from.port,
    }));
    if (refusal !== HoldRefusal.None) this.drops.unbonded++;
    return false;
  }

  /** The ping-back of `key` ended: answer the findnode held for it, if the pong came. */
  private releaseHeld(key: string, outcome: PingBackOutcome): void {
    const r = this.bonding.endPingBack(key, outcome);
    if (r.dropped) this.drops.unbonded++;
    if (r.answer !== undefined && !this.closed) this.answerFindnode(r.answer.id, r.answer.target, 0, r.answer.ip, r.answer.port);
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
      this.sendReply(slot, len, PacketType.Neighbors, ip, port);
      start = end;
    } while (start < nodes.length);
  }

  // ------------------------------------------------------------ NEIGHBORS/v4, ENRRESPONSE/v4

  /** Only a reply to a request of ours in flight to that node at that IP. */
  private verifyReply(view: PacketView, from: RemoteAddress): boolean {
    if (this.pending.dispatch(nodeKeyOf(view.nodeId), ipKeyOf(from.ip), view.type, view)) return true;
    this.drops.unsolicited++;
    return false;
  }

  // ------------------------------------------------------------ ENRREQUEST/v4

  private handleEnrRequest(view: PacketView, from: RemoteAddress): void {
    const slot = this.acquire();
    if (slot < 0) return;
    const len = writeEnrResponseRaw(this.pool.slab, this.pool.offset(slot), view.buf, view.off, this.localRecordRlp);
    this.sendReply(slot, len, PacketType.EnrResponse, from.ip, from.port);
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

  /** Sends slot's reply, sealed on the way out by the connection. False if it could not be built. */
  private sendReply(slot: number, len: number, type: PacketType, ip: Uint8Array, port: number): boolean {
    const pool = this.pool;
    if (len < 0) {
      pool.release(slot);
      return false;
    }
    this.bytesOut += len;
    this.packetsOut[type]++;
    this.conn.send(pool.slab, pool.offset(slot), len, ip, port, SealMode.Seal, pool.releaser(slot));
    return true;
  }

  /**
   * Sends a request built by `write` into a fresh slot and registers `m`
   * for its reply. It is sealed here, not on the way out: the packet hash
   * (the reply token) is copied into `token` before sending.
   */
  private request(
    m: Matcher<PacketView>,
    ip: Uint8Array,
    port: number,
    type: PacketType,
    token: Buffer | undefined,
    write: (buf: Buffer, off: number) => number,
    timeoutMs = this.respTimeoutMs,
    reason = SendReason.Request,
  ): void {
    if (this.closed) {
      m.onDone(new ClosedError());
      return;
    }
    const slot = this.acquire();
    if (slot < 0) {
      m.onDone(new DiscError('SEND_POOL_EXHAUSTED', 'no free send buffer'));
      return;
    }
    const pool = this.pool;
    const off = pool.offset(slot);
    const len = write(pool.slab, off);
    if (len >= 0 && reason === SendReason.PingBack && !this.spendUnproven(ip, len, reason)) {
      pool.release(slot);
      m.onDone(new DiscError('AMPLIFICATION', 'ping-back not sent: the amplification budget of this IP is spent'));
      return;
    }
    if (len < 0 || !this.conn.seal(pool.slab, off, len)) {
      pool.release(slot);
      m.onDone(new InvalidArgumentError('request packet could not be built'));
      return;
    }
    if (token !== undefined) pool.slab.copy(token, 0, off, off + 32);
    // Register before sending: on loopback the reply can arrive in the
    // next event-loop turn, and the matcher must already be there.
    const handle = this.pending.add(m, timeoutMs);
    if (handle === 0) {
      pool.release(slot);
      return;
    }
    this.bytesOut += len;
    this.packetsOut[type]++;
    this.conn.send(pool.slab, off, len, ip, port, SealMode.Sealed, (err) => {
      pool.release(slot);
      // A request that never left fails now rather than at its deadline.
      if (err !== undefined) this.pending.cancel(handle, err);
    });
  }

  // ------------------------------------------------------------ requests

  /** Pings a node; resolves with what its pong said. Rejects with TimeoutError / ClosedError / QueueFullError. */
  ping(node: RemoteNode, opts: RequestOptions = {}): Promise<PongInfo> {
    const n = checkNode(node);
    return this.pingRaw(n.ip, n.udpPort, nodeKeyOf(n.id), ipKeyOf(n.ip), opts.timeoutMs, SendReason.Request);
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
      const info = await this.pingRaw(ipBytes, udpPort, ANY_NODE, ipKeyOf(ipBytes), opts.timeoutMs, SendReason.Request);
      return info as PongInfo & { id: Buffer };
    } finally {
      this.addressPings--;
    }
  }

  private pingRaw(ip: Uint8Array, udpPort: number, nodeKey: string, ipKey: string, timeoutMs: number | undefined, reason: SendReason): Promise<PongInfo> {
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
    const rec = this.bonding.holdsOurProof(n.id, n.ip);
    if (rec !== undefined) return rec;
    // Waiting starts before the ping leaves: its ping back may come first.
    const pinged = this.bonding.waitForPing(nodeKey + ipKey, this.respTimeoutMs * 2);
    await this.pingRaw(n.ip, n.udpPort, nodeKey, ipKey, undefined, SendReason.Request);
    await pinged;
    return this.bonding.record(n.id, n.ip);
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
    const nodeKey = nodeKeyOf(n.id);
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
    const nodeKey = nodeKeyOf(n.id);
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
    this.bonding.close();
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
    return this.bonding.hasProof(id, toIpBytes(ip));
  }

  /** Consecutive findnode failures of this node at this IP (reset by a success). */
  findFails(id: Uint8Array, ip: Uint8Array | string): number {
    return this.bonding.bonds.get(id, 0, toIpBytes(ip))?.findFails ?? 0;
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
      bonds: this.bonding.bonds.size,
      timeouts: this.pending.stats().timeouts,
      deferredFindnodes: this.bonding.released,
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
