/**
 * The N-node discovery simulation: real Transport + Table + Lookup per node
 * (signing, verification, bonding, findnode/neighbors as on the wire) over
 * a MemoryNetwork instead of sockets. It answers "does the lookup find the
 * true 16 closest nodes past one machine, and at what cost?".
 *
 * 1. N nodes, each a Transport on 10.x.y.z:30303 and a Table wired as
 *    src/node/discovery.ts wires them (findnode answered from
 *    `table.closest(h, 16, { preferLive: true })`, inbound bonded nodes enter the table,
 *    lookup answers feed it). Discovery itself is not used: it needs the
 *    node DB and refresh timers, neither of which the simulation wants.
 * 2. "Premine" every table to the state of a converged network, as geth's
 *    v4_lookup_test.go premines its test net: for each bucket, the nodes
 *    of the whole network that fall in it form one contiguous run of the
 *    hash-sorted node list (they share a prefix with us, then differ at
 *    one bit), found by binary search; the bucket gets 16 random members
 *    of that run, the next ones become replacements. O(N * 17 * log N),
 *    no O(N^2) scan. Every table entry of a node shares that node's id,
 *    hash and ip Buffers (SimNode.info), so an entry costs one small
 *    object, not three Buffers and a keccak. Bonds are NOT premined: the
 *    first findnode to a node costs ping, pong, ping-back, pong as in the wild.
 * 3. Lookups one at a time, so every datagram on the network during a
 *    lookup (and until the network is idle again) belongs to it.
 *    Success: the lookup's 16 results are exactly the 16 nodes of the
 *    whole network closest to the target (the searching node excluded,
 *    since a lookup never returns itself), found by scanning all N hashes.
 * 4. Memory per node: heap + external (which already includes
 *    ArrayBuffers: Node documents `arrayBuffers` as part of `external`)
 *    after setup minus before, over N, after a full GC when --expose-gc;
 *    and the process's peak RSS, what a run needs from the machine.
 *
 * Background work that would muddy per-lookup counts is off: table
 * revalidation (pingIntervalMs 1e12) and periodic refresh (not wired).
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { isValidPrivateKey, keccak256 } from '../crypto';
import { K, Lookup, LookupNode } from '../lookup/lookup';
import { distCmp } from '../table/distance';
import { insertByDistance, Table, TableNode } from '../table/table';
import { Transport } from '../transport/transport';
import { PACKET_TYPE_NAMES } from '../wire/types';
import { MemoryNetwork } from './memory-network';

export interface SimulationOptions {
  /** Nodes in the network. Default 100,000. */
  nodes?: number;
  /** Lookups to run, one after another. Default 200. */
  lookups?: number;
  /** Self lookups (target: the searching node's own id) run after them. Default 20. */
  selfLookups?: number;
  /** Seed of every random choice (keys, premine picks, lookup sources, targets). Default 1. */
  seed?: number;
  /** Replacements premined per full bucket (a long-running node's table has them). Default 10, the table's maximum. */
  replacementsPerBucket?: number;
  /**
   * Send slots per transport. The memory socket calls `done` inside `send`,
   * so one slot is in use at a time; the transport's default (1,024 slots,
   * 1.25 MiB) would cost 125 GiB over 100,000 nodes. Default 4.
   */
  sendSlots?: number;
  /** Transport response timeout. Default 500 (the transport's default). */
  respTimeoutMs?: number;
  /** MemoryNetwork loss and latency, for experiments. Default 0. */
  lossRate?: number;
  latencyMs?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

