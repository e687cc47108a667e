/**
 * The Kademlia node table (geth p2p/discover/table.go, table_reval.go).
 *
 * - 17 buckets by log distance between keccak256(node id) and ours: the
 *   closest 239 distances share bucket 0, since real ids essentially never
 *   land there (hashBits / 15 buckets, as geth).
 * - At most 16 live entries and 10 replacements per bucket; at most 2 nodes
 *   from one /24 (/64 for IPv6) per bucket and 10 per table, LAN addresses
 *   exempt unless configured otherwise.
 * - Only nodes that proved their endpoint enter: `addVerified` for nodes we
 *   know answered our ping (an inbound ping we bonded with, a node that
 *   answered findnode), `addFound` for nodes learned from others, which are
 *   pinged first. Replacements are pinged again before they take a slot.
 * - Revalidation: a fast list (new, moved or failed nodes) and a slow one
 *   (nodes that answered), each pinged in turn, oldest check first: one node
 *   per list every interval (fast: pingInterval, slow: 3x), shortened for
 *   long lists so that every fast-list node is checked within 20 intervals
 *   (1 min at the 3 s default) and every slow-list node within 600 (30 min),
 *   at most one ping per 10 ms per list.
 *   A dead node thus leaves within those windows whatever the table's size
 *   (geth picks a random node per turn, which for a bootnode's thousands of
 *   entries means hours). A node that answers moves to the slow list; a
 *   higher enr-seq in its pong fetches its new record.
 *   A node that fails has its liveness count divided by 3 and is dropped at
 *   0, its slot going to a (verified) replacement.
 *
 * No I/O here beyond the small TableNet interface; time comes from a Clock.
 */
import { keccak256 } from '../crypto';
import { sameBytes } from '../wire/bytes';
import { decodeRecord } from '../enr/record';
import { isLAN, isUnspecified, Netlist } from '../transport/netutil';
import { Clock, systemClock, TimerHandle } from '../transport/clock';
import type { PongInfo } from '../transport/transport';
import { distCmp, logDistance } from './distance';
import { BUCKET_SIZE, FAST_REVALIDATION_WINDOW_INTERVALS, MAX_REPLACEMENTS, MIN_REVALIDATION_GAP_MS, PING_INTERVAL_MS, SLOW_REVALIDATION_WINDOW_INTERVALS } from '../defaults';

export { BUCKET_SIZE, MAX_REPLACEMENTS };

const HASH_BITS = 256;
export const N_BUCKETS = Math.floor(HASH_BITS / 15); // 17
/** Distances at or below this all go to bucket 0. */
export const BUCKET_MIN_DISTANCE = HASH_BITS - N_BUCKETS; // 239
const SLOW_REVALIDATION_FACTOR = 3;
/** Concurrent verification pings for found nodes; more wait, up to the queue bound. */
const MAX_VERIFYING = 16;
const MAX_VERIFY_QUEUE = 1_000;

export interface NodeRecordInfo {
  id: Uint8Array;
  ip: Uint8Array;
  udpPort: number;
  tcpPort: number;
  seq?: bigint;
  /** The node's ENR (RLP) when known. */
  record?: Uint8Array;
}

/**
 * A node in the table (or a replacement). Its Buffers are never written in
 * place (an endpoint change assigns a new one), so they are either owned
 * copies of the caller's bytes or, when built from another TableNode,
 * that node's Buffers, shared: a caller's views may change after the call,
 * a TableNode's bytes never do. Sharing spares a copy and a keccak per
 * entry when one node sits in many tables (the simulation premines 100,000
 * tables from one TableNode per node) and when a verified or promoted node
 * is re-added.
 */
export class TableNode {
  readonly id: Buffer;
  /** keccak256(id): its place in Kademlia space. */
  readonly hash: Buffer;
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
  seq: bigint;
  record?: Buffer;
  addedAtMs = 0;
  livenessChecks = 0;
  isValidatedLive = false;
  /** 'fast' | 'slow' while in a bucket's entries, undefined otherwise. */
  revalList?: 'fast' | 'slow';

