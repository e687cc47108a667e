/**
 * Loopback end-to-end benchmark: a real node bound on 127.0.0.1 in a child
 * process (bench/loopback/server.ts), driven by a client in this process
 * (bench/loopback/client.ts) that sends pre-signed pings from many keys and
 * counts matched pongs.
 *
 * For each implementation (ours over dgram, ours over the native socket
 * when src/transport/native-socket.ts exports bindNative, and
 * @ethereumjs/devp2p's DPT), in this order: spawn the server, warm up
 * (bond every key), window mode (N pings in flight, R runs of D seconds),
 * open-loop mode (fixed offered rates), final stats (CPU, peak RSS, heap
 * after gc), kill the child.
 *
 *   npx tsx bench/loopback/index.ts [--quick]     standalone; writes bench/results/loopback(-quick).json
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
import { pathToFileURL } from 'node:url';
import { generatePrivateKey } from '../../src/crypto';
import { KernelDrops, LoopbackClient, OpenLoopCounts, Rtt, WarmupResult, WindowCounts } from './client';
import type { ChildMessage, Impl, ParentMessage, ServerStats } from './protocol';

export type { Impl } from './protocol';

/** The issue's bar for our node, on one core of the reference machine. */
export const LOOPBACK_TARGET_PONGS_PER_SEC = 7_500;
/** Heap growth (after gc, warm-up vs end) above this counts as growth. */
export const HEAP_GROWTH_LIMIT_BYTES = 1024 * 1024;

export interface LoopbackOptions {
  quick: boolean;
  log: (s: string) => void;
  /** Default: every implementation available. */
  impls?: readonly Impl[];
}

export interface WindowRun extends WindowCounts {
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
}

export interface OpenLoopResult extends OpenLoopCounts {
  serverCpuCores: number | null;
  serverElu: number | null;
}

export interface ImplResult {
  impl: Impl;
  available: boolean;
  /** Why the implementation was skipped (native socket missing...). */
  skippedReason?: string;
  /** The run failed part-way; what was measured before is kept. */
  error?: string;
  serverId?: string;
  socketKind?: string;
  serverRecvBufferSize?: number | null;
  clientRecvBufferSize?: number;
  warmup?: WarmupResult;
  window?: WindowResult;
  openLoop: OpenLoopResult[];
  server?: {
    maxRssKb: number;
    /** RSS after warm-up (gc'd): the process with tsx and the node loaded, before the load. */
    rssKbAfterWarmup: number;
    rssKbEnd: number;
    heapAfterWarmupBytes: number | null;
    heapEndBytes: number | null;
    heapDeltaBytes: number | null;
    heapFlat: boolean | null;
    /** Ours: transport counters at the end (pending, bonds, drops, timeouts, packets). */
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
    socketErrors: number;
  };
  durationSec: number;
}

export interface LoopbackResult {
  quick: boolean;
  keys: number;
  window: number;
  target: number;
  rates: number[];
  durationSec: number;
  machine: { cpu?: string; cores: number; loadavg: number[]; node: string; platform: string };
  impls: ImplResult[];
}

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER_FILE = path.join(__dirname, 'server.ts');
/** LOOPBACK_NATIVE_SOCKET overrides the path (to test the fallback); the child reads it too. */
const NATIVE_SOCKET_FILE = process.env.LOOPBACK_NATIVE_SOCKET ?? path.join(ROOT, 'src', 'transport', 'native-socket.ts');
const KEYS = 512;
const WINDOW = 64;

// ------------------------------------------------------------ child process

/** Children alive right now, killed on exit/SIGINT whatever happens. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

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

class ServerProc {
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
  static spawn(impl: Impl, timeoutMs = 15_000): Promise<ServerProc> {
    const tsxLoader = pathToFileURL(require.resolve('tsx')).href;
    const child = spawn(process.execPath, ['--expose-gc', '--import', tsxLoader, SERVER_FILE, '--impl', impl], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function medianOrNull(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const orNa = (n: number | null) => (n === null ? 'n/a' : fmtInt(n));

/** Kernel drops: system-wide RcvbufErrors (snmp), then the server's and the client's socket alone. */
function fmtDrops(d: KernelDrops): string {
  return `system-wide ${orNa(d.rcvbufErrors)}, server socket ${orNa(d.serverSocket)}, client socket ${orNa(d.clientSocket)}`;
}

function fmtRtt(r: Rtt | null): string {
  return r === null ? 'n/a' : `p50 ${r.p50.toFixed(1)} / p99 ${r.p99.toFixed(1)} / max ${r.max.toFixed(0)} ms`;
}

function fmtMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

