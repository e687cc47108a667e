/**
 * Loopback end-to-end benchmark: a real node bound on 127.0.0.1 in a child
 * process (bench/loopback/server.ts), driven by a client in this process
 * (bench/loopback/client.ts) that sends pre-signed pings and counts what
 * comes back.
 *
 * Subjects (default): our node with 1 crypto thread, our node with all
 * threads (os.availableParallelism()), @ethereumjs/devp2p's DPT. For each,
 * in this order, R repeats of each phase (3 full, 1 quick):
 *
 * 1. warm-up: bond the K pure keys (the server pings each back once);
 * 2. ping->pong window: W pings in flight from the bonded keys (the pure
 *    answer path: verify, pong);
 * 3. sweep: open loop at fixed offered rates, pongs/s received and kernel
 *    drops per rate;
 * 4. full path: W fresh keys in flight, each unknown to the server, which
 *    answers pong AND pings back; the client answers with a signed pong.
 *    Counted: bonds the server completed per second. ethjs runs this in a
 *    second process with shouldFindNeighbours: true (its only ping-back).
 *
 *   npx tsx bench/loopback/index.ts [--quick]     standalone; writes bench/results/loopback.json (quick/loopback.json)
 *        [--loopback=ours-1t,...]                 (chosen subjects: written to the temp dir instead)
 *   npm run bench [-- --quick]                    after the micro suites, in the same table and JSON
 *
 * Only 127.0.0.1 traffic. Every loop is bounded in count and time; the
 * child is killed at the end, on error and on SIGINT/SIGTERM, and exits by
 * itself when this process goes away.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  ClientCost,
  ClientSocketKind,
  FullPathCounts,
  KernelDrops,
  LoopbackClient,
  OpenLoopCounts,
  Rtt,
  WarmupResult,
  WindowCounts,
} from './client';
import { ForeignCpu, interference, startInterferenceMonitor } from '../interference';
import { resultsDir } from '../results-dir';
import type { ChildMessage, Impl, ParentMessage, ServerArgs, ServerStats } from './protocol';

export type { Impl } from './protocol';

/** The codec issue's bar for our node, on one core of the reference machine. */
export const LOOPBACK_TARGET_PONGS_PER_SEC = 7_500;
/** Heap growth (after gc, warm-up vs end) above this counts as growth. */
export const HEAP_GROWTH_LIMIT_BYTES = 1024 * 1024;
/** Pure (pre-bonded) keys: pings round-robin over them. */
const KEYS = 512;
/** Pings in flight in the window phases. */
const WINDOW = 64;
/** Sockets the fresh keys rotate over (see client.ts: ethjs pings one endpoint at most once a second). */
const FULL_PATH_SOCKETS = 512;
/**
 * Bonds/s the fresh-key pool is sized for: twice our 1-thread crypto limit
 * for the full path (2 recovers + 2 signs per bond, ~7,500/s on one core).
 */
const FULL_PATH_RATE_CAP = 15_000;

/** One server configuration measured. */
export interface Subject {
  id: string;
  impl: Impl;
  /** ours-native: crypto threads (NativeBindOptions.threads). */
  threads?: number;
  label: string;
}

/** Our node 1-thread and all-threads, and ethjs's DPT. */
export function defaultSubjects(): Subject[] {
  const n = os.availableParallelism();
  return [
    { id: 'ours-1t', impl: 'ours-native', threads: 1, label: 'ours, 1 thread' },
    { id: 'ours-mt', impl: 'ours-native', threads: n, label: `ours, ${n} threads` },
    { id: 'ethjs', impl: 'ethjs', label: '@ethereumjs/devp2p DPT' },
  ];
}

/** Further subjects selectable with --loopback=<ids>. */
export const EXTRA_SUBJECTS: Subject[] = [
  { id: 'ours-dgram', impl: 'ours-dgram', label: 'ours over dgram' },
  { id: 'ours-dpt', impl: 'ours-dpt', label: 'our DPT facade' },
];

export interface LoopbackOptions {
  quick: boolean;
  log: (s: string) => void;
  /** Default: defaultSubjects(). */
  subjects?: readonly Subject[];
  /** The client's sockets. Default 'native'. */
  clientSocket?: ClientSocketKind;
}

/** CPU other processes on the machine used during a measured interval (bench/interference.ts); null: not measured. */
export interface Interference {
  foreignCpuCores: number | null;
}

export interface WindowRun extends WindowCounts, Interference {
  serverCpuCores: number | null;
  serverCpuUsPerPong: number | null;
  serverElu: number | null;
}

export interface WindowResult {
  window: number;
  durationSec: number;
  warmupSec: number;
  runs: WindowRun[];
  medianPongsPerSec: number;
  minPongsPerSec: number;
  maxPongsPerSec: number;
  medianServerCpuCores: number | null;
  medianServerCpuUsPerPong: number | null;
  medianClientCpuCores: number;
  medianClientCpuUsPerDatagram: number | null;
}

