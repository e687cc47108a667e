/**
 * devp2p's `BanList`: peers banned by id and by `address:tcpPort`, each key
 * with its own expiry, bounded so that a flood of junk peers cannot grow it
 * without limit.
 */
import { InvalidArgumentError } from '../errors';
import { KBucket } from './kbucket';
import { PeerInfo } from './util';

/** devp2p's bound (its lru-cache `max`). */
export const BAN_LIST_MAX_SIZE = 10_000;

export interface BanListOptions {
  /** Milliseconds clock; injectable for tests. Default Date.now. */
  now?: () => number;
  /** Keys kept before the least recently used is dropped. Default {@link BAN_LIST_MAX_SIZE}. */
  maxSize?: number;
}

export class BanList {
  /** key -> expiry time in ms (undefined: never). Map order is LRU order, oldest first. */
  private readonly bans = new Map<string, number | undefined>();
  private readonly now: () => number;
  private readonly maxSize: number;

  constructor(opts: BanListOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.maxSize = opts.maxSize ?? BAN_LIST_MAX_SIZE;
    if (!Number.isInteger(this.maxSize) || this.maxSize < 1) {
      throw new InvalidArgumentError('BanList maxSize must be a positive integer');
    }
  }

  /**
   * Bans every key of `obj` for `maxAge` ms; without maxAge (or with 0, as
   * lru-cache's ttl in devp2p) until evicted. Re-adding a key restarts its
   * ban and makes it the most recently used.
   */
  add(obj: string | Uint8Array | PeerInfo, maxAge?: number): void {
    if (maxAge !== undefined && !(maxAge >= 0)) {
      throw new InvalidArgumentError(`BanList maxAge must be a non-negative number of ms (got ${maxAge})`);
    }
    const expiresAt = maxAge === undefined || maxAge === 0 ? undefined : this.now() + maxAge;
    for (const key of KBucket.getKeys(obj)) {
      this.bans.delete(key);
      this.bans.set(key, expiresAt);
    }
    // Map iteration starts at the oldest insertion: evict from there.
    while (this.bans.size > this.maxSize) {
      this.bans.delete(this.bans.keys().next().value as string);
    }
  }

  /** True if any key of `obj` is banned and not expired. A hit counts as a use (LRU), as lru-cache's get. */
  has(obj: string | Uint8Array | PeerInfo): boolean {
    const now = this.now();
    let hit = false;
    for (const key of KBucket.getKeys(obj)) {
      if (!this.bans.has(key)) continue;
      const expiresAt = this.bans.get(key);
      if (expiresAt !== undefined && now > expiresAt) {
        this.bans.delete(key);
        continue;
      }
      this.bans.delete(key);
      this.bans.set(key, expiresAt);
      hit = true;
    }
    return hit;
  }

  /** Lifts the ban on every key of `obj`. True if any key was banned (and not expired). */
  delete(obj: string | Uint8Array | PeerInfo): boolean {
    const now = this.now();
    let removed = false;
    for (const key of KBucket.getKeys(obj)) {
      if (!this.bans.has(key)) continue;
      const expiresAt = this.bans.get(key);
      this.bans.delete(key);
      if (expiresAt === undefined || now <= expiresAt) removed = true;
    }
    return removed;
  }

  /** Number of live bans (expired ones are dropped first). */
  get size(): number {
    this.purge();
    return this.bans.size;
  }

  /** Live bans as [key, expiresAt ms or undefined], least recently used first. */
  entries(): IterableIterator<[key: string, expiresAt: number | undefined]> {
    this.purge();
    return [...this.bans.entries()].values();
  }

  private purge(): void {
    const now = this.now();
    for (const [key, expiresAt] of this.bans) {
      if (expiresAt !== undefined && now > expiresAt) this.bans.delete(key);
    }
  }
}
