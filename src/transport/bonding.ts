/**
 * Bonding: the endpoint proof of geth's v4_udp.go, in one place.
 *
 * - A node *proves its endpoint* by answering our ping from an IP
 *   (`lastPongReceivedMs`); only then are its findnode and ENRRequest from
 *   that IP answered (no reply to a spoofable source: amplification).
 * - A node *holds our proof* once it pinged us (`lastPingReceivedMs`): then
 *   it answers our findnode. `ensureBond` in the transport pings first and
 *   waits here for its ping back.
 * - A ping from a node without a proof gets a ping-back: one in flight per
 *   node and IP, and after one that got no pong a back-off before the next.
 * - A findnode that arrives while our ping-back to its sender is in flight
 *   is held (bounded) and released to be answered once the pong proves the
 *   endpoint, or dropped if none comes.
 *
 * State only; the transport does the sending. Keys are the node id bytes
 * and the IP bytes as one latin1 string (`bondKey`), built only for nodes
 * without a bond, never per packet of a bonded one.
 */
import { BondRecord, BondStore } from './bonds';
import { Clock } from './clock';
import { BoundedMap } from './limits';
import { MAX_FINDNODE_FAILURES, PINGBACK_BACKOFF_MAX_MS, PINGBACK_BACKOFF_MS } from '../defaults';

export { MAX_FINDNODE_FAILURES, PINGBACK_BACKOFF_MAX_MS, PINGBACK_BACKOFF_MS };

/** Findnode requests held while their sender's bond completes. */
export const MAX_HELD_FINDNODES = 1024;
/** Nodes whose ping-back failed, remembered at once (oldest forgotten beyond). */
const MAX_PINGBACK_FAILURES = 100_000;

/** 4 or 16 IP bytes as a short latin1 string: the IP half of map keys. */
export function ipKeyOf(ip: Uint8Array): string {
  if (ip.length === 4) return String.fromCharCode(ip[0], ip[1], ip[2], ip[3]);
  let s = '';
  for (let i = 0; i < ip.length; i++) s += String.fromCharCode(ip[i]);
  return s;
}

/** The node id bytes as a latin1 string: the node half of map keys. */
export function nodeKeyOf(id: Uint8Array): string {
  return (Buffer.isBuffer(id) ? id : Buffer.from(id.buffer, id.byteOffset, id.byteLength)).toString('latin1');
}

/** A findnode held until its sender's endpoint is proven. */
export interface HeldFindnode {
  id: Buffer;
  target: Buffer;
  ip: Buffer;
  port: number;
}

/** Why a findnode from a node without a bond was not held. */
export const enum HoldRefusal {
  None = 0,
  /** No ping-back of ours to it is in flight: nothing will prove it. */
  NotBonding = 1,
  /** It has a findnode held already, or MAX_HELD_FINDNODES are. */
  Full = 2,
}

/** How a ping-back ended. */
export const enum PingBackOutcome {
  Answered = 0,
  Failed = 1,
}

export interface BondingConfig {
  bonds: BondStore;
  /** Monotonic clock (back-offs, waits). */
  clock: Clock;
  /** Wall clock in ms (bond times, stored with the node). */
  wallNow: () => number;
  bondExpirationMs: number;
}

export class Bonding {
  readonly bonds: BondStore;
  private readonly clock: Clock;
  private readonly wallNow: () => number;
  private readonly expirationMs: number;
  /** Ping-backs in flight, so a burst of pings from one node sends one. */
  private readonly pingBacks = new Set<string>();
  private readonly failures = new BoundedMap<string, { untilMs: number; fails: number }>(MAX_PINGBACK_FAILURES);
  private readonly held = new Map<string, HeldFindnode>();
  /** ensureBond waiters for a node's ping, by bond key. */
  private readonly waiters = new Map<string, Array<() => void>>();
  /** Held findnodes released to be answered (stats). */
  released = 0;

  constructor(cfg: BondingConfig) {
    this.bonds = cfg.bonds;
    this.clock = cfg.clock;
    this.wallNow = cfg.wallNow;
    this.expirationMs = cfg.bondExpirationMs;
  }

  // ------------------------------------------------------------ endpoint proof

  /** Whether `id` answered our ping from `ip` within the bond window. */
  hasProof(id: Uint8Array, ip: Uint8Array): boolean {
    const rec = this.bonds.get(id, 0, ip);
    return rec !== undefined && this.wallNow() - rec.lastPongReceivedMs <= this.expirationMs;
  }

  /** `id` answered our ping from `ip` (a matched pong). */
  proven(id: Uint8Array, ip: Uint8Array): void {
    this.bonds.upsert(id, 0, ip).lastPongReceivedMs = this.wallNow();
  }

