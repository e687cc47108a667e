/**
 * Iterative Kademlia lookup (geth p2p/discover/lookup.go).
 *
 * Starts from the k closest nodes we know, keeps the k closest seen so far
 * sorted by distance to the target, and asks up to alpha of them at a time
 * (findnode). The lookup ends when every one of the current k closest has
 * been asked: at that point the last answers brought nobody closer who is
 * still unasked. Failed queries are reported to `onFailed` so the caller
 * can count them against the node (geth drops it after repeated failures).
 *
 * A Lookup is also an async iterable of newly seen nodes, in the order they
 * arrive: what an RLPx dialer consumes while the lookup goes on.
 */
import { keccak256 } from '../crypto';
import { insertByDistance } from '../table/table';
import { ALPHA, BUCKET_SIZE } from '../defaults';

/** Nodes a lookup returns: a bucket's worth (geth bucketSize). */
export const K = BUCKET_SIZE;
export { ALPHA };


/** A node as a lookup handles it. */
export interface LookupNode {
  id: Buffer;
  hash: Buffer;
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
}

export interface FoundNode {
  id: Uint8Array;
  ip: Uint8Array;
  udpPort: number;
  tcpPort: number;
}

export interface LookupConfig {
  /** The 64-byte public key searched for (what findnode carries). */
  target: Uint8Array;
  /** Where to start: usually the table's closest nodes to the target. */
  seeds: readonly LookupNode[];
  findnode: (n: LookupNode, target: Buffer) => Promise<readonly FoundNode[]>;
  /** Our own id: never queried nor returned. */
  selfId?: Uint8Array;
  alpha?: number;
  k?: number;
  /** A query was answered: the node and what it returned. */
  onAnswered?: (n: LookupNode, found: readonly LookupNode[]) => void;
  /** A query failed (timeout, refused). */
  onFailed?: (n: LookupNode) => void;
}

export interface LookupStats {
  /** findnode requests sent. */
  queries: number;
  failures: number;
  /** Nodes returned across all answers (with duplicates). */
  received: number;
  /** Longest chain of referrals from a seed to a queried node. */
  hops: number;
  seen: number;
}

export function toLookupNode(n: FoundNode | LookupNode): LookupNode {
  if ('hash' in n && n.hash instanceof Buffer) return n as LookupNode;
  const id = Buffer.from(n.id);
  return { id, hash: keccak256(id), ip: Buffer.from(n.ip), udpPort: n.udpPort, tcpPort: n.tcpPort };
}

export class Lookup implements AsyncIterable<LookupNode> {
  readonly target: Buffer;
  readonly targetHash: Buffer;
  readonly stats: LookupStats = { queries: 0, failures: 0, received: 0, hops: 0, seen: 0 };
  private readonly cfg: LookupConfig;
  private readonly alpha: number;
  private readonly k: number;
  /** The k closest seen so far, sorted by distance to the target. */
  private readonly result: LookupNode[] = [];
  private readonly seen = new Set<string>();
  private readonly asked = new Set<string>();
  private readonly depth = new Map<string, number>();
  private inflight = 0;
  private finished = false;
  private cancelled = false;
  private donePromise?: Promise<LookupNode[]>;
  private resolveDone?: (r: LookupNode[]) => void;
  // Streaming.
  private readonly fresh: LookupNode[] = [];
  private wake?: () => void;

  constructor(cfg: LookupConfig) {
    this.cfg = cfg;
    this.target = Buffer.from(cfg.target);
    this.targetHash = keccak256(this.target);
    this.alpha = cfg.alpha ?? ALPHA;
    this.k = cfg.k ?? K;
    if (cfg.selfId !== undefined) {
      const self = Buffer.from(cfg.selfId).toString('latin1');
      this.seen.add(self);
      this.asked.add(self);
    }
    for (const s of cfg.seeds) this.add(s, 0);
  }

  /** Runs the lookup to the end; resolves with the k closest nodes found. */
  run(): Promise<LookupNode[]> {
    if (this.donePromise === undefined) {
      this.donePromise = new Promise((resolve) => (this.resolveDone = resolve));
      this.advance();
    }
    return this.donePromise;
  }

  /** Stops asking; queries in flight are left to finish and ignored. */
  cancel(): void {
    this.cancelled = true;
    this.finish();
  }

  get closest(): readonly LookupNode[] {
    return this.result;
  }

  private add(n: LookupNode, depth: number): boolean {
    const key = n.id.toString('latin1');
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.stats.seen++;
    this.depth.set(key, depth);
    insertByDistance(this.result, n, this.targetHash, this.k);
    return true;
  }

  private advance(): void {
    if (this.finished) return;
    for (let i = 0; i < this.result.length && this.inflight < this.alpha && !this.cancelled; i++) {
      const n = this.result[i];
      const key = n.id.toString('latin1');
      if (this.asked.has(key)) continue;
      this.asked.add(key);
      this.query(n, key);
    }
    if (this.inflight === 0) this.finish();
  }

  private query(n: LookupNode, key: string): void {
    this.inflight++;
    this.stats.queries++;
    const d = this.depth.get(key) ?? 0;
    this.stats.hops = Math.max(this.stats.hops, d + 1);
    this.cfg.findnode(n, this.target).then(
      (found) => this.answered(n, d, found),
      () => this.failed(n),
    );
  }

  private failed(n: LookupNode): void {
    this.inflight--;
    this.stats.failures++;
    this.cfg.onFailed?.(n);
    this.advance();
  }

  private answered(n: LookupNode, depth: number, found: readonly FoundNode[]): void {
    this.inflight--;
    this.stats.received += found.length;
    const nodes = found.map(toLookupNode);
    if (!this.finished) {
      for (const f of nodes) {
        if (this.add(f, depth + 1)) this.fresh.push(f);
      }
    }
    this.cfg.onAnswered?.(n, nodes);
    if (this.fresh.length > 0) this.wake?.();
    this.advance();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone?.(this.result.slice());
    this.wake?.();
  }

  /** Newly seen nodes as they arrive (seeds first), until the lookup ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<LookupNode> {
    for (const s of this.cfg.seeds) yield s;
    void this.run();
    for (;;) {
      while (this.fresh.length > 0) yield this.fresh.shift()!;
      if (this.finished) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