export interface OpenLoopRun extends OpenLoopCounts, Interference {
  serverCpuCores: number | null;
  serverElu: number | null;
}

/** One offered rate: the fields of the median run (by pongs/s received), then every run. */
export interface OpenLoopResult extends OpenLoopRun {
  runs: OpenLoopRun[];
  medianReceivedPerSec: number;
  minReceivedPerSec: number;
  maxReceivedPerSec: number;
  /** Kernel receive drops of the server's socket per run (null where /proc is missing). */
  serverSocketDrops: Array<number | null>;
}

export interface FullPathRun extends FullPathCounts, Interference {
  /** Bonds the server completed in its measured interval, and per second of it. */
  bonds: number | null;
  bondsPerSec: number | null;
  serverCpuCores: number | null;
  serverCpuUsPerBond: number | null;
  serverElu: number | null;
}

export interface FullPathResult {
  window: number;
  durationSec: number;
  warmupSec: number;
  /** The server process that ran it (ethjs: a second one, with shouldFindNeighbours). */
  socketKind: string;
  runs: FullPathRun[];
  medianBondsPerSec: number | null;
  minBondsPerSec: number | null;
  maxBondsPerSec: number | null;
  medianServerCpuCores: number | null;
  medianServerCpuUsPerBond: number | null;
  medianClientCpuCores: number;
  medianClientCpuUsPerDatagram: number | null;
  /** The server's peak RSS at the end of this phase, KiB. */
  maxRssKb: number | null;
  /** Ours: transport counters at the end (bonds, timeouts, drops). */
  transportEnd?: ServerStats['transport'];
  dptErrors?: number;
  dptErrorSamples?: string[];
}

export interface ImplResult {
  /** Subject id (ours-1t, ours-mt, ethjs...). */
  id: string;
  label: string;
  impl: Impl;
  /** Crypto threads asked for (ours-native). */
  threads?: number;
  /** Crypto threads the socket reported (stats().threads); null: it reports none (no pool). */
  threadsReported?: number | null;
  available: boolean;
  /** Why the implementation was skipped (native socket missing...). */
  skippedReason?: string;
  /** The run failed part-way; what was measured before is kept. */
  error?: string;
  serverId?: string;
  socketKind?: string;
  serverRecvBufferSize?: number | null;
  clientRecvBufferSize?: number | null;
  warmup?: WarmupResult;
  window?: WindowResult;
  /** The sweep, one entry per offered rate. */
  openLoop: OpenLoopResult[];
  fullPath?: FullPathResult;
  server?: {
    /** Peak RSS over warm-up, window and sweep (before the full path adds its bond records). */
    maxRssKb: number;
    /** RSS after warm-up (gc'd): the process with tsx and the node loaded, before the load. */
    rssKbAfterWarmup: number;
    rssKbEnd: number;
    heapAfterWarmupBytes: number | null;
    heapEndBytes: number | null;
    heapDeltaBytes: number | null;
    heapFlat: boolean | null;
    /** Ours: transport counters at the end of the sweep (pending, bonds, drops, timeouts, packets). */
    transportEnd?: ServerStats['transport'];
    socketEnd?: Record<string, number>;
    dptErrors?: number;
  };
  client?: {
    pongs: number;
    unknownPongs: number;
    pingBacks: number;
    pingBacksAnswered: number;
    pingBacksUnattributed: number;
    otherPackets: number;
    badPackets: number;
  };
  durationSec: number;
}

export interface LoopbackResult {
  quick: boolean;
  keys: number;
  window: number;
  target: number;
  /** The sweep's offered rates (pings/s) and how long each is offered. */
  rates: number[];
  sweepSec: number;
  repeats: number;
  fullPathWindow: number;
  fullPathSockets: number;
  freshKeys: number;
  clientSocket: ClientSocketKind;
  /** Time spent signing the client's pings before any measurement. */
  clientSignSec: number;
  serverPort: number;
  durationSec: number;
  machine: { cpu?: string; cores: number; availableParallelism: number; loadavg: number[]; node: string; platform: string };
  /** CPU other processes used over the loopback run (null: not measured). */
  foreignCpu: ForeignCpu | null;
  impls: ImplResult[];
}

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER_FILE = path.join(__dirname, 'server.ts');
/** LOOPBACK_NATIVE_SOCKET overrides the path (to test the fallback); the child reads it too. */
const NATIVE_SOCKET_FILE = process.env.LOOPBACK_NATIVE_SOCKET ?? path.join(ROOT, 'src', 'transport', 'native-socket.ts');

