/**
 * Which source IPs the transport refuses most (netrestrict, bans, rate
 * limits: the datagrams dropped before any crypto), for the operator's
 * dashboard. Bounded: at most `max` sources; when full, the half with the
 * fewest refusals is forgotten (a spoofed flood of new addresses costs an
 * occasional sort, never unbounded memory). Counts are since the source
 * was (last) tracked. Nothing is counted for admitted datagrams.
 */
import { ipMapKey } from './limits';
import { ipToString } from '../wire/ip';

export const DEFAULT_MAX_REFUSAL_SOURCES = 1024;

export type RefusalReason = 'netrestrict' | 'banned' | 'rate_global' | 'rate_ip' | 'rate_type';

interface Entry {
  ip: Buffer;
  count: number;
  last: RefusalReason;
  lastMs: number;
}

export interface RefusalSource {
  ip: string;
  count: number;
  /** The reason of the latest refusal. */
  lastReason: RefusalReason;
  /** Wall-clock ms of the latest refusal. */
  lastMs: number;
}

export class RefusalTally {
  private readonly m = new Map<number | string, Entry>();

  constructor(readonly max = DEFAULT_MAX_REFUSAL_SOURCES) {}

  count(ip: Uint8Array, reason: RefusalReason, nowMs: number): void {
    const key = ipMapKey(ip);
    const e = this.m.get(key);
    if (e !== undefined) {
      e.count++;
      e.last = reason;
      e.lastMs = nowMs;
      return;
    }
    if (this.m.size >= this.max) this.shrink();
    this.m.set(key, { ip: Buffer.from(ip), count: 1, last: reason, lastMs: nowMs });
  }

  private shrink(): void {
    const byCount = [...this.m.entries()].sort((a, b) => a[1].count - b[1].count);
    for (const [k] of byCount.slice(0, Math.ceil(byCount.length / 2))) this.m.delete(k);
  }

  get size(): number {
    return this.m.size;
  }

  /** The `n` sources refused most, most first. */
  top(n: number): RefusalSource[] {
    return [...this.m.values()]
      .sort((a, b) => b.count - a.count || b.lastMs - a.lastMs)
      .slice(0, n)
      .map((e) => ({ ip: ipToString(e.ip) ?? e.ip.toString('hex'), count: e.count, lastReason: e.last, lastMs: e.lastMs }));
  }
}