  constructor(n: NodeRecordInfo) {
    const shared = n instanceof TableNode;
    this.id = shared ? n.id : Buffer.from(n.id);
    this.hash = shared ? n.hash : keccak256(this.id);
    this.ip = shared ? n.ip : Buffer.from(n.ip);
    this.udpPort = n.udpPort;
    this.tcpPort = n.tcpPort;
    this.seq = n.seq ?? 0n;
    if (n.record !== undefined) this.record = shared ? n.record : Buffer.from(n.record);
  }
}

/** keccak256(id) of a node, reusing a TableNode's hash instead of hashing again. */
function hashOf(n: NodeRecordInfo): Buffer {
  return n instanceof TableNode ? n.hash : keccak256(n.id);
}

/** What the table needs from the network. */
export interface TableNet {
  ping(n: TableNode): Promise<PongInfo>;
  requestENR(n: TableNode): Promise<Buffer>;
}

export interface TableConfig {
  selfId: Uint8Array;
  net: TableNet;
  clock?: Clock;
  /** Random in [0, 1): injectable for tests. */
  random?: () => number;
  bucketSize?: number;
  maxReplacements?: number;
  bucketIPLimit?: number;
  tableIPLimit?: number;
  /** LAN and loopback addresses are exempt from IP limits (geth). Default true. */
  exemptLANFromIPLimits?: boolean;
  pingIntervalMs?: number;
  /** Only nodes with an IP in this list may enter (geth Config.NetRestrict). Default: any. */
  netrestrict?: Netlist;
  /** Called when a node enters / leaves the live entries (the node service persists it). */
  onAdded?: (n: TableNode) => void;
  onRemoved?: (n: TableNode) => void;
  /** Called when an entry answers a revalidation ping (fresher liveness, maybe a newer record). */
  onRevalidated?: (n: TableNode) => void;
  /** Extra admission rule (e.g. a ban list): nodes it refuses never enter, not even as replacements. */
  admitNode?: (id: Uint8Array, ip: Uint8Array) => boolean;
}

/** Where an update of an entry comes from: the node itself, or another node / our lookups. */
type InfoSource = 'node' | 'hearsay';

/** Table.closest's choices. */
export interface ClosestOptions {
  /** Only nodes that answered a revalidation ping, if there are any (what findnode answers use). Default false. */
  preferLive?: boolean;
  /** Only nodes it lets through (e.g. the fork filter). */
  accept?: (n: TableNode) => boolean;
}

interface Bucket {
  entries: TableNode[];
  replacements: TableNode[];
  ips: Map<string, number>;
}

/** Per-subnet counts (geth netutil.DistinctNetSet): /24 for IPv4, /64 for IPv6. */
function subnetKey(ip: Uint8Array): string {
  return ip.length === 4 ? `${ip[0]}.${ip[1]}.${ip[2]}` : Buffer.from(ip.subarray(0, 8)).toString('hex');
}

export class Table {
  readonly selfId: Buffer;
  readonly selfHash: Buffer;
  readonly buckets: Bucket[] = [];
  /** bucketOrder's result, reused (no allocation per findnode answer). */
  private readonly order = new Uint8Array(N_BUCKETS);
  private readonly net: TableNet;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly bucketSize: number;
  private readonly maxReplacements: number;
  private readonly bucketIPLimit: number;
  private readonly tableIPLimit: number;
  private readonly exemptLAN: boolean;
  private readonly pingIntervalMs: number;
  private readonly tableIps = new Map<string, number>();
  private readonly cfg: TableConfig;
  // Revalidation lists.
  private readonly fast: TableNode[] = [];
  private readonly slow: TableNode[] = [];
  private fastNext = Infinity;
  private slowNext = Infinity;
  private timer?: TimerHandle;
  private timerAt = Infinity;
  private readonly activeReval = new Set<string>();
  // Verification of found nodes.
  private readonly verifying = new Set<string>();
  private readonly verifyQueue: TableNode[] = [];
  private closed = false;
  readonly stats = { added: 0, removed: 0, replaced: 0, revalidations: 0, revalidationFailures: 0, verifyDropped: 0, ipLimited: 0, netrestricted: 0, refused: 0 };