// ------------------------------------------------------------ one implementation

async function runImpl(impl: Impl, keys: Buffer[], opts: LoopbackOptions): Promise<ImplResult> {
  const { quick, log } = opts;
  const started = Date.now();
  const res: ImplResult = { impl, available: true, openLoop: [], durationSec: 0 };
  const repeats = quick ? 1 : 3;
  const measureMs = quick ? 1000 : 3000;
  const warmupMs = 500;
  const rates = quick ? [5_000] : [5_000, 20_000];

  let server: ServerProc | undefined;
  let client: LoopbackClient | undefined;
  try {
    try {
      server = await ServerProc.spawn(impl);
    } catch (err) {
      if (err instanceof Unavailable) {
        log(`[loopback] ${impl}: native socket not available (${err.message}); skipped`);
        return { ...res, available: false, skippedReason: err.message, durationSec: (Date.now() - started) / 1000 };
      }
      throw err;
    }
    const { port, id, socketKind } = server.ready;
    res.serverId = id;
    res.socketKind = socketKind;
    client = await LoopbackClient.open(port, keys);
    res.clientRecvBufferSize = client.recvBufferSize;
    log(`[loopback] ${impl}: server on 127.0.0.1:${port} (${socketKind}), id ${id.slice(0, 16)}…`);

    // Warm-up / bonding.
    const w = await client.warmup();
    res.warmup = w;
    log(
      `[loopback] ${impl} warm-up: ${w.keysPonged}/${w.keys} keys answered, ${w.pingBacksAnswered} ping-backs answered, ` +
        `${w.bondedKeys}/${w.keys} bonded after ${w.verifyRounds} check round(s) (${w.ms.toFixed(0)} ms)`,
    );
    server.assertAlive();
    const afterWarmup = await server.stats(true);
    res.serverRecvBufferSize = afterWarmup.recvBufferSize;

    // Window mode.
    const runs: WindowRun[] = [];
    for (let r = 1; r <= repeats; r++) {
      let endStats: Promise<ServerStats> | undefined;
      const counts = await client.runWindow({
        window: WINDOW,
        warmupMs,
        measureMs,
        onStart: () => void server!.reset().catch(() => undefined),
        onEnd: () => {
          endStats = server!.stats(false);
          endStats.catch(() => undefined);
        },
      });
      const st = endStats ? await endStats.catch(() => null) : null;
      const cores = st ? st.cpuCoresUsed : null;
      const run: WindowRun = {
        ...counts,
        serverCpuCores: cores,
        serverCpuUsPerPong: cores !== null && counts.pongsPerSec > 0 ? (cores * 1e6) / counts.pongsPerSec : null,
        serverElu: st ? st.elu : null,
      };
      runs.push(run);
      log(
        `[loopback] ${impl} window run ${r}/${repeats}: ${fmtInt(run.pongsPerSec)} pongs/s` +
          (cores !== null ? `, server CPU ${cores.toFixed(2)} cores (${run.serverCpuUsPerPong!.toFixed(0)} µs/pong), ELU ${run.serverElu!.toFixed(2)}` : '') +
          `, client CPU ${run.clientCpuCores.toFixed(2)}, RTT ${fmtRtt(run.rtt)}, losses ${run.losses}, kernel drops: ${fmtDrops(run.kernelDrops)}`,
      );
      server.assertAlive();
    }
    const pps = runs.map((r) => r.pongsPerSec);
    res.window = {
      window: WINDOW,
      durationSec: measureMs / 1000,
      warmupSec: warmupMs / 1000,
      runs,
      medianPongsPerSec: median(pps),
      minPongsPerSec: Math.min(...pps),
      maxPongsPerSec: Math.max(...pps),
      medianServerCpuCores: medianOrNull(runs.map((r) => r.serverCpuCores)),
      medianServerCpuUsPerPong: medianOrNull(runs.map((r) => r.serverCpuUsPerPong)),
    };

    // Open-loop mode.
    for (const rate of rates) {
      let endStats: Promise<ServerStats> | undefined;
      const counts = await client.runOpenLoop({
        rate,
        durationMs: measureMs,
        onStart: () => void server!.reset().catch(() => undefined),
        onEnd: () => {
          endStats = server!.stats(false);
          endStats.catch(() => undefined);
        },
      });
      const st = endStats ? await endStats.catch(() => null) : null;
      const ol: OpenLoopResult = {
        ...counts,
        serverCpuCores: st ? st.cpuCoresUsed : null,
        serverElu: st ? st.elu : null,
      };
      res.openLoop.push(ol);
      log(
        `[loopback] ${impl} open-loop ${fmtInt(rate)} pps: sent ${fmtInt(ol.sentPerSec)}/s, received ${fmtInt(ol.receivedPerSec)} pongs/s, ` +
          `loss ${ol.lossPct.toFixed(1)}%, drain ${ol.drainMs.toFixed(0)} ms, RTT~ ${fmtRtt(ol.rtt)}, kernel drops: ${fmtDrops(ol.kernelDrops)}` +
          (ol.serverCpuCores !== null ? `, server CPU ${ol.serverCpuCores.toFixed(2)} cores, ELU ${ol.serverElu!.toFixed(2)}` : '') +
          (ol.behind > 0 ? `, client fell behind by ${fmtInt(ol.behind)} pings` : ''),
      );
      server.assertAlive();
    }

    // Final stats.
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
    log(
      `[loopback] ${impl} server: peak RSS ${(end.maxRssKb / 1024).toFixed(0)} MiB (RSS ${(afterWarmup.rssKb / 1024).toFixed(0)} MiB after warm-up, ${(end.rssKb / 1024).toFixed(0)} MiB at end), heap after gc ${h0 !== null ? fmtMiB(h0) : 'n/a'} -> ${h1 !== null ? fmtMiB(h1) : 'n/a'}` +
        (delta !== null ? ` (${delta >= 0 ? '+' : ''}${(delta / 1024).toFixed(0)} KiB)` : '') +
        extra,
    );
  } catch (err) {
    res.error = (err as Error).message;
    log(`[loopback] ${impl} FAILED: ${res.error}`);
  } finally {
    if (client) {
      res.client = {
        pongs: client.pongs,
        unknownPongs: client.unknownPongs,
        pingBacks: client.pingBacks,
        pingBacksAnswered: client.pingBacksAnswered,
        pingBacksUnattributed: client.pingBacksUnattributed,
        otherPackets: client.otherPackets,
        badPackets: client.badPackets,
        socketErrors: client.socketErrors,
      };
      await client.close();
    }
    if (server) await server.stop();
  }
  res.durationSec = (Date.now() - started) / 1000;
  return res;
}