  // ------------------------------------------------------------ inbound pings

  /**
   * A ping from `id` at `ip`: records it (the node now holds our proof)
   * and wakes whoever waits for it. Returns whether the sender lacks an
   * endpoint proof (so it needs a ping-back and its pong is paid from the
   * amplification budget).
   */
  pinged(id: Uint8Array, ip: Uint8Array): boolean {
    const now = this.wallNow();
    const rec = this.bonds.upsert(id, 0, ip);
    rec.lastPingReceivedMs = now;
    if (this.waiters.size > 0) {
      const key = nodeKeyOf(id) + ipKeyOf(ip);
      const list = this.waiters.get(key);
      if (list !== undefined) {
        this.waiters.delete(key);
        for (const w of list) w();
      }
    }
    return now - rec.lastPongReceivedMs > this.expirationMs;
  }

  /**
   * Whether to ping `key` back now: not while one is in flight, not during
   * its back-off after one that got no pong. Marks one in flight if so.
   */
  beginPingBack(key: string): boolean {
    if (this.pingBacks.has(key)) return false;
    if (this.failures.size > 0) {
      const f = this.failures.get(key);
      if (f !== undefined && this.clock.now() < f.untilMs) return false;
    }
    this.pingBacks.add(key);
    return true;
  }

  /**
   * The ping-back of `key` ended. Returns the findnode held for it when the
   * pong came (`answer`: to be answered now), or says that one was held and
   * is dropped for want of that pong (`dropped`: the caller counts it).
   */
  endPingBack(key: string, outcome: PingBackOutcome): { answer?: HeldFindnode; dropped: boolean } {
    this.pingBacks.delete(key);
    if (outcome === PingBackOutcome.Answered) this.failures.delete(key);
    else {
      const fails = (this.failures.get(key)?.fails ?? 0) + 1;
      const wait = Math.min(PINGBACK_BACKOFF_MAX_MS, PINGBACK_BACKOFF_MS * 2 ** (fails - 1));
      this.failures.delete(key); // re-inserted as the newest
      this.failures.set(key, { untilMs: this.clock.now() + wait, fails });
    }
    const h = this.held.get(key);
    if (h === undefined) return { dropped: false };
    this.held.delete(key);
    if (outcome !== PingBackOutcome.Answered) return { dropped: true };
    this.released++;
    return { answer: h, dropped: false };
  }

  /**
   * Holds a findnode from a node without a proof until our ping-back to it
   * ends (see endPingBack). `make` builds the copy to keep, only if held.
   */
  hold(id: Uint8Array, ip: Uint8Array, make: () => HeldFindnode): HoldRefusal {
    if (this.pingBacks.size === 0) return HoldRefusal.NotBonding;
    if (this.held.size >= MAX_HELD_FINDNODES) return HoldRefusal.Full;
    const key = nodeKeyOf(id) + ipKeyOf(ip);
    if (!this.pingBacks.has(key)) return HoldRefusal.NotBonding;
    if (this.held.has(key)) return HoldRefusal.Full;
    this.held.set(key, make());
    return HoldRefusal.None;
  }

  // ------------------------------------------------------------ our requests

  /**
   * The record of `id` at `ip` if that node holds our endpoint proof (it
   * pinged us within the bond window) and has not failed findnode too
   * often; undefined when we must ping it first (geth ensureBond).
   */
  holdsOurProof(id: Uint8Array, ip: Uint8Array): BondRecord | undefined {
    const rec = this.bonds.get(id, 0, ip);
    if (rec !== undefined && this.wallNow() - rec.lastPingReceivedMs <= this.expirationMs && rec.findFails <= MAX_FINDNODE_FAILURES) {
      return rec;
    }
    return undefined;
  }

  /** The record of `id` at `ip`, created if missing. */
  record(id: Uint8Array, ip: Uint8Array): BondRecord {
    return this.bonds.upsert(id, 0, ip);
  }

  /** Resolves when `key`'s node pings us, or after `timeoutMs`. */
  waitForPing(key: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const list = this.waiters.get(key) ?? [];
      list.push(resolve);
      this.waiters.set(key, list);
      const timer = this.clock.setTimer(() => {
        const l = this.waiters.get(key);
        if (l !== undefined) {
          const i = l.indexOf(resolve);
          if (i >= 0) l.splice(i, 1);
          if (l.length === 0) this.waiters.delete(key);
        }
        resolve();
      }, timeoutMs);
      timer.unref?.();
    });
  }

  /** Wakes every waiter and forgets held findnodes (the transport is closing). */
  close(): void {
    for (const list of this.waiters.values()) for (const w of list) w();
    this.waiters.clear();
    this.held.clear();
  }
}