  constructor(cfg: TableConfig) {
    this.cfg = cfg;
    this.selfId = Buffer.from(cfg.selfId);
    this.selfHash = keccak256(this.selfId);
    this.net = cfg.net;
    this.clock = cfg.clock ?? systemClock;
    this.random = cfg.random ?? Math.random;
    this.bucketSize = cfg.bucketSize ?? BUCKET_SIZE;
    this.maxReplacements = cfg.maxReplacements ?? MAX_REPLACEMENTS;
    this.bucketIPLimit = cfg.bucketIPLimit ?? 2;
    this.tableIPLimit = cfg.tableIPLimit ?? 10;
    this.exemptLAN = cfg.exemptLANFromIPLimits ?? true;
    this.pingIntervalMs = cfg.pingIntervalMs ?? PING_INTERVAL_MS;
    for (let i = 0; i < N_BUCKETS; i++) this.buckets.push({ entries: [], replacements: [], ips: new Map() });
  }

  // ------------------------------------------------------------ lookup

  bucketIndex(hash: Uint8Array): number {
    const d = logDistance(this.selfHash, hash);
    return d <= BUCKET_MIN_DISTANCE ? 0 : d - BUCKET_MIN_DISTANCE - 1;
  }

  private bucketOf(hash: Uint8Array): Bucket {
    return this.buckets[this.bucketIndex(hash)];
  }

  getNode(id: Uint8Array): TableNode | undefined {
    const hash = keccak256(id);
    return this.bucketOf(hash).entries.find((n) => sameBytes(n.id, id));
  }

  get size(): number {
    let n = 0;
    for (const b of this.buckets) n += b.entries.length;
    return n;
  }

  nodes(): TableNode[] {
    return this.buckets.flatMap((b) => b.entries);
  }

  /**
   * The `count` nodes closest to `targetHash` (geth findnodeByID), closest
   * first. With `preferLive`, only nodes that answered a revalidation ping
   * are used if there are any; with `accept`, only nodes it lets through.
   */
  closest(targetHash: Uint8Array, count: number, opts: ClosestOptions = {}): TableNode[] {
    if (opts.preferLive === true) {
      const live = this.nearest(targetHash, count, opts.accept, 'live');
      if (live.length > 0) return live;
    }
    return this.nearest(targetHash, count, opts.accept, 'all');
  }

  /**
   * The `count` entries closest to `targetHash` ('live': of those that
   * answered a revalidation) that `accept` lets through,
   * visiting buckets nearest first and stopping once a bucket fills the
   * answer, so the cost follows the answer, not the table (a bootnode's
   * table may hold 17 x 1024 nodes). Worst case, too few accepted nodes:
   * one pass over the table. See bucketOrder for why the order is exact.
   */
  private nearest(targetHash: Uint8Array, count: number, accept: ((n: TableNode) => boolean) | undefined, which: 'live' | 'all'): TableNode[] {
    const out: TableNode[] = [];
    if (count <= 0) return out;
    for (const j of this.bucketOrder(targetHash)) {
      for (const n of this.buckets[j].entries) {
        if (which === 'live' && !n.isValidatedLive) continue;
        // Farther than the answer's last: skip it before asking the filter (the fork check costs more).
        if (out.length === count && distCmp(targetHash, n.hash, out[count - 1].hash) >= 0) continue;
        if (accept === undefined || accept(n)) insertByDistance(out, n, targetHash, count);
      }
      if (out.length >= count) break;
    }
    return out;
  }

