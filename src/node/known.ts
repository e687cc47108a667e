/**
 * Known-good nodes beyond the table, for a bootnode's neighbors answers:
 * every node that proved itself (answered our ping), up to `max` (default
 * 100,000), loaded from the node DB at start and kept current from then on.
 * When the table has fewer than a full answer close to a target (the table
 * holds at most 17 x bucketSize nodes; a bootnode sees far more), the
 * answer is filled from here.
 *
 * Closest-by-XOR lookups use one array sorted by node hash: the nodes
 * closest to a target share its longest prefix, so they sit around the
 * target's position in that order; we look at a window of 64 each side
 * and sort it by distance. That is O(log n) per findnode, and at most ~32
 * nodes out of order in the window cannot change which 16 are closest
 * unless more than 64 nodes share the target's leading bits.
 *
 * Two proofs of life: a node is handed out only once it proved itself
 * again at least KNOWN_VERIFY_AFTER_MS after the first time (`verified`),
 * so a throwaway key (a one-shot CLI ping, a crawler) that bonds once and
 * leaves is never given to anyone. The node service pings the unverified
 * ones when they come due (`unverifiedDue`) and drops those that do not
 * answer. Nodes loaded from the DB at a start are checked at once: their
 * stored proof counts as the first.
 *
 * Memory: a 32-byte hash, a 64-byte id and the endpoint per node; measured
 * with node --expose-gc: 0.5 KiB of JS heap + 0.2 KiB of buffers, ~0.9 KiB
 * of RSS per node (90 MiB for 100,000); test/node/known.test.ts checks it.
 */
import { keccak256 } from '../crypto';
import { distCmp } from '../table/distance';
import { sameBytes } from '../wire/bytes';
import { insertByDistance } from '../table/table';
import { KNOWN_NODES, KNOWN_VERIFY_AFTER_MS } from '../defaults';

const WINDOW = 64;

export interface KnownNode {
  id: Buffer;
  hash: Buffer;
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
  record?: Buffer;
  /** Wall-clock ms of the last proof of life. */
  seenMs: number;
  /** Wall-clock ms of the first proof of life we saw. */
  firstSeenMs: number;
  /** Proved itself twice, at least KNOWN_VERIFY_AFTER_MS apart (or loaded from the DB): may be handed out. */
  verified: boolean;
  /** Wall-clock ms of its last write to the DB (0: never). */
  persistedMs: number;
  /** Removed; still in the sorted array until the next compaction. */
  gone?: boolean;
}

/** Additions kept unsorted before they are merged into the sorted array (closest() scans them linearly). */
const MERGE_AT = 256;

export class KnownNodes {
  /** Sorted by hash. */
  private sorted: KnownNode[] = [];
  private readonly byId = new Map<string, KnownNode>();
  /** Additions not merged into `sorted` yet (fewer than MERGE_AT). */
  private pending: KnownNode[] = [];
  /** Entries of the arrays marked gone. */
  private goneCount = 0;
  /** Inside load(): one merge at the end instead of one per MERGE_AT additions. */
  private loading = false;
  /** Unverified nodes in the order they were first seen (entries may have left or been verified since). */
  private toVerify: KnownNode[] = [];
  private toVerifyHead = 0;

