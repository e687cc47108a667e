/**
 * Ingress rate limits and the amplification ledger: what keeps a bootnode
 * serving honest peers under floods, for a few hash-map operations per
 * datagram and before any elliptic-curve work.
 *
 * - IngressLimiter: a global token bucket (datagrams/s the node handles at
 *   all), and per source IP one bucket for all datagrams plus one each for
 *   the requests that make us reply: ping, findnode, ENRRequest. The type
 *   byte is read before the signature is checked (it sits at offset 97):
 *   a forged type fails the hash check later anyway, and a datagram that
 *   would be refused costs no crypto. (reth's IngressHandler limits by IP
 *   before decoding too; geth has no limits.)
 * - AmplificationLedger: bytes we send to an IP without a bond (pongs,
 *   ping-backs) may not exceed what it sent us recently plus a small
 *   allowance that refills over time, so a spoofed source can make us send
 *   its victim little more than the attacker sent us, and an address is
 *   never poisoned for good (see AmplificationLimits for the bound).
 *
 * Per-IP state lives in bounded maps; when full, the oldest entry goes
 * (which at worst resets that IP to a fresh, full bucket). IPv4 addresses
 * are keyed as numbers, so the hot path allocates nothing.
 */
import { PacketType } from '../wire/types';
import { AMPLIFICATION_LIMITS, RATE_LIMITS } from '../defaults';

export interface RateLimits {
  /** Datagrams per second the node handles in all (before crypto). 0: unlimited. Default 40,000. */
  globalPerSec?: number;
  /** Datagrams per second from one IP (any type). Default 200, burst 2x. */
  ipPerSec?: number;
  /** Pings per second from one IP. Default 50, burst 2x. */
  pingPerSec?: number;
  /** Findnode requests per second from one IP. Default 20, burst 2x. */
  findnodePerSec?: number;
  /** ENRRequests per second from one IP. Default 20, burst 2x. */
  enrRequestPerSec?: number;
  /** Source IPs tracked at once (oldest dropped beyond). Default 100,000. */
  maxTrackedIps?: number;
  /**
   * Refusals within 10 s after which an IP counts as abusive (the transport
   * reports it once per window, e.g. to ban it). Default 5,000: 500 datagrams/s
   * over its limits for 10 s. 0: never.
   */
  abuseThreshold?: number;
}

/**
 * Defaults for a public bootnode. Per IP they leave room for many nodes
 * behind one NAT address (an honest node pings a few times a minute and
 * sends a findnode now and then); globally, about what two cores verify.
 */
export const DEFAULT_RATE_LIMITS: Required<RateLimits> = RATE_LIMITS;

/** The window of the abuse count. */
const ABUSE_WINDOW_MS = 10_000;

/** Why the limiter refused a datagram (counted as drops by these names). */
export const enum Refusal {
  None = 0,
  Global = 1,
  Ip = 2,
  Type = 3,
}

/** Token state of one source IP: all datagrams, then ping / findnode / ENRRequest. */
class IpBuckets {
  all: number;
  ping: number;
  findnode: number;
  enr: number;
  lastMs: number;
  /** Refusals since refusedSinceMs (the abuse window). */
  refused = 0;
  refusedSinceMs: number;
  constructor(l: Required<RateLimits>, nowMs: number) {
    this.refusedSinceMs = nowMs;
    this.all = l.ipPerSec * 2;
    this.ping = l.pingPerSec * 2;
    this.findnode = l.findnodePerSec * 2;
    this.enr = l.enrRequestPerSec * 2;
    this.lastMs = nowMs;
  }
}

/** A map with a size bound that drops its oldest insertion when full. */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  constructor(readonly max: number) {}
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  set(k: K, v: V): void {
    if (!this.m.has(k) && this.m.size >= this.max) this.m.delete(this.m.keys().next().value as K);
    this.m.set(k, v);
  }
  delete(k: K): boolean {
    return this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}

/** A number for an IPv4 address, a string for IPv6: the per-IP map key. */
export function ipMapKey(ip: Uint8Array): number | string {
  if (ip.length === 4) return ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
  let s = '';
  for (let i = 0; i < ip.length; i++) s += String.fromCharCode(ip[i]);
  return s;
}