  /**
   * Bucket indexes ordered by distance to `targetHash`: every node of a
   * bucket is closer to the target than every node of a bucket after it,
   * except within bucket 0 and the target's own bucket, which are sorted
   * node by node. With the target at log distance L from us, in bucket t:
   * - bucket t's nodes are closer than L;
   * - a node of a lower bucket j (log distance 240 + j from us) is at
   *   exactly L: it agrees with us where the target differs. Below that it
   *   differs from the target at bit 240 + j exactly where the target
   *   agrees with us, so bucket j comes before all lower buckets if the
   *   target's bit there differs from ours, after them otherwise; bucket 0
   *   (every distance up to 240) sits between the two runs;
   * - a node of a higher bucket j is at its own distance from us, 240 + j.
   */
  private bucketOrder(targetHash: Uint8Array): Uint8Array {
    // Filled in place: one findnode answer asks for it once or twice, never nested.
    const order = this.order;
    const t = this.bucketIndex(targetHash);
    let k = 0;
    order[k++] = t;
    if (t > 0) {
      for (let j = t - 1; j >= 1; j--) if (this.targetDiffersAt(targetHash, j)) order[k++] = j;
      order[k++] = 0;
      for (let j = 1; j < t; j++) if (!this.targetDiffersAt(targetHash, j)) order[k++] = j;
    }
    for (let j = t + 1; j < this.buckets.length; j++) order[k++] = j;
    return order;
  }

  /** Whether the target's bit at log distance 240 + j (bit 239 + j from the least significant) differs from ours. */
  private targetDiffersAt(targetHash: Uint8Array, j: number): boolean {
    const bit = 239 + j;
    const byte = 31 - (bit >> 3);
    return (((targetHash[byte] ^ this.selfHash[byte]) >> (bit & 7)) & 1) === 1;
  }

  // ------------------------------------------------------------ adding

  /**
   * Adds a node that proved its endpoint. Returns true if it took a live
   * slot; a node already present has its endpoint/record updated; a full
   * bucket keeps it as a replacement.
   */
  addVerified(info: NodeRecordInfo, opts: { inbound?: boolean; live?: boolean } = {}): boolean {
    if (this.closed || sameBytes(this.selfId, info.id) || !validEndpoint(info)) return false;
    if (!this.admits(info.ip) || !this.admitsNode(info)) return false;
    const hash = hashOf(info);
    const b = this.bucketOf(hash);
    const existing = b.entries.find((n) => sameBytes(n.id, info.id));
    if (existing !== undefined) {
      this.bump(b, existing, info, opts.inbound === true ? 'node' : 'hearsay');
      return false;
    }
    if (b.entries.length >= this.bucketSize) {
      this.addReplacement(b, new TableNode(info));
      return false;
    }
    if (!this.addIP(b, info.ip)) return false;
    const n = new TableNode(info);
    if (opts.live) {
      n.livenessChecks = 1;
      n.isValidatedLive = true;
    }
    this.insert(b, n);
    return true;
  }

  /**
   * A node learned from a neighbors packet: unverified. If it could take a
   * slot it is pinged first and added once it answers; if its bucket is
   * full it waits among the replacements, to be pinged when promoted.
   */
  addFound(info: NodeRecordInfo): void {
    if (this.closed || sameBytes(this.selfId, info.id) || !validEndpoint(info)) return;
    // Checked before the verification ping: we never send to such nodes either.
    if (!this.admits(info.ip) || !this.admitsNode(info)) return;
    const hash = hashOf(info);
    const b = this.bucketOf(hash);
    if (b.entries.some((n) => sameBytes(n.id, info.id))) return;
    if (b.entries.length >= this.bucketSize) {
      this.addReplacement(b, new TableNode(info));
      return;
    }
    this.verify(new TableNode(info));
  }

  /** The netrestrict list the table enforces, if any. */
  get netrestrict(): Netlist | undefined {
    return this.cfg.netrestrict;
  }

  /** netrestrict: counted, so an operator sees a list that is too narrow. */
  private admits(ip: Uint8Array): boolean {
    const list = this.cfg.netrestrict;
    if (list === undefined || list.contains(ip)) return true;
    this.stats.netrestricted++;
    return false;
  }