export interface Summary {
  mean: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export interface LookupRecord {
  /** Index of the node that searched. */
  node: number;
  /** How many of the true 16 closest the lookup returned. */
  overlap: number;
  success: boolean;
  hops: number;
  queries: number;
  failedQueries: number;
  /** Datagrams from the lookup's start until the network was idle again. */
  messages: number;
  /** Datagrams sent while run() was pending (the rest: verification pings of found nodes finishing). */
  messagesDuringRun: number;
  bytes: number;
  /** Datagrams lost (lossRate) or sent to nobody meanwhile. */
  dropped: number;
  /** Requests of the searching node that timed out (findnode answers short of 16 nodes end this way). */
  timeouts: number;
  /** Whether the searching node is itself one of the 16 nodes closest to the target. */
  selfAmongClosest: boolean;
  /** Wall time of run(). */
  ms: number;
}

export interface SimulationResult {
  config: Required<Omit<SimulationOptions, 'log'>>;
  setup: {
    ms: number;
    keysMs: number;
    transportsMs: number;
    premineMs: number;
    /** Live table entries per node. */
    tableEntries: Summary;
    /** Replacement entries per node. */
    replacements: Summary;
  };
  memory: {
    gcExposed: boolean;
    baselineBytes: number;
    /** (heapUsed + external) after setup minus baseline, over N. */
    perNodeBytes: number;
    perNodeKiB: number;
    /** Of which: transports, sockets and keys (before premine). */
    transportPerNodeKiB: number;
    /** Of which: premined tables. */
    tablePerNodeKiB: number;
    /** Same measure after all lookups (bonds, found nodes added). */
    afterLookupsPerNodeKiB: number;
    /** Of perNodeKiB: the JS heap alone (the rest is external: send slots, Buffers' bytes). */
    heapPerNodeKiB: number;
    /** Parts after setup, whole process, bytes. */
    heapUsed: number;
    external: number;
    arrayBuffers: number;
    rss: number;
    /** The most RSS the process ever had (the kernel's high-water mark), bytes: what a run needs from the machine. */
    peakRss: number;
    /** V8's heap limit (--max-old-space-size), bytes: a run whose heap would pass it dies. */
    heapLimit: number;
  };
  lookups: LookupSummary;
  /** Lookups of the searching node's own id (refresh does one at start and every 30 min). */
  selfLookups: LookupSummary;
  /** Protocol counters summed over all transports at the end (all should be 0 in a loss-free run). */
  protocol: {
    timeouts: number;
    drops: Record<string, number>;
    /** Datagrams lost or undeliverable, over all lookups. */
    networkDropped: number;
    handlerErrors: number;
    verifyDropped: number;
  };
  perLookup: LookupRecord[];
  perSelfLookup: LookupRecord[];
  totalMs: number;
}

export interface LookupSummary {
    count: number;
    successes: number;
    successRate: number;
    /** Overlap (of 16) of every failed lookup. */
    failureOverlaps: number[];
    meanOverlap: number;
    hops: Summary;
    messages: Summary;
    /** Mean datagrams per lookup by packet type. */
    messagesByType: Record<string, number>;
    bytes: Summary;
    queries: Summary;
    failedQueries: number;
    ms: Summary;
    /** Requests of the searching nodes that timed out, over all these lookups. */
    timeouts: number;
    totalMs: number;
}

/** sfc32: a small, fast, seedable PRNG (PractRand-clean), so runs repeat. */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

export function randomBytesFrom(random: () => number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** One simulated node: what Discovery would hold, minus DB and refresh. */
export class SimNode {
  readonly transport: Transport;
  readonly table: Table;
  /** keccak256(id): its place in Kademlia space. */
  readonly hash: Buffer;
  /**
   * How other nodes reach it. A TableNode, so every table it is premined
   * into shares its id, hash and ip Buffers instead of copying and hashing
   * them (each node sits in about 250 premined tables).
   */
  readonly info: TableNode;

  constructor(
    net: MemoryNetwork,
    readonly index: number,
    privateKey: Buffer,
    ip: string,
    port: number,
    opts: { sendSlots: number; respTimeoutMs: number; random: () => number },
  ) {
    const socket = net.bind(ip, port);
    // The table answers findnode from the first datagram: bind it late
    // through the closure (discovery.ts does the same with `transport`).
    let table: Table | undefined;
    this.transport = new Transport({
      privateKey,
      socket,
      sendSlots: opts.sendSlots,
      respTimeoutMs: opts.respTimeoutMs,
      closest: (targetHash, count) => (table === undefined ? [] : table.closest(targetHash, count, { preferLive: true })),
    });
    const transport = this.transport;
    table = new Table({
      selfId: transport.nodeId,
      net: { ping: (n) => transport.ping(n), requestENR: (n) => transport.requestENR(n) },
      // No revalidation: its pings would land in the per-lookup counts.
      pingIntervalMs: 1e12,
      random: opts.random,
    });
    this.table = table;
    this.info = new TableNode({ id: transport.nodeId, ip: socket.ip, udpPort: port, tcpPort: 0 });
    this.hash = this.info.hash;
    // As discovery.ts onInbound (past its initial refresh, which premining stands for).
    transport.on('inboundNode', (n) => table.addVerified(n, { inbound: true, live: true }));
  }

  /** A lookup as Discovery.newLookup builds it. */
  lookup(target: Uint8Array): Lookup {
    return new Lookup({
      target,
      seeds: this.table.closest(keccak256(target), K),
      selfId: this.transport.nodeId,
      findnode: (n, t) => this.transport.findnode(n, t),
      onAnswered: (n, found) => {
        // It answered findnode after bonding with us: its endpoint is proven.
        this.table.addVerified(n, { live: true });
        for (const f of found) this.table.addFound(f);
      },
      onFailed: (n) => this.table.trackFindnode(n, this.transport.findFails(n.id, n.ip)),
    });
  }

  async close(): Promise<void> {
    this.table.close();
    await this.transport.close();
  }
}

/**
 * One SimNode per key, at 10.0.0.1, 10.0.0.2, ... port 30303: all LAN
 * (10/8), so the table's IP limits (2 per /24 per bucket) never bite.
 */
export function createNodes(
  net: MemoryNetwork,
  keys: readonly Buffer[],
  opts: { sendSlots?: number; respTimeoutMs?: number; random?: () => number } = {},
): SimNode[] {
  if (keys.length > 0xfffffe) throw new RangeError(`at most 16,777,214 nodes fit in 10/8, got ${keys.length}`);
  const o = { sendSlots: opts.sendSlots ?? 4, respTimeoutMs: opts.respTimeoutMs ?? 500, random: opts.random ?? Math.random };
  return keys.map((key, i) => {
    const a = i + 1;
    return new SimNode(net, i, key, `10.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`, 30303, o);
  });
}

/** Compares the first `bits` bits of a and b (32-byte hashes). */
function comparePrefix(a: Uint8Array, b: Uint8Array, bits: number): number {
  const full = bits >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return a[i] - b[i];
  const rest = bits & 7;
  if (rest === 0) return 0;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[full] & mask) - (b[full] & mask);
}

/** [lo, hi) of the hash-sorted nodes whose first `bits` bits equal probe's. */
function prefixRange(sorted: readonly SimNode[], probe: Uint8Array, bits: number): [number, number] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePrefix(sorted[mid].hash, probe, bits) < 0) lo = mid + 1;
    else hi = mid;
  }
  const start = lo;
  hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePrefix(sorted[mid].hash, probe, bits) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return [start, lo];
}