export class IngressLimiter {
  private readonly l: Required<RateLimits>;
  private readonly ips: BoundedMap<number | string, IpBuckets>;
  private global: number;
  private globalLastMs: number;

  constructor(limits: RateLimits = {}, nowMs = 0) {
    this.l = { ...DEFAULT_RATE_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.l)) {
      if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RangeError(`rate limit ${k} must be a number >= 0 (got ${String(v)})`);
    }
    this.ips = new BoundedMap(Math.max(1, this.l.maxTrackedIps));
    this.global = this.l.globalPerSec;
    this.globalLastMs = nowMs;
  }

  /** IPs with state right now (bounded by maxTrackedIps). */
  get trackedIps(): number {
    return this.ips.size;
  }

  /**
   * Counts a refusal of `ip` (call after admit() refused it for its own
   * limits); true exactly when the IP crosses abuseThreshold refusals in
   * the current 10 s window, so a caller acts once per window.
   */
  abusive(ip: Uint8Array, nowMs: number): boolean {
    if (this.l.abuseThreshold <= 0) return false;
    const b = this.ips.get(ipMapKey(ip));
    if (b === undefined) return false;
    if (nowMs - b.refusedSinceMs > ABUSE_WINDOW_MS) {
      b.refusedSinceMs = nowMs;
      b.refused = 0;
    }
    return ++b.refused === this.l.abuseThreshold;
  }

  /**
   * Admits one datagram of `type` (the byte at offset 97; anything else
   * counts against the IP's general bucket only) from `ip` at `nowMs`.
   */
  admit(ip: Uint8Array, type: number, nowMs: number): Refusal {
    const l = this.l;
    if (l.globalPerSec > 0) {
      const g = Math.min(l.globalPerSec, this.global + ((nowMs - this.globalLastMs) * l.globalPerSec) / 1000);
      this.globalLastMs = nowMs;
      if (g < 1) {
        this.global = g;
        return Refusal.Global;
      }
      this.global = g - 1;
    }
    const key = ipMapKey(ip);
    let b = this.ips.get(key);
    if (b === undefined) {
      b = new IpBuckets(l, nowMs);
      this.ips.set(key, b);
    } else {
      const dt = (nowMs - b.lastMs) / 1000;
      if (dt > 0) {
        b.all = Math.min(l.ipPerSec * 2, b.all + dt * l.ipPerSec);
        b.ping = Math.min(l.pingPerSec * 2, b.ping + dt * l.pingPerSec);
        b.findnode = Math.min(l.findnodePerSec * 2, b.findnode + dt * l.findnodePerSec);
        b.enr = Math.min(l.enrRequestPerSec * 2, b.enr + dt * l.enrRequestPerSec);
        b.lastMs = nowMs;
      }
    }
    if (l.ipPerSec > 0) {
      if (b.all < 1) return Refusal.Ip;
      b.all -= 1;
    }
    switch (type) {
      case PacketType.Ping:
        if (l.pingPerSec > 0) {
          if (b.ping < 1) return Refusal.Type;
          b.ping -= 1;
        }
        break;
      case PacketType.Findnode:
        if (l.findnodePerSec > 0) {
          if (b.findnode < 1) return Refusal.Type;
          b.findnode -= 1;
        }
        break;
      case PacketType.EnrRequest:
        if (l.enrRequestPerSec > 0) {
          if (b.enr < 1) return Refusal.Type;
          b.enr -= 1;
        }
        break;
    }
    return Refusal.None;
  }
}

/**
 * The amplification budget of one source IP. What we may send there without
 * a bond is what it sent us recently (`credit`, which expires) plus an
 * allowance that refills at a small rate (`tokens`, a token bucket), so
 * over any interval t:
 *
 *   bytes sent to the IP <= bytes received from it + burstBytes + refillBytesPerSec * t
 *
 * A spoofed source can thus make us send its victim at most what the
 * attacker itself sent, plus a trickle, and nothing poisons an address
 * forever: an honest node behind a busy NAT address finds the allowance
 * refilled a few seconds later.
 */