  private admitsNode(info: NodeRecordInfo): boolean {
    const admit = this.cfg.admitNode;
    if (admit === undefined || admit(info.id, info.ip)) return true;
    this.stats.refused++;
    return false;
  }

  private verify(n: TableNode): void {
    const key = n.id.toString('hex');
    if (this.verifying.has(key)) return;
    if (this.verifying.size >= MAX_VERIFYING) {
      if (this.verifyQueue.length >= MAX_VERIFY_QUEUE) {
        this.stats.verifyDropped++;
        return;
      }
      this.verifyQueue.push(n);
      return;
    }
    this.verifying.add(key);
    this.net.ping(n).then(
      (pong) => {
        if (pong.enrSeq !== undefined && pong.enrSeq > n.seq) n.seq = pong.enrSeq;
        this.addVerified(n, { live: true });
      },
      () => undefined,
    ).finally(() => {
      this.verifying.delete(key);
      const next = this.verifyQueue.shift();
      if (next !== undefined && !this.closed) this.verify(next);
    });
  }

  private insert(b: Bucket, n: TableNode): void {
    n.addedAtMs = this.clock.now();
    b.entries.push(n);
    const r = b.replacements.findIndex((x) => sameBytes(x.id, n.id));
    if (r >= 0) {
      this.removeIP(b, b.replacements[r].ip);
      b.replacements.splice(r, 1);
    }
    this.pushReval(this.fast, n, 'fast');
    this.stats.added++;
    this.cfg.onAdded?.(n);
  }

  private addReplacement(b: Bucket, n: TableNode): void {
    const i = b.replacements.findIndex((x) => sameBytes(x.id, n.id));
    if (i >= 0) {
      // Newest first: a node we hear about again moves to the front.
      const [old] = b.replacements.splice(i, 1);
      b.replacements.unshift(old);
      return;
    }
    if (!this.addIP(b, n.ip)) return;
    b.replacements.unshift(n);
    if (b.replacements.length > this.maxReplacements) {
      const removed = b.replacements.pop()!;
      this.removeIP(b, removed.ip);
    }
  }

  /**
   * Updates an entry from newer information (geth bumpInBucket): what the
   * node itself tells us (its ping, its own record) may change anything;
   * hearsay (a lookup's answer) only with a higher seq. An IP change must
   * fit the IP limits.
   */
  private bump(b: Bucket, n: TableNode, info: NodeRecordInfo, source: InfoSource): void {
    const seq = info.seq ?? 0n;
    if (source === 'hearsay' && seq <= n.seq) return;
    const ipChanged = !n.ip.equals(info.ip);
    if (ipChanged) {
      this.removeIP(b, n.ip);
      if (!this.addIP(b, info.ip)) {
        this.addIP(b, n.ip);
        return;
      }
      n.ip = Buffer.from(info.ip);
    }
    const portChanged = n.udpPort !== info.udpPort;
    n.udpPort = info.udpPort;
    n.tcpPort = info.tcpPort;
    if (seq > n.seq || info.record !== undefined) {
      n.seq = seq > n.seq ? seq : n.seq;
      if (info.record !== undefined) n.record = Buffer.from(info.record);
    }
    // A moved node must prove its new endpoint soon.
    if (ipChanged || portChanged) this.moveReval(n, 'fast');
  }

  // ------------------------------------------------------------ removing

  /** Removes a node; its slot goes to a replacement that answers a ping. */
  remove(id: Uint8Array): boolean {
    const hash = keccak256(id);
    const b = this.bucketOf(hash);
    const i = b.entries.findIndex((n) => sameBytes(n.id, id));
    if (i < 0) return false;
    const [n] = b.entries.splice(i, 1);
    this.removeIP(b, n.ip);
    this.dropReval(n);
    this.stats.removed++;
    this.cfg.onRemoved?.(n);
    this.promoteReplacement(b);
    return true;
  }