/**
 * `m` distinct random indices of [lo, hi) other than `skip`, in random
 * order (the first 16 take the bucket's slots, the rest are replacements).
 */
function pick(random: () => number, lo: number, hi: number, m: number, skip: number): number[] {
  const size = hi - lo;
  if (size <= 2 * m) {
    const all: number[] = [];
    for (let i = lo; i < hi; i++) if (i !== skip) all.push(i);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    return all.slice(0, m);
  }
  const chosen = new Set<number>();
  const out: number[] = [];
  while (out.length < m) {
    const i = lo + Math.floor(random() * size);
    if (i === skip || chosen.has(i)) continue;
    chosen.add(i);
    out.push(i);
  }
  return out;
}

/** Table buckets: 16 by shared prefix length 0..15, bucket 0 for 16 or more (table.ts: distance <= 240). */
const PREFIX_BUCKETS = 16;

/**
 * Fills every node's table as a converged network would: per bucket,
 * `bucketSize + replacements` random nodes from the run of the sorted
 * list that falls in it.
 */
export function premine(nodes: readonly SimNode[], random: () => number, bucketSize: number, replacements: number): void {
  const sorted = nodes.slice().sort((a, b) => Buffer.compare(a.hash, b.hash));
  const probe = Buffer.alloc(32);
  const want = bucketSize + replacements;
  for (let p = 0; p < sorted.length; p++) {
    const self = sorted[p];
    // Shared prefix of exactly k bits: our first k bits, then bit k flipped.
    for (let k = 0; k < PREFIX_BUCKETS; k++) {
      self.hash.copy(probe);
      probe[k >>> 3] ^= 0x80 >>> (k & 7);
      const [lo, hi] = prefixRange(sorted, probe, k + 1);
      for (const i of pick(random, lo, hi, want, -1)) self.table.addVerified(sorted[i].info, { live: true });
    }
    // 16 or more shared bits: one bucket, ourselves excluded.
    const [lo, hi] = prefixRange(sorted, self.hash, PREFIX_BUCKETS);
    for (const i of pick(random, lo, hi, want, p)) self.table.addVerified(sorted[i].info, { live: true });
  }
}