/** Phase lengths and rates of a run. */
interface Plan {
  repeats: number;
  warmupMs: number;
  measureMs: number;
  sweepMs: number;
  rates: number[];
  fullWarmupMs: number;
  fullMeasureMs: number;
}

function planFor(quick: boolean): Plan {
  return quick
    ? { repeats: 1, warmupMs: 300, measureMs: 1000, sweepMs: 1000, rates: [5_000, 10_000, 20_000], fullWarmupMs: 300, fullMeasureMs: 1000 }
    : {
        repeats: 3,
        warmupMs: 500,
        measureMs: 3000,
        sweepMs: 2000,
        rates: [2_000, 5_000, 10_000, 15_000, 20_000, 30_000],
        fullWarmupMs: 300,
        fullMeasureMs: 2000,
      };
}

// ------------------------------------------------------------ child process

/** Children alive right now, killed on exit/SIGINT whatever happens. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The server children alive right now (for the interference monitor). */
export function livePids(): number[] {
  return [...live].map((c) => c.pid).filter((p): p is number => p !== undefined);
}

/** SIGKILLs every server child still alive (exit hooks, signals, the end of a run). */
function killAll(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

export class ServerProc {
  private seq = 0;
  private readonly waiters = new Map<number, (m: ChildMessage) => void>();
  private exited = false;

  private constructor(
    readonly child: ChildProcess,
    readonly ready: Extract<ChildMessage, { type: 'ready' }>,
  ) {
    child.on('message', (m: ChildMessage) => {
      if ((m.type === 'stats' || m.type === 'reset') && this.waiters.has(m.seq)) {
        const w = this.waiters.get(m.seq)!;
        this.waiters.delete(m.seq);
        w(m);
      }
    });
    child.once('exit', () => {
      this.exited = true;
      live.delete(child);
    });
  }

  /** Spawns the server; resolves once bound, rejects (Unavailable for a missing native socket) otherwise. */
  static spawn(args: ServerArgs, timeoutMs = 15_000): Promise<ServerProc> {
    const tsxLoader = pathToFileURL(require.resolve('tsx')).href;
    const argv = [SERVER_FILE, '--impl', args.impl, '--port', String(args.port)];
    if (args.threads !== undefined) argv.push('--threads', String(args.threads));
    if (args.pingBack) argv.push('--ping-back');
    if (args.scale !== undefined) {
      const sc = args.scale;
      argv.push('--bucket-size', String(sc.bucketSize), '--known', String(sc.known), '--fork-filter', sc.forkFilter, '--full-buckets', String(sc.fullBuckets));
    }
    // LOOPBACK_SERVER_NODE_ARGS: extra node flags for the child, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'
    // (NODE_OPTIONS refuses --cpu-prof; the profile is written when the child exits on 'exit').
    const nodeArgs = (process.env.LOOPBACK_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, '--import', tsxLoader, ...argv], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const impl = args.impl;
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.kill('SIGKILL');
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`${impl} server did not start within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null, sig: string | null) => fail(new Error(`${impl} server exited before ready (code ${code}, signal ${sig})`));
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(new ServerProc(child, m));
        } else if (m.type === 'unavailable') fail(new Unavailable(m.reason));
        else if (m.type === 'error') fail(new Error(`${impl} server failed to start: ${m.message}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', (err) => fail(err));
    });
  }

  private request<T extends ChildMessage>(msg: ParentMessage & { seq: number }, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.ready.impl} server has exited`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(msg.seq);
        reject(new Error(`${this.ready.impl} server: no answer to '${msg.type}' in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(msg.seq, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      this.child.send(msg);
    });
  }

  /** Throws when the child has died (crash, OOM...): nothing more to measure. */
  assertAlive(): void {
    if (this.exited) throw new Error(`${this.ready.impl} server exited during the run (code ${this.child.exitCode}, signal ${this.child.signalCode})`);
  }

  reset(): Promise<void> {
    return this.request({ type: 'reset', seq: ++this.seq }, 5000).then(() => undefined);
  }

  stats(gc: boolean): Promise<ServerStats> {
    return this.request<Extract<ChildMessage, { type: 'stats' }>>({ type: 'stats', seq: ++this.seq, gc }, 10_000);
  }

  /** Asks the child to exit; SIGKILL after 2 s. Always resolves. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ type: 'exit' } satisfies ParentMessage);
    } catch {
      /* channel closed */
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  }
}

class Unavailable extends Error {}

// ------------------------------------------------------------ helpers

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function medianOrNull(xs: Array<number | null | undefined>): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? median(v) : null;
}

function minOrNull(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? Math.min(...v) : null;
}