  private promoteReplacement(b: Bucket): void {
    if (b.replacements.length === 0 || this.closed) return;
    const r = b.replacements.splice(Math.floor(this.random() * b.replacements.length), 1)[0];
    this.removeIP(b, r.ip);
    this.stats.replaced++;
    // Replacements were never verified: they take the slot only by answering.
    this.net.ping(r).then(
      (pong) => {
        if (pong.enrSeq !== undefined && pong.enrSeq > r.seq) r.seq = pong.enrSeq;
        if (!this.addVerified(r, { live: true })) this.promoteReplacement(b);
      },
      () => this.promoteReplacement(b),
    );
  }

  /** Records a findnode outcome (geth handleTrackRequest): drop nodes past 5 consecutive failures when the bucket can spare them. */
  trackFindnode(n: TableNode | NodeRecordInfo, fails: number): void {
    const b = this.bucketOf(hashOf(n));
    if (fails >= 5 && b.entries.length >= this.bucketSize / 4) this.remove(n.id);
  }

  // ------------------------------------------------------------ IP limits

  private addIP(b: Bucket, ip: Uint8Array): boolean {
    if (isUnspecified(ip)) return false;
    if (this.exemptLAN && isLAN(ip)) return true;
    const key = subnetKey(ip);
    const t = this.tableIps.get(key) ?? 0;
    const bc = b.ips.get(key) ?? 0;
    if (t >= this.tableIPLimit || bc >= this.bucketIPLimit) {
      this.stats.ipLimited++;
      return false;
    }
    this.tableIps.set(key, t + 1);
    b.ips.set(key, bc + 1);
    return true;
  }

  private removeIP(b: Bucket, ip: Uint8Array): void {
    if (this.exemptLAN && isLAN(ip)) return;
    const key = subnetKey(ip);
    decrement(this.tableIps, key);
    decrement(b.ips, key);
  }

  // ------------------------------------------------------------ revalidation

  private pushReval(list: TableNode[], n: TableNode, name: 'fast' | 'slow'): void {
    list.push(n);
    n.revalList = name;
    const now = this.clock.now();
    if (name === 'fast' && this.fastNext === Infinity) this.fastNext = now + this.random() * this.turnMs('fast');
    if (name === 'slow' && this.slowNext === Infinity) this.slowNext = now + this.random() * this.turnMs('slow');
    this.armTimer();
  }

  private dropReval(n: TableNode): void {
    const list = n.revalList === 'fast' ? this.fast : n.revalList === 'slow' ? this.slow : undefined;
    if (list !== undefined) {
      const i = list.indexOf(n);
      if (i >= 0) list.splice(i, 1);
    }
    n.revalList = undefined;
  }

  private moveReval(n: TableNode, to: 'fast' | 'slow'): void {
    if (n.revalList === to || n.revalList === undefined) return;
    this.dropReval(n);
    this.pushReval(to === 'fast' ? this.fast : this.slow, n, to);
  }

  private armTimer(): void {
    if (this.closed) return;
    const next = Math.min(this.fastNext, this.slowNext);
    if (next === Infinity || next >= this.timerAt) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timerAt = next;
    this.timer = this.clock.setTimer(() => this.onTimer(), Math.max(0, next - this.clock.now()));
    this.timer.unref?.();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    if (now >= this.fastNext) this.fastNext = this.revalidateOne(this.fast, now, this.turnMs('fast'));
    if (now >= this.slowNext) this.slowNext = this.revalidateOne(this.slow, now, this.turnMs('slow'));
    this.armTimer();
  }

  /**
   * Time between two pings of a list: its interval, shortened so that the
   * whole list is checked within its window (see the top of this file). The
   * windows scale with the ping interval, so an owner that slows
   * revalidation down (the simulation, a bench) slows them too.
   */
  private turnMs(list: 'fast' | 'slow'): number {
    const [interval, window, length] =
      list === 'fast'
        ? [this.pingIntervalMs, this.pingIntervalMs * FAST_REVALIDATION_WINDOW_INTERVALS, this.fast.length]
        : [this.pingIntervalMs * SLOW_REVALIDATION_FACTOR, this.pingIntervalMs * SLOW_REVALIDATION_WINDOW_INTERVALS, this.slow.length];
    return Math.min(interval, Math.max(MIN_REVALIDATION_GAP_MS, window / Math.max(1, length)));
  }