// ------------------------------------------------------------ entry point

/** Runs every implementation in turn; never throws for one implementation's failure. */
export async function runLoopback(opts: LoopbackOptions): Promise<LoopbackResult> {
  const started = Date.now();
  const { log } = opts;
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
  try {
    const impls = [...(opts.impls ?? (['ours-dgram', 'ours-native', 'ours-dpt', 'ethjs'] as const))];
    const keys = Array.from({ length: KEYS }, () => generatePrivateKey());
    const results: ImplResult[] = [];
    for (const impl of impls) {
      if (impl === 'ours-native' && !fs.existsSync(NATIVE_SOCKET_FILE)) {
        const rel = path.relative(ROOT, NATIVE_SOCKET_FILE);
        const reason = `${rel.startsWith('..') ? NATIVE_SOCKET_FILE : rel} missing`;
        log(`[loopback] ours-native: native socket not available (${reason}); skipped`);
        results.push({ impl, available: false, skippedReason: reason, openLoop: [], durationSec: 0 });
        continue;
      }
      log(`[loopback] ${impl}: starting`);
      results.push(await runImpl(impl, keys, opts));
    }
    return {
      quick: opts.quick,
      keys: KEYS,
      window: WINDOW,
      target: LOOPBACK_TARGET_PONGS_PER_SEC,
      rates: opts.quick ? [5_000] : [5_000, 20_000],
      durationSec: (Date.now() - started) / 1000,
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.cpus().length,
        loadavg: os.loadavg(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      },
      impls: results,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    killAll();
  }
}

// ------------------------------------------------------------ table rows

/**
 * Rows for bench/index.ts's table: [operation, ours, ethjs, ratio, notes].
 * One window row and one row per open-loop rate for each of our sockets.
 */
export function loopbackTableRows(r: LoopbackResult): string[][] {
  const by = (i: Impl) => r.impls.find((x) => x.impl === i);
  const ethjs = by('ethjs');
  const rows: string[][] = [];
  const ratio = (a: number, b: number | undefined) => (b !== undefined && b > 0 ? `${(a / b).toFixed(1)}x` : '-');
  for (const impl of ['ours-dgram', 'ours-native', 'ours-dpt'] as const) {
    const ours = by(impl);
    const sock = impl === 'ours-dgram' ? 'dgram' : impl === 'ours-native' ? 'native' : 'our DPT facade';
    if (ours === undefined) continue;
    if (!ours.available || ours.window === undefined) {
      rows.push([
        `loopback ping->pong, window ${r.window} [${sock}] (pongs/s)`,
        ours.available ? `failed: ${ours.error ?? 'no result'}` : 'not available',
        ethjs?.window ? fmtInt(ethjs.window.medianPongsPerSec) : '-',
        '-',
        ours.skippedReason ?? '',
      ]);
      continue;
    }
    const w = ours.window;
    const met = w.medianPongsPerSec >= r.target;
    const e = ethjs?.window;
    rows.push([
      `loopback ping->pong, window ${r.window} [${sock}] (pongs/s)`,
      `${fmtInt(w.medianPongsPerSec)} (target ${fmtInt(r.target)}: ${met ? 'met' : 'MISSED'})`,
      e ? fmtInt(e.medianPongsPerSec) : '-',
      ratio(w.medianPongsPerSec, e?.medianPongsPerSec),
      `runs ${fmtInt(w.minPongsPerSec)}-${fmtInt(w.maxPongsPerSec)} (ethjs ${e ? `${fmtInt(e.minPongsPerSec)}-${fmtInt(e.maxPongsPerSec)}` : '-'}); ` +
        `server CPU/pong ${w.medianServerCpuUsPerPong?.toFixed(0) ?? '?'} µs (ethjs ${e?.medianServerCpuUsPerPong?.toFixed(0) ?? '?'} µs)`,
    ]);
    for (const ol of ours.openLoop) {
      const eo = ethjs?.openLoop.find((x) => x.offeredPps === ol.offeredPps);
      rows.push([
        `loopback open-loop ${fmtInt(ol.offeredPps)} pps offered [${sock}] (pongs/s received)`,
        fmtInt(ol.receivedPerSec),
        eo ? fmtInt(eo.receivedPerSec) : '-',
        ratio(ol.receivedPerSec, eo?.receivedPerSec),
        `loss ${ol.lossPct.toFixed(1)}% (ethjs ${eo ? eo.lossPct.toFixed(1) + '%' : '-'}); ` +
          `kernel rcv drops: server socket ${orNa(ol.kernelDrops.serverSocket)} (ethjs ${eo ? orNa(eo.kernelDrops.serverSocket) : '-'}), ` +
          `system-wide ${orNa(ol.kernelDrops.rcvbufErrors)} (ethjs ${eo ? orNa(eo.kernelDrops.rcvbufErrors) : '-'})`,
      ]);
    }
  }
  return rows;
}

/** A short per-implementation summary (CPU, RSS, heap, warm-up) printed under the table. */
export function loopbackSummary(r: LoopbackResult): string {
  const out: string[] = [`Loopback (${r.keys} keys, window ${r.window}; ${r.quick ? 'quick' : 'full'} run, ${r.durationSec.toFixed(0)} s):`];
  for (const i of r.impls) {
    if (!i.available) {
      out.push(`  ${i.impl}: not available (${i.skippedReason})`);
      continue;
    }
    const parts: string[] = [];
    if (i.window) {
      parts.push(
        `window ${fmtInt(i.window.medianPongsPerSec)} pongs/s (${fmtInt(i.window.minPongsPerSec)}-${fmtInt(i.window.maxPongsPerSec)})`,
        `server CPU ${i.window.medianServerCpuCores?.toFixed(2) ?? '?'} cores`,
      );
    }
    if (i.server) {
      parts.push(`peak RSS ${(i.server.maxRssKb / 1024).toFixed(0)} MiB`);
      if (i.server.heapDeltaBytes !== null) {
        parts.push(`heap delta ${(i.server.heapDeltaBytes / 1024).toFixed(0)} KiB (${i.server.heapFlat ? 'flat' : 'GROWTH'})`);
      }
      if (i.server.transportEnd) parts.push(`pending at end ${i.server.transportEnd.pending}`);
    }
    if (i.warmup) parts.push(`bonded ${i.warmup.bondedKeys}/${i.warmup.keys}`);
    if (i.error) parts.push(`ERROR: ${i.error}`);
    out.push(`  ${i.impl}: ${parts.join(', ')}`);
  }
  return out.join('\n');
}

// ------------------------------------------------------------ standalone

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  runLoopback({ quick, log: (s) => console.log(s) })
    .then((r) => {
      console.log('\n' + loopbackSummary(r) + '\n');
      for (const row of loopbackTableRows(r)) console.log(row.join(' | '));
      const dir = path.join(__dirname, '..', 'results');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, quick ? 'loopback-quick.json' : 'loopback.json');
      fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2) + '\n');
      console.log(`\nwrote ${path.relative(process.cwd(), file)} in ${r.durationSec.toFixed(0)} s`);
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