function maxOrNull(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? Math.max(...v) : null;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const orNa = (n: number | null) => (n === null ? 'n/a' : fmtInt(n));

/** Kernel drops: system-wide RcvbufErrors (snmp), then the server's and the client's socket alone. */
function fmtDrops(d: KernelDrops): string {
  return `system-wide ${orNa(d.rcvbufErrors)}, server socket ${orNa(d.serverSocket)}, client socket ${orNa(d.clientSocket)}`;
}

export function fmtRtt(r: Rtt | null): string {
  return r === null ? 'n/a' : `p50 ${r.p50.toFixed(1)} / p99 ${r.p99.toFixed(1)} / max ${r.max.toFixed(0)} ms`;
}

export function fmtMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function fmtClient(c: ClientCost): string {
  return `client CPU ${c.clientCpuCores.toFixed(2)} cores (${c.clientCpuUsPerDatagram?.toFixed(1) ?? '?'} µs/datagram)`;
}

/**
 * One measured interval: server stats requested in onEnd (awaited after),
 * and the CPU other processes took meanwhile.
 */
export class Interval {
  private end: Promise<ServerStats> | undefined;
  private t0 = 0;
  private t1 = 0;
  constructor(private readonly server: ServerProc) {}
  readonly onStart = (): void => {
    this.t0 = performance.now();
    void this.server.reset().catch(() => undefined);
  };
  readonly onEnd = (): void => {
    this.t1 = performance.now();
    this.end = this.server.stats(false);
    this.end.catch(() => undefined);
  };
  async stats(): Promise<ServerStats | null> {
    return this.end ? this.end.catch(() => null) : null;
  }
  /** Mean cores other processes used over the interval. */
  foreign(): number | null {
    return interference()?.between(this.t0, this.t1)?.meanCores ?? null;
  }
}

export function fmtForeign(x: number | null): string {
  return x === null ? '' : `, other processes ${x.toFixed(2)} cores${x > FOREIGN_WARN_CORES ? ' (DISTURBED)' : ''}`;
}

/** Other processes' CPU above this during an interval: its figures are flagged. */
export const FOREIGN_WARN_CORES = 0.2;

// ------------------------------------------------------------ phases

async function runWindowPhase(server: ServerProc, client: LoopbackClient, plan: Plan, label: string, log: (s: string) => void): Promise<WindowResult> {
  const runs: WindowRun[] = [];
  for (let r = 1; r <= plan.repeats; r++) {
    const iv = new Interval(server);
    const counts = await client.runWindow({ window: WINDOW, warmupMs: plan.warmupMs, measureMs: plan.measureMs, onStart: iv.onStart, onEnd: iv.onEnd });
    const st = await iv.stats();
    const cores = st ? st.cpuCoresUsed : null;
    const run: WindowRun = {
      ...counts,
      serverCpuCores: cores,
      serverCpuUsPerPong: cores !== null && counts.pongsPerSec > 0 ? (cores * 1e6) / counts.pongsPerSec : null,
      serverElu: st ? st.elu : null,
      foreignCpuCores: iv.foreign(),
    };
    runs.push(run);
    log(
      `[loopback] ${label} ping->pong window ${r}/${plan.repeats}: ${fmtInt(run.pongsPerSec)} pongs/s` +
        (cores !== null ? `, server CPU ${cores.toFixed(2)} cores (${run.serverCpuUsPerPong!.toFixed(0)} µs/pong), ELU ${run.serverElu!.toFixed(2)}` : '') +
        `, ${fmtClient(run)}, RTT ${fmtRtt(run.rtt)}, losses ${run.losses}, kernel drops: ${fmtDrops(run.kernelDrops)}${fmtForeign(run.foreignCpuCores)}`,
    );
    server.assertAlive();
  }
  const pps = runs.map((r) => r.pongsPerSec);
  return {
    window: WINDOW,
    durationSec: plan.measureMs / 1000,
    warmupSec: plan.warmupMs / 1000,
    runs,
    medianPongsPerSec: median(pps),
    minPongsPerSec: Math.min(...pps),
    maxPongsPerSec: Math.max(...pps),
    medianServerCpuCores: medianOrNull(runs.map((r) => r.serverCpuCores)),
    medianServerCpuUsPerPong: medianOrNull(runs.map((r) => r.serverCpuUsPerPong)),
    medianClientCpuCores: median(runs.map((r) => r.clientCpuCores)),
    medianClientCpuUsPerDatagram: medianOrNull(runs.map((r) => r.clientCpuUsPerDatagram)),
  };
}

async function runSweep(server: ServerProc, client: LoopbackClient, plan: Plan, label: string, log: (s: string) => void): Promise<OpenLoopResult[]> {
  const byRate = new Map<number, OpenLoopRun[]>(plan.rates.map((r) => [r, []]));
  // Repeat-major: each repeat climbs the whole ladder, so drift spreads over all rates.
  for (let r = 1; r <= plan.repeats; r++) {
    for (const rate of plan.rates) {
      const iv = new Interval(server);
      const counts = await client.runOpenLoop({ rate, durationMs: plan.sweepMs, onStart: iv.onStart, onEnd: iv.onEnd });
      const st = await iv.stats();
      const run: OpenLoopRun = { ...counts, serverCpuCores: st ? st.cpuCoresUsed : null, serverElu: st ? st.elu : null, foreignCpuCores: iv.foreign() };
      byRate.get(rate)!.push(run);
      log(
        `[loopback] ${label} open loop ${fmtInt(rate)} pps (${r}/${plan.repeats}): sent ${fmtInt(run.sentPerSec)}/s, received ${fmtInt(run.receivedPerSec)} pongs/s, ` +
          `loss ${run.lossPct.toFixed(1)}%, drain ${run.drainMs.toFixed(0)} ms, RTT~ ${fmtRtt(run.rtt)}, kernel drops: ${fmtDrops(run.kernelDrops)}` +
          (run.serverCpuCores !== null ? `, server CPU ${run.serverCpuCores.toFixed(2)} cores` : '') +
          `, ${fmtClient(run)}` +
          (run.behind > 0 ? `, client fell behind by ${fmtInt(run.behind)} pings` : '') +
          fmtForeign(run.foreignCpuCores),
      );
      server.assertAlive();
    }
  }
  return plan.rates.map((rate) => {
    const runs = byRate.get(rate)!;
    const sorted = [...runs].sort((a, b) => a.receivedPerSec - b.receivedPerSec);
    const mid = sorted[(sorted.length - 1) >> 1];
    const rx = runs.map((x) => x.receivedPerSec);
    return {
      ...mid,
      runs,
      medianReceivedPerSec: median(rx),
      minReceivedPerSec: Math.min(...rx),
      maxReceivedPerSec: Math.max(...rx),
      serverSocketDrops: runs.map((x) => x.kernelDrops.serverSocket),
    };
  });
}

async function runFullPathPhase(
  server: ServerProc,
  client: LoopbackClient,
  plan: Plan,
  label: string,
  log: (s: string) => void,
): Promise<FullPathResult> {
  const runs: FullPathRun[] = [];
  for (let r = 1; r <= plan.repeats; r++) {
    const iv = new Interval(server);
    const counts = await client.runFullPath({ window: WINDOW, warmupMs: plan.fullWarmupMs, measureMs: plan.fullMeasureMs, onStart: iv.onStart, onEnd: iv.onEnd });
    const st = await iv.stats();
    const secs = st ? st.wallUs / 1e6 : 0;
    const bondsPerSec = st && secs > 0 ? st.bondsSinceReset / secs : null;
    const cores = st ? st.cpuCoresUsed : null;
    const run: FullPathRun = {
      ...counts,
      bonds: st ? st.bondsSinceReset : null,
      bondsPerSec,
      serverCpuCores: cores,
      serverCpuUsPerBond: cores !== null && bondsPerSec ? (cores * 1e6) / bondsPerSec : null,
      serverElu: st ? st.elu : null,
      foreignCpuCores: iv.foreign(),
    };
    runs.push(run);
    log(
      `[loopback] ${label} full path ${r}/${plan.repeats}: ${bondsPerSec === null ? '?' : fmtInt(bondsPerSec)} nodes bonded/s (server count), ` +
        `${fmtInt(run.pongsPerSec)} pongs/s, ${fmtInt(run.pingBacksAnsweredPerSec)} ping-backs answered/s` +
        (cores !== null ? `, server CPU ${cores.toFixed(2)} cores (${run.serverCpuUsPerBond?.toFixed(0) ?? '?'} µs/bond)` : '') +
        `, ${fmtClient(run)}, ping->ping-back answered ${fmtRtt(run.rtt)}, lost ${run.lost}, re-pings answered ${run.repingsAnswered}, ` +
        `unattributed ${run.unattributed}, pool ${fmtInt(run.poolUsed)}/${fmtInt(run.poolSize)}${run.poolExhausted ? ' EXHAUSTED (figure understated)' : ''}` +
        fmtForeign(run.foreignCpuCores),
    );
    server.assertAlive();
  }
  const bps = runs.map((r) => r.bondsPerSec);
  return {
    window: WINDOW,
    durationSec: plan.fullMeasureMs / 1000,
    warmupSec: plan.fullWarmupMs / 1000,
    socketKind: server.ready.socketKind,
    runs,
    medianBondsPerSec: medianOrNull(bps),
    minBondsPerSec: minOrNull(bps),
    maxBondsPerSec: maxOrNull(bps),
    medianServerCpuCores: medianOrNull(runs.map((r) => r.serverCpuCores)),
    medianServerCpuUsPerBond: medianOrNull(runs.map((r) => r.serverCpuUsPerBond)),
    medianClientCpuCores: median(runs.map((r) => r.clientCpuCores)),
    medianClientCpuUsPerDatagram: medianOrNull(runs.map((r) => r.clientCpuUsPerDatagram)),
    maxRssKb: null,
  };
}

// ------------------------------------------------------------ one subject

async function runSubject(subject: Subject, client: LoopbackClient, plan: Plan, log: (s: string) => void): Promise<ImplResult> {
  const started = Date.now();
  const { impl, label } = subject;
  const res: ImplResult = { id: subject.id, label, impl, available: true, openLoop: [], durationSec: 0 };
  if (subject.threads !== undefined) res.threads = subject.threads;
  const baseArgs: ServerArgs = { impl, port: client.serverPort, ...(subject.threads !== undefined ? { threads: subject.threads } : {}) };

  let server: ServerProc | undefined;
  const c0 = {
    pongs: client.pongs,
    unknownPongs: client.unknownPongs,
    pingBacks: client.pingBacks,
    pingBacksAnswered: client.pingBacksAnswered,
    pingBacksUnattributed: client.pingBacksUnattributed,
    otherPackets: client.otherPackets,
    badPackets: client.badPackets,
  };
  try {
    try {
      server = await ServerProc.spawn(baseArgs);
    } catch (err) {
      if (err instanceof Unavailable) {
        log(`[loopback] ${label}: native socket not available (${err.message}); skipped`);
        return { ...res, available: false, skippedReason: err.message, durationSec: (Date.now() - started) / 1000 };
      }
      throw err;
    }
    client.resetForServer();
    const { port, id, socketKind, threads } = server.ready;
    res.serverId = id;
    res.socketKind = socketKind;
    res.threadsReported = threads;
    res.clientRecvBufferSize = client.recvBufferSize;
    log(
      `[loopback] ${label}: server on 127.0.0.1:${port} (${socketKind}${subject.threads !== undefined ? `, threads ${subject.threads} asked, socket reports ${threads ?? 'none'}` : ''}), id ${id.slice(0, 16)}…`,
    );

    // 1. Warm-up / bonding of the pure keys.
    const w = await client.warmup();
    res.warmup = w;
    log(
      `[loopback] ${label} warm-up: ${w.keysPonged}/${w.keys} keys answered, ${w.pingBacksAnswered} ping-backs answered, ` +
        `${w.bondedKeys}/${w.keys} bonded after ${w.verifyRounds} check round(s) (${w.ms.toFixed(0)} ms)`,
    );
    server.assertAlive();
    const afterWarmup = await server.stats(true);
    res.serverRecvBufferSize = afterWarmup.recvBufferSize;

    // 2. Pure ping->pong, closed loop.
    res.window = await runWindowPhase(server, client, plan, label, log);
    // 3. The sweep.
    res.openLoop = await runSweep(server, client, plan, label, log);

    const end = await server.stats(true);
    const h0 = afterWarmup.heapUsedAfterGc;
    const h1 = end.heapUsedAfterGc;
    const delta = h0 !== null && h1 !== null ? h1 - h0 : null;
    res.server = {
      maxRssKb: end.maxRssKb,
      rssKbAfterWarmup: afterWarmup.rssKb,
      rssKbEnd: end.rssKb,
      heapAfterWarmupBytes: h0,
      heapEndBytes: h1,
      heapDeltaBytes: delta,
      heapFlat: delta === null ? null : delta <= HEAP_GROWTH_LIMIT_BYTES,
      ...(end.transport ? { transportEnd: end.transport } : {}),
      ...(end.socket ? { socketEnd: end.socket } : {}),
      ...(end.dptErrors !== undefined ? { dptErrors: end.dptErrors } : {}),
    };
    let extra = '';
    if (end.transport) {
      const t = end.transport;
      const drops = Object.entries(t.drops).filter(([, v]) => v > 0);
      extra = `, pending ${t.pending}, bonds ${t.bonds}, timeouts ${t.timeouts}, drops ${drops.length ? drops.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`;
    }
    if (end.socket && typeof end.socket.workQueueDrops === 'number') extra += `, socket workQueueDrops ${end.socket.workQueueDrops}`;
    log(
      `[loopback] ${label} server: peak RSS ${(end.maxRssKb / 1024).toFixed(0)} MiB (RSS ${(afterWarmup.rssKb / 1024).toFixed(0)} MiB after warm-up, ${(end.rssKb / 1024).toFixed(0)} MiB at end), heap after gc ${h0 !== null ? fmtMiB(h0) : 'n/a'} -> ${h1 !== null ? fmtMiB(h1) : 'n/a'}` +
        (delta !== null ? ` (${delta >= 0 ? '+' : ''}${(delta / 1024).toFixed(0)} KiB)` : '') +
        extra,
    );

    // 4. The full path. ethjs only pings back with shouldFindNeighbours, which
    // would also change its pure path (it would ping every unknown sender of
    // the phases above), so it gets a process of its own.
    if (impl === 'ethjs') {
      await server.stop();
      server = await ServerProc.spawn({ ...baseArgs, pingBack: true });
      client.resetForServer();
      log(`[loopback] ${label}: full-path server on 127.0.0.1:${server.ready.port} (${server.ready.socketKind})`);
    }
    const fp = await runFullPathPhase(server, client, plan, label, log);
    const fpEnd = await server.stats(false);
    fp.maxRssKb = fpEnd.maxRssKb;
    if (fpEnd.transport) fp.transportEnd = fpEnd.transport;
    if (fpEnd.dptErrors !== undefined) fp.dptErrors = fpEnd.dptErrors;
    if (fpEnd.dptErrorSamples?.length) {
      fp.dptErrorSamples = fpEnd.dptErrorSamples;
      log(`[loopback] ${label} full path: ${fpEnd.dptErrors} DPT 'error' events, e.g. ${fpEnd.dptErrorSamples.map((m) => JSON.stringify(m)).join(', ')}`);
    }
    res.fullPath = fp;
  } catch (err) {
    res.error = (err as Error).message;
    log(`[loopback] ${label} FAILED: ${res.error}`);
  } finally {
    res.client = {
      pongs: client.pongs - c0.pongs,
      unknownPongs: client.unknownPongs - c0.unknownPongs,
      pingBacks: client.pingBacks - c0.pingBacks,
      pingBacksAnswered: client.pingBacksAnswered - c0.pingBacksAnswered,
      pingBacksUnattributed: client.pingBacksUnattributed - c0.pingBacksUnattributed,
      otherPackets: client.otherPackets - c0.otherPackets,
      badPackets: client.badPackets - c0.badPackets,
    };
    if (server) await server.stop();
  }
  res.durationSec = (Date.now() - started) / 1000;
  return res;
}

// ------------------------------------------------------------ entry point

/**
 * For the length of a run: the interference monitor (standalone runs start
 * it here; bench/index.ts has started it already), and server children
 * killed on exit, SIGINT and SIGTERM. Returns the undo, which kills the
 * children left.
 */
export function guardChildren(): () => void {
  if (interference() === undefined) startInterferenceMonitor(() => [process.pid, ...livePids()]);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAll);
  }
  const onSignal = (sig: NodeJS.Signals) => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    killAll();
  };
}