  /**
   * Pings the node of `list` whose check is oldest (the list is kept in
   * check order: the pinged node goes to its end); returns the list's next
   * time, at most `turn` from now.
   */
  private revalidateOne(list: TableNode[], now: number, turn: number): number {
    if (list.length === 0) return Infinity;
    const i = list.findIndex((c) => !this.activeReval.has(c.id.toString('latin1')));
    if (i >= 0) {
      const [n] = list.splice(i, 1);
      list.push(n);
      this.revalidate(n);
    }
    return now + this.random() * turn;
  }

  /** Pings `n` now; exported for tests and for the node service's on-demand checks. */
  revalidate(n: TableNode): Promise<void> {
    const key = n.id.toString('latin1');
    this.activeReval.add(key);
    this.stats.revalidations++;
    return this.net
      .ping(n)
      .then(
        async (pong) => {
          let record: Buffer | undefined;
          if (pong.enrSeq !== undefined && pong.enrSeq > n.seq) {
            record = await this.net.requestENR(n).catch(() => undefined);
          }
          this.onRevalidated(n, record);
        },
        () => this.onRevalidationFailed(n),
      )
      .finally(() => this.activeReval.delete(key));
  }

  /** No pong: a third of its liveness credit goes; at none it is removed (geth). */
  private onRevalidationFailed(n: TableNode): void {
    if (n.revalList === undefined) return; // removed meanwhile
    this.stats.revalidationFailures++;
    n.livenessChecks = Math.floor(n.livenessChecks / 3);
    if (n.livenessChecks <= 0) this.remove(n.id);
    else this.moveReval(n, 'fast');
  }

  /** It answered (with its newer record, if its seq went up). */
  private onRevalidated(n: TableNode, record?: Buffer): void {
    if (n.revalList === undefined) return; // removed meanwhile
    n.livenessChecks++;
    n.isValidatedLive = true;
    let endpointChanged = false;
    if (record !== undefined) {
      const rec = decodeRecord(record);
      if (rec !== undefined && rec.nodeId.equals(n.id) && rec.seq > n.seq) {
        const ep = rec.udpEndpoint(n.ip.length === 16);
        endpointChanged = ep !== undefined && (!n.ip.equals(ep.ip) || n.udpPort !== ep.udpPort);
        const b = this.bucketOf(n.hash);
        this.bump(b, n, { id: n.id, ip: ep?.ip ?? n.ip, udpPort: ep?.udpPort ?? n.udpPort, tcpPort: rec.tcpPort ?? n.tcpPort, seq: rec.seq, record }, 'node');
      }
    }
    if (!endpointChanged) this.moveReval(n, 'slow');
    this.cfg.onRevalidated?.(n);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.verifyQueue.length = 0;
  }
}

function validEndpoint(n: NodeRecordInfo): boolean {
  return (
    n.id instanceof Uint8Array &&
    n.id.length === 64 &&
    n.ip instanceof Uint8Array &&
    (n.ip.length === 4 || n.ip.length === 16) &&
    Number.isInteger(n.udpPort) &&
    n.udpPort > 0 &&
    n.udpPort <= 0xffff
  );
}

function decrement(m: Map<string, number>, key: string): void {
  const v = m.get(key);
  if (v === undefined) return;
  if (v <= 1) m.delete(key);
  else m.set(key, v - 1);
}

/** Inserts n into `list` (sorted by distance to target), keeping at most `max`. */
export function insertByDistance<T extends { hash: Uint8Array }>(list: T[], n: T, target: Uint8Array, max: number): void {
  let i = list.length;
  while (i > 0 && distCmp(target, n.hash, list[i - 1].hash) < 0) i--;
  if (i >= max) return;
  list.splice(i, 0, n);
  if (list.length > max) list.pop();
}