/** The k nodes of the whole network closest to targetHash, `exclude` left out. */
function trueClosest(nodes: readonly SimNode[], targetHash: Buffer, k: number, exclude: SimNode): SimNode[] {
  const out: SimNode[] = [];
  for (const n of nodes) {
    if (n === exclude) continue;
    // Cheap reject before the sorted insert: farther than the current k-th.
    if (out.length === k && distCmp(targetHash, n.hash, out[k - 1].hash) >= 0) continue;
    insertByDistance(out, n, targetHash, k);
  }
  return out;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { mean: 0, median: 0, p95: 0, min: 0, max: 0 };
  const s = values.slice().sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return {
    mean: s.reduce((x, y) => x + y, 0) / s.length,
    median: s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2,
    // Nearest rank.
    p95: s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)],
    min: s[0],
    max: s[s.length - 1],
  };
}

interface MemorySample {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  total: number;
}

function memory(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, total: m.heapUsed + m.external };
}

/** The process's RSS high-water mark in bytes (getrusage's ru_maxrss, which Node reports in KiB). */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

const TYPE_NAMES: Record<number, string> = PACKET_TYPE_NAMES;

/** discv4 header: hash (32) + signature (65), then the packet type byte. */
const TYPE_OFFSET = 97;

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

interface LookupContext {
  nodes: readonly SimNode[];
  net: MemoryNetwork;
  typeCounts: Float64Array;
  random: () => number;
  log: (line: string) => void;
  /**
   * With loss, work goes on after the network is idle: requests wait for
   * their timeouts, bonding for its ping-back (2 x respTimeoutMs), then
   * send again. Waiting this long after drain() keeps that traffic out of
   * the next lookup's counts. 0 on a loss-free network.
   */
  settleMs: number;
}

interface LookupSet {
  records: LookupRecord[];
  /** Datagrams by packet type, summed. */
  byType: Record<string, number>;
  ms: number;
}