/** Runs every subject in turn; never throws for one subject's failure. */
export async function runLoopback(opts: LoopbackOptions): Promise<LoopbackResult> {
  const started = Date.now();
  const { log } = opts;
  const plan = planFor(opts.quick);
  const unguard = guardChildren();
  let client: LoopbackClient | undefined;
  const tStart = performance.now();
  try {
    const subjects = [...(opts.subjects ?? defaultSubjects())];
    const kind = opts.clientSocket ?? 'native';
    const freshKeys = Math.ceil((FULL_PATH_RATE_CAP * (plan.fullWarmupMs + plan.fullMeasureMs) * plan.repeats) / 1000) + 4 * WINDOW;
    const t0 = performance.now();
    client = await LoopbackClient.open({ keys: KEYS, freshKeys, fullPathSockets: FULL_PATH_SOCKETS, kind });
    log(
      `[loopback] client: ${1 + FULL_PATH_SOCKETS} ${kind} sockets, ${KEYS} pure keys + ${fmtInt(freshKeys)} fresh keys signed in ${client.signSeconds.toFixed(1)} s ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s with binding); servers bind 127.0.0.1:${client.serverPort}`,
    );
    const results: ImplResult[] = [];
    for (const subject of subjects) {
      if (subject.impl !== 'ethjs' && subject.impl !== 'ours-dgram' && !fs.existsSync(NATIVE_SOCKET_FILE)) {
        const rel = path.relative(ROOT, NATIVE_SOCKET_FILE);
        const reason = `${rel.startsWith('..') ? NATIVE_SOCKET_FILE : rel} missing`;
        log(`[loopback] ${subject.label}: native socket not available (${reason}); skipped`);
        results.push({ id: subject.id, label: subject.label, impl: subject.impl, available: false, skippedReason: reason, openLoop: [], durationSec: 0 });
        continue;
      }
      log(`[loopback] ${subject.label}: starting`);
      results.push(await runSubject(subject, client, plan, log));
    }
    return {
      quick: opts.quick,
      keys: KEYS,
      window: WINDOW,
      target: LOOPBACK_TARGET_PONGS_PER_SEC,
      rates: plan.rates,
      sweepSec: plan.sweepMs / 1000,
      repeats: plan.repeats,
      fullPathWindow: WINDOW,
      fullPathSockets: FULL_PATH_SOCKETS,
      freshKeys,
      clientSocket: kind,
      clientSignSec: client.signSeconds,
      serverPort: client.serverPort,
      durationSec: (Date.now() - started) / 1000,
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.cpus().length,
        availableParallelism: os.availableParallelism(),
        loadavg: os.loadavg(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      },
      foreignCpu: interference()?.between(tStart, performance.now()) ?? null,
      impls: results,
    };
  } finally {
    unguard();
    if (client) await client.close();
  }
}