  constructor(
    readonly max = KNOWN_NODES,
    /** Told of each node dropped to make room (the node service forgets it in the DB too). */
    private readonly onEvicted?: (n: KnownNode) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /**
   * Adds or refreshes a node that proved itself at `seenMs`. Options for a
   * new node: `verified`, it counts as verified at once; `provenAtMs`, it
   * proved itself already then (e.g. stored in the DB), so its next proof
   * verifies it and it is due for a check at once. Returns its entry, or
   * undefined for a malformed one.
   */
  add(
    n: { id: Uint8Array; ip: Uint8Array; udpPort: number; tcpPort: number; record?: Uint8Array },
    seenMs: number,
    opts: { verified?: boolean; provenAtMs?: number } = {},
  ): KnownNode | undefined {
    if (n.id.length !== 64 || (n.ip.length !== 4 && n.ip.length !== 16)) return undefined;
    const key = Buffer.from(n.id.buffer, n.id.byteOffset, n.id.byteLength).toString('latin1');
    const e = this.byId.get(key);
    if (e !== undefined) {
      // Proofs of life come often (every revalidation pong): copy the endpoint only when it moved.
      if (!sameBytes(e.ip, n.ip)) e.ip = Buffer.from(n.ip);
      e.udpPort = n.udpPort;
      e.tcpPort = n.tcpPort;
      if (n.record !== undefined) e.record = Buffer.from(n.record);
      e.seenMs = Math.max(e.seenMs, seenMs);
      if (opts.verified === true || e.seenMs - e.firstSeenMs >= KNOWN_VERIFY_AFTER_MS) e.verified = true;
      return e;
    }
    if (this.byId.size >= this.max) this.evict();
    const id = Buffer.from(n.id);
    const verified = opts.verified === true;
    const firstSeenMs = opts.provenAtMs === undefined ? seenMs : Math.min(seenMs, opts.provenAtMs - KNOWN_VERIFY_AFTER_MS);
    const node: KnownNode = { id, hash: keccak256(id), ip: Buffer.from(n.ip), udpPort: n.udpPort, tcpPort: n.tcpPort, seenMs, firstSeenMs, verified, persistedMs: 0 };
    if (n.record !== undefined) node.record = Buffer.from(n.record);
    this.byId.set(key, node);
    this.pending.push(node);
    if (this.pending.length >= MERGE_AT && !this.loading) this.merge();
    if (!verified) this.toVerify.push(node);
    return node;
  }

  /** Adds many nodes (`add` for each) with one merge at the end: the load at start. */
  load(each: (add: KnownNodes['add']) => void): void {
    this.loading = true;
    try {
      each((n, seenMs, opts) => this.add(n, seenMs, opts));
    } finally {
      this.loading = false;
      this.merge();
    }
  }

  /**
   * Up to `limit` unverified nodes first seen at or before `cutoffMs`, oldest
   * first; each is returned once (the caller pings it: an answer verifies
   * it, silence should remove it).
   */
  unverifiedDue(cutoffMs: number, limit: number): KnownNode[] {
    const out: KnownNode[] = [];
    const q = this.toVerify;
    while (out.length < limit && this.toVerifyHead < q.length && q[this.toVerifyHead].firstSeenMs <= cutoffMs) {
      const e = q[this.toVerifyHead++];
      if (!e.verified && e.gone !== true) out.push(e);
    }
    // Compact now and then, so the queue holds only what is still to come.
    if (this.toVerifyHead > 1024 && this.toVerifyHead * 2 > q.length) {
      this.toVerify = q.slice(this.toVerifyHead);
      this.toVerifyHead = 0;
    }
    return out;
  }

  /** Every known node (unordered): read-only views for reports. */
  values(): IterableIterator<Readonly<KnownNode>> {
    return this.byId.values();
  }

  /**
   * Forgets a node. O(1): it is marked gone and left in the arrays until
   * gone ones are a quarter of them (after a restart, thousands of dead
   * nodes may be removed one by one).
   */
  remove(id: Uint8Array): void {
    const key = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
    const e = this.byId.get(key);
    if (e === undefined) return;
    this.byId.delete(key);
    e.gone = true;
    this.goneCount++;
    if (this.goneCount > MERGE_AT && this.goneCount * 4 > this.sorted.length + this.pending.length) this.compact();
  }

  private compact(): void {
    this.sorted = this.sorted.filter((x) => x.gone !== true);
    this.pending = this.pending.filter((x) => x.gone !== true);
    this.goneCount = 0;
  }

  /** Drops the least recently seen 1 % (at least one) to make room. */
  private evict(): void {
    this.merge();
    const k = Math.max(1, Math.floor(this.max / 100));
    const oldest = this.sorted.filter((e) => e.gone !== true).sort((a, b) => a.seenMs - b.seenMs).slice(0, k);
    this.drop(new Set(oldest));
  }

  /** Forgets nodes not seen since `cutoffMs` (wall clock); returns how many. */
  expire(cutoffMs: number): number {
    this.merge();
    const old = new Set(this.sorted.filter((e) => e.gone !== true && e.seenMs < cutoffMs));
    if (old.size > 0) this.drop(old);
    return old.size;
  }

  private drop(gone: Set<KnownNode>): void {
    for (const e of gone) {
      this.byId.delete(e.id.toString('latin1'));
      e.gone = true;
      this.onEvicted?.(e);
    }
    this.compact();
  }

  /** Merges the unsorted additions into the sorted array: O(n), once per MERGE_AT additions at most. */
  private merge(): void {
    if (this.pending.length === 0) return;
    const add = this.pending.filter((x) => x.gone !== true).sort((a, b) => Buffer.compare(a.hash, b.hash));
    const old = this.sorted;
    const out: KnownNode[] = new Array(old.length + add.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < old.length || j < add.length) {
      out[k++] = j >= add.length || (i < old.length && Buffer.compare(old[i].hash, add[j].hash) <= 0) ? old[i++] : add[j++];
    }
    this.sorted = out;
    this.pending = [];
  }

  /** Up to `count` nodes closest to `targetHash`, closest first, that `accept` lets through. */
  closest(targetHash: Uint8Array, count: number, accept?: (n: KnownNode) => boolean): KnownNode[] {
    if (!(count > 0)) return [];
    const s = this.sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(s[mid].hash, targetHash) < 0) lo = mid + 1;
      else hi = mid;
    }
    // The window around the target's place, and the few additions not merged yet,
    // kept closest first in a list bounded to `count`.
    const out: KnownNode[] = [];
    const consider = (n: KnownNode) => {
      if (n.gone === true || (out.length === count && distCmp(targetHash, n.hash, out[count - 1].hash) >= 0)) return;
      if (accept !== undefined && !accept(n)) return;
      insertByDistance(out, n, targetHash, count);
    };
    for (let i = Math.max(0, lo - WINDOW), end = Math.min(s.length, lo + WINDOW); i < end; i++) consider(s[i]);
    for (const n of this.pending) consider(n);
    return out;
  }
}