export interface AmplificationLimits {
  /**
   * Bytes of allowance an IP starts with and refills up to. Default 8,192:
   * ping-backs to about 40 newcomers behind one address at once, before
   * their pongs pay for them.
   */
  burstBytes?: number;
  /**
   * Allowance that ping-backs leave for pongs. Default 2,048. A pong (154
   * bytes for IPv4) is a little larger than the smallest ping (125), so
   * pongs draw on the allowance too; a flood of fresh keys that never
   * answer stops getting ping-backs here, while pings are still answered.
   */
  pongReserveBytes?: number;
  /** Allowance refilled per second. Default 256 (about one unanswered exchange every 1.2 s). */
  refillBytesPerSec?: number;
  /** Received bytes count as credit for this long after the last datagram from the IP. Default 30,000 ms. */
  creditTtlMs?: number;
  /** Credit banked per IP at most (bytes). Default 65,536. */
  maxCreditBytes?: number;
  /** Source IPs tracked at once (oldest dropped beyond). Default 100,000. */
  maxTrackedIps?: number;
}

export const DEFAULT_AMPLIFICATION_LIMITS: Required<AmplificationLimits> = AMPLIFICATION_LIMITS;

class IpBudget {
  constructor(
    /** Allowance bytes left (refills at refillBytesPerSec up to burstBytes). */
    public tokens: number,
    public tokensMs: number,
    /** Bytes received and not yet spent on replies; void after creditTtlMs without a datagram. */
    public credit: number,
    public creditMs: number,
  ) {}
}

/**
 * Bytes we may send to endpoints without a bond: replies to what they sent
 * (pongs, ping-backs), never our own requests (revalidation, lookups,
 * DB seeds: those go to nodes we chose, and are bounded by the table).
 */
export class AmplificationLedger {
  readonly limits: Required<AmplificationLimits>;
  private readonly budgets: BoundedMap<number | string, IpBudget>;
  /** Totals over all unproven endpoints, for measurement. */
  bytesReceived = 0;
  bytesSent = 0;
  refusedBytes = 0;

  constructor(limits: AmplificationLimits = {}) {
    this.limits = { ...DEFAULT_AMPLIFICATION_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!(typeof v === 'number' && v >= 0 && !Number.isNaN(v))) throw new RangeError(`amplification limit ${k} must be a number >= 0 (got ${String(v)})`);
    }
    this.budgets = new BoundedMap(Math.max(1, this.limits.maxTrackedIps));
  }

  private budget(key: number | string, nowMs: number): IpBudget {
    let b = this.budgets.get(key);
    if (b === undefined) {
      b = new IpBudget(this.limits.burstBytes, nowMs, 0, nowMs);
      this.budgets.set(key, b);
      return b;
    }
    const dt = nowMs - b.tokensMs;
    if (dt > 0) {
      b.tokens = Math.min(this.limits.burstBytes, b.tokens + (dt * this.limits.refillBytesPerSec) / 1000);
      b.tokensMs = nowMs;
    }
    if (b.credit > 0 && nowMs - b.creditMs > this.limits.creditTtlMs) b.credit = 0;
    return b;
  }

  /** `bytes` arrived from `ip` (a verified datagram) at `nowMs`. */
  received(ip: Uint8Array, bytes: number, nowMs: number): void {
    this.bytesReceived += bytes;
    const b = this.budget(ipMapKey(ip), nowMs);
    b.credit = Math.min(this.limits.maxCreditBytes, b.credit + bytes);
    b.creditMs = nowMs;
  }

  /**
   * May we send `bytes` to `ip` (no bond) at `nowMs`, leaving `reserve`
   * bytes of allowance? Books them (credit first, then allowance) if so.
   */
  spend(ip: Uint8Array, bytes: number, nowMs: number, reserve = 0): boolean {
    const b = this.budget(ipMapKey(ip), nowMs);
    if (b.credit + b.tokens - reserve < bytes) {
      this.refusedBytes += bytes;
      return false;
    }
    const fromCredit = Math.min(b.credit, bytes);
    b.credit -= fromCredit;
    b.tokens -= bytes - fromCredit;
    this.bytesSent += bytes;
    return true;
  }

  get trackedIps(): number {
    return this.budgets.size;
  }
}