/** A short per-subject summary (CPU, RSS, heap, warm-up) printed under the table. */
export function loopbackSummary(r: LoopbackResult): string {
  const out: string[] = [
    `Loopback (${r.keys} pure keys, window ${r.window}; full path: window ${r.fullPathWindow} over ${r.fullPathSockets} client sockets; ` +
      `${r.clientSocket} client sockets; ${r.quick ? 'quick' : 'full'} run, ${r.repeats} repeat(s), ${r.durationSec.toFixed(0)} s):`,
  ];
  for (const i of r.impls) {
    if (!i.available) {
      out.push(`  ${i.label}: not available (${i.skippedReason})`);
      continue;
    }
    const parts: string[] = [];
    if (i.threads !== undefined) parts.push(`threads ${i.threads} asked, socket reports ${i.threadsReported ?? 'none'}`);
    if (i.window) {
      parts.push(
        `window ${fmtInt(i.window.medianPongsPerSec)} pongs/s (${fmtInt(i.window.minPongsPerSec)}-${fmtInt(i.window.maxPongsPerSec)})`,
        `server CPU ${i.window.medianServerCpuCores?.toFixed(2) ?? '?'} cores`,
        `client CPU ${i.window.medianClientCpuCores.toFixed(2)} cores`,
      );
    }
    if (i.fullPath) parts.push(`full path ${i.fullPath.medianBondsPerSec === null ? '?' : fmtInt(i.fullPath.medianBondsPerSec)} bonds/s`);
    if (i.server) {
      parts.push(`peak RSS ${(i.server.maxRssKb / 1024).toFixed(0)} MiB`);
      if (i.server.heapDeltaBytes !== null) {
        parts.push(`heap delta ${(i.server.heapDeltaBytes / 1024).toFixed(0)} KiB (${i.server.heapFlat ? 'flat' : 'GROWTH'})`);
      }
      if (i.server.transportEnd) parts.push(`pending at end ${i.server.transportEnd.pending}`);
    }
    if (i.warmup) parts.push(`bonded ${i.warmup.bondedKeys}/${i.warmup.keys}`);
    if (i.error) parts.push(`ERROR: ${i.error}`);
    out.push(`  ${i.label}: ${parts.join(', ')}`);
  }
  return out.join('\n');
}

