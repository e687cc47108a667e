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
 * Memory: a 32-byte hash, a 64-byte id and the endpoint per node; measured
 * with node --expose-gc: 0.5 KiB of JS heap + 0.2 KiB of buffers, ~0.9 KiB
 * of RSS per node (90 MiB for 100,000); test/node/known.test.ts checks it.
 */
import { keccak256 } from '../crypto';
import { distCmp } from '../table/distance';

export const DEFAULT_MAX_KNOWN = 100_000;
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
}

export class KnownNodes {
  /** Sorted by hash. */
  private sorted: KnownNode[] = [];
  private readonly byId = new Map<string, KnownNode>();
  /** Additions since the last sort (sorted lazily, on the next lookup). */
  private pending: KnownNode[] = [];

  constructor(readonly max = DEFAULT_MAX_KNOWN) {}

  get size(): number {
    return this.byId.size;
  }

  /** Adds or refreshes a node that proved itself. */
  add(n: { id: Uint8Array; ip: Uint8Array; udpPort: number; tcpPort: number; record?: Uint8Array }, seenMs: number): void {
    if (n.id.length !== 64 || (n.ip.length !== 4 && n.ip.length !== 16)) return;
    const key = Buffer.from(n.id.buffer, n.id.byteOffset, n.id.byteLength).toString('latin1');
    const e = this.byId.get(key);
    if (e !== undefined) {
      e.ip = Buffer.from(n.ip);
      e.udpPort = n.udpPort;
      e.tcpPort = n.tcpPort;
      if (n.record !== undefined) e.record = Buffer.from(n.record);
      e.seenMs = seenMs;
      return;
    }
    if (this.byId.size >= this.max) this.evict();
    const id = Buffer.from(n.id);
    const node: KnownNode = { id, hash: keccak256(id), ip: Buffer.from(n.ip), udpPort: n.udpPort, tcpPort: n.tcpPort, seenMs };
    if (n.record !== undefined) node.record = Buffer.from(n.record);
    this.byId.set(key, node);
    this.pending.push(node);
  }

  /** Every known node (unordered): read-only views for reports. */
  values(): IterableIterator<Readonly<KnownNode>> {
    return this.byId.values();
  }

  remove(id: Uint8Array): void {
    const key = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
    const e = this.byId.get(key);
    if (e === undefined) return;
    this.byId.delete(key);
    this.sorted = this.sorted.filter((x) => x !== e);
    this.pending = this.pending.filter((x) => x !== e);
  }

  /** Drops the least recently seen 1 % (at least one) to make room. */
  private evict(): void {
    this.settle();
    const k = Math.max(1, Math.floor(this.max / 100));
    const oldest = [...this.sorted].sort((a, b) => a.seenMs - b.seenMs).slice(0, k);
    const gone = new Set(oldest);
    for (const e of oldest) this.byId.delete(e.id.toString('latin1'));
    this.sorted = this.sorted.filter((e) => !gone.has(e));
  }

  private settle(): void {
    if (this.pending.length === 0) return;
    this.sorted = this.sorted.concat(this.pending).sort((a, b) => Buffer.compare(a.hash, b.hash));
    this.pending = [];
  }

  /** Up to `count` nodes closest to `targetHash`, closest first, that `accept` lets through. */
  closest(targetHash: Uint8Array, count: number, accept?: (n: KnownNode) => boolean): KnownNode[] {
    this.settle();
    const s = this.sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(s[mid].hash, targetHash) < 0) lo = mid + 1;
      else hi = mid;
    }
    const window = s.slice(Math.max(0, lo - WINDOW), Math.min(s.length, lo + WINDOW));
    window.sort((a, b) => distCmp(targetHash, a.hash, b.hash));
    const out: KnownNode[] = [];
    for (const n of window) {
      if (out.length === count) break;
      if (accept === undefined || accept(n)) out.push(n);
    }
    return out;
  }
}