/** `count` lookups from random nodes, one at a time, each measured alone. */
async function runLookups(ctx: LookupContext, name: string, count: number, targetOf: (n: SimNode) => Buffer): Promise<LookupSet> {
  const { nodes, net, typeCounts, random, log } = ctx;
  const records: LookupRecord[] = [];
  const byType: Record<string, number> = { ping: 0, pong: 0, findnode: 0, neighbors: 0, enrRequest: 0, enrResponse: 0 };
  const started = performance.now();
  for (let l = 0; l < count; l++) {
    const node = nodes[Math.floor(random() * nodes.length)];
    const target = targetOf(node);
    const targetHash = keccak256(target);
    const truth = trueClosest(nodes, targetHash, K, node);
    const selfAmongClosest = distCmp(targetHash, node.hash, truth[truth.length - 1].hash) < 0;
    const timeoutsBefore = node.transport.stats().timeouts;
    await net.drain();
    net.resetCounters();
    typeCounts.fill(0);
    const t0 = performance.now();
    const lookup = node.lookup(target);
    const result: LookupNode[] = await lookup.run();
    const ms = performance.now() - t0;
    const messagesDuringRun = net.stats.datagrams;
    await net.drain();
    if (ctx.settleMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, ctx.settleMs));
      await net.drain();
    }
    const found = new Set(result.map((n) => n.id.toString('latin1')));
    let overlap = 0;
    for (const n of truth) if (found.has(n.transport.nodeId.toString('latin1'))) overlap++;
    const rec: LookupRecord = {
      node: node.index,
      overlap,
      success: overlap === truth.length && result.length === truth.length,
      hops: lookup.stats.hops,
      queries: lookup.stats.queries,
      failedQueries: lookup.stats.failures,
      messages: net.stats.datagrams,
      messagesDuringRun,
      bytes: net.stats.bytes,
      dropped: net.stats.dropped,
      timeouts: node.transport.stats().timeouts - timeoutsBefore,
      selfAmongClosest,
      ms: round(ms, 3),
    };
    records.push(rec);
    for (let ty = 1; ty <= 6; ty++) byType[TYPE_NAMES[ty]] += typeCounts[ty];
    if ((l + 1) % Math.max(1, Math.floor(count / 10)) === 0 || l + 1 === count) {
      const ok = records.filter((r) => r.success).length;
      log(`${name}: ${l + 1}/${count}, ${ok} exact, last: ${rec.hops} hops, ${rec.queries} queries, ${rec.messages} datagrams, ${rec.ms.toFixed(1)} ms`);
    }
  }
  return { records, byType, ms: performance.now() - started };
}

function summarizeLookups(set: LookupSet): LookupSummary {
  const records = set.records;
  const successes = records.filter((r) => r.success).length;
  const messagesByType: Record<string, number> = {};
  for (const [k, v] of Object.entries(set.byType)) messagesByType[k] = round(v / Math.max(1, records.length));
  return {
    count: records.length,
    successes,
    successRate: records.length === 0 ? 0 : successes / records.length,
    failureOverlaps: records.filter((r) => !r.success).map((r) => r.overlap),
    meanOverlap: records.length === 0 ? 0 : records.reduce((s, r) => s + r.overlap, 0) / records.length,
    hops: summarize(records.map((r) => r.hops)),
    messages: summarize(records.map((r) => r.messages)),
    messagesByType,
    bytes: summarize(records.map((r) => r.bytes)),
    queries: summarize(records.map((r) => r.queries)),
    failedQueries: records.reduce((s, r) => s + r.failedQueries, 0),
    ms: summarize(records.map((r) => r.ms)),
    timeouts: records.reduce((s, r) => s + r.timeouts, 0),
    totalMs: round(set.ms),
  };
}