/** --loopback=ours-1t,ethjs... (any of defaultSubjects() and EXTRA_SUBJECTS), else the default three. */
export function subjectsFromArgv(argv: readonly string[]): Subject[] | undefined {
  const arg = argv.find((a) => a.startsWith('--loopback='));
  if (arg === undefined) return undefined;
  const all = [...defaultSubjects(), ...EXTRA_SUBJECTS];
  return arg
    .slice('--loopback='.length)
    .split(',')
    .filter((id) => id !== '')
    .map((id) => {
      const s = all.find((x) => x.id === id);
      if (s === undefined) throw new Error(`unknown loopback subject '${id}' (known: ${all.map((x) => x.id).join(', ')})`);
      return s;
    });
}

/** --client-socket=dgram|native (default native). */
export function clientSocketFromArgv(argv: readonly string[]): ClientSocketKind | undefined {
  const arg = argv.find((a) => a.startsWith('--client-socket='));
  if (arg === undefined) return undefined;
  const v = arg.slice('--client-socket='.length);
  if (v !== 'dgram' && v !== 'native') throw new Error(`--client-socket must be dgram or native (got '${v}')`);
  return v;
}

// ------------------------------------------------------------ standalone

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  const subjects = subjectsFromArgv(process.argv);
  runLoopback({ quick, log: (s) => console.log(s), subjects, clientSocket: clientSocketFromArgv(process.argv) })
    .then((r) => {
      console.log('\n' + loopbackSummary(r) + '\n');
      // A run of chosen subjects goes to the temp dir: it must not replace the scoreboard's results.
      // Quick runs go to results/quick (git-ignored).
      const dir = subjects === undefined ? resultsDir(quick) : os.tmpdir();
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, quick && subjects !== undefined ? 'loopback-quick.json' : 'loopback.json');
      fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2) + '\n');
      console.log(`wrote ${path.relative(process.cwd(), file)} in ${r.durationSec.toFixed(0)} s`);
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