export async function runSimulation(opts: SimulationOptions = {}): Promise<SimulationResult> {
  const config: Required<Omit<SimulationOptions, 'log'>> = {
    nodes: opts.nodes ?? 100_000,
    lookups: opts.lookups ?? 200,
    selfLookups: opts.selfLookups ?? 20,
    seed: opts.seed ?? 1,
    replacementsPerBucket: opts.replacementsPerBucket ?? 10,
    sendSlots: opts.sendSlots ?? 4,
    respTimeoutMs: opts.respTimeoutMs ?? 500,
    lossRate: opts.lossRate ?? 0,
    latencyMs: opts.latencyMs ?? 0,
  };
  const log = opts.log ?? (() => undefined);
  const N = config.nodes;
  if (!Number.isInteger(N) || N < 2 || N > 0xfffffe) throw new RangeError(`nodes must be 2..16777214, got ${N}`);
  const random = seededRandom(config.seed);
  const started = performance.now();

  const typeCounts = new Float64Array(8);
  const net = new MemoryNetwork({
    lossRate: config.lossRate,
    latencyMs: config.latencyMs,
    random,
    tap: (buf, off, len) => {
      if (len > TYPE_OFFSET) typeCounts[buf[off + TYPE_OFFSET] & 7]++;
    },
  });

  const baseline = memory();
  // Keys first, so the transports' figure below is theirs alone.
  let t = performance.now();
  const keys: Buffer[] = [];
  while (keys.length < N) {
    const k = randomBytesFrom(random, 32);
    if (isValidPrivateKey(k)) keys.push(k);
  }
  const keysMs = performance.now() - t;

  t = performance.now();
  const nodes = createNodes(net, keys, { sendSlots: config.sendSlots, respTimeoutMs: config.respTimeoutMs, random });
  const transportsMs = performance.now() - t;
  const afterTransports = memory();
  log(`setup: ${N} transports in ${(transportsMs / 1000).toFixed(1)} s`);

  t = performance.now();
  premine(nodes, random, 16, config.replacementsPerBucket);
  const premineMs = performance.now() - t;
  const afterSetup = memory();
  const setupMs = performance.now() - started;
  const entries = nodes.map((n) => n.table.size);
  const repl = nodes.map((n) => n.table.buckets.reduce((s, b) => s + b.replacements.length, 0));
  log(
    `setup: premined ${N} tables in ${(premineMs / 1000).toFixed(1)} s ` +
      `(${summarize(entries).mean.toFixed(1)} entries + ${summarize(repl).mean.toFixed(1)} replacements per node); ` +
      `setup ${(setupMs / 1000).toFixed(1)} s, ${((afterSetup.total - baseline.total) / N / 1024).toFixed(1)} KiB/node`,
  );

  // Lookups, one at a time: random targets, then self lookups (what refresh starts with).
  const settleMs = config.lossRate > 0 ? 2 * config.respTimeoutMs + 2 * config.latencyMs + 50 : 0;
  const ctx: LookupContext = { nodes, net, typeCounts, random, log, settleMs };
  const randomSet = await runLookups(ctx, 'lookups', config.lookups, () => randomBytesFrom(random, 64));
  const selfSet = await runLookups(ctx, 'self lookups', config.selfLookups, (n) => n.transport.nodeId);
  const afterLookups = memory();

  // Protocol counters, summed over every node.
  const drops: Record<string, number> = {};
  let timeouts = 0;
  let verifyDropped = 0;
  for (const n of nodes) {
    const s = n.transport.stats();
    timeouts += s.timeouts;
    for (const [k, v] of Object.entries(s.drops)) drops[k] = (drops[k] ?? 0) + v;
    verifyDropped += n.table.stats.verifyDropped;
  }
  const protocol = {
    timeouts,
    drops,
    networkDropped: [...randomSet.records, ...selfSet.records].reduce((sum, r) => sum + r.dropped, 0),
    handlerErrors: net.stats.handlerErrors,
    verifyDropped,
  };
  await Promise.all(nodes.map((n) => n.close()));

  const perNodeBytes = (afterSetup.total - baseline.total) / N;
  return {
    config,
    setup: {
      ms: round(setupMs),
      keysMs: round(keysMs),
      transportsMs: round(transportsMs),
      premineMs: round(premineMs),
      tableEntries: summarize(entries),
      replacements: summarize(repl),
    },
    memory: {
      gcExposed: (globalThis as { gc?: () => void }).gc !== undefined,
      baselineBytes: baseline.total,
      perNodeBytes: Math.round(perNodeBytes),
      perNodeKiB: round(perNodeBytes / 1024),
      transportPerNodeKiB: round((afterTransports.total - baseline.total) / N / 1024),
      tablePerNodeKiB: round((afterSetup.total - afterTransports.total) / N / 1024),
      afterLookupsPerNodeKiB: round((afterLookups.total - baseline.total) / N / 1024),
      heapPerNodeKiB: round((afterSetup.heapUsed - baseline.heapUsed) / N / 1024),
      heapUsed: afterSetup.heapUsed,
      external: afterSetup.external,
      arrayBuffers: afterSetup.arrayBuffers,
      rss: afterSetup.rss,
      peakRss: peakRss(),
      heapLimit: getHeapStatistics().heap_size_limit,
    },
    lookups: summarizeLookups(randomSet),
    selfLookups: summarizeLookups(selfSet),
    protocol,
    perLookup: randomSet.records,
    perSelfLookup: selfSet.records,
    totalMs: round(performance.now() - started),
  };
}
