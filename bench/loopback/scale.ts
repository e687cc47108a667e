/**
 * Bootnode at scale (issue #19): findnode answers from a bootnode holding
 * a full 1024-per-bucket table plus 100,000 known nodes, next to the same
 * on a 16-per-bucket table, fork filter 'strict' and 'off'. Done when the
 * big one answers at least half as many findnodes per second.
 *
 * Each case is a server child (bench/loopback/server.ts --impl ours-scale):
 * a whole Discovery on 127.0.0.1 (native socket, 1 crypto thread), its
 * table prefilled with live entries until the top buckets are full, its
 * known set filled (bench/loopback/prefill.ts). The client bonds its keys
 * (the loopback warm-up), then keeps WINDOW findnodes for random targets
 * in flight, one per client socket, and counts complete answers (16 nodes
 * in two neighbors packets of 12 + 4). Server CPU per answer comes from
 * the child's own CPU counters over the measured interval; RSS from the
 * child at the end.
 *
 *   npx tsx bench/loopback/scale.ts [--quick]   standalone; writes bench/results/scale.json (quick/scale.json)
 *   npm run bench [-- --quick]                  after the loopback bench, in the same table and JSON
 *
 * Only 127.0.0.1 traffic; every phase is bounded in time; children are
 * killed at the end, on error and on SIGINT/SIGTERM.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FindnodeCounts, LoopbackClient, WarmupResult } from './client';
import {
  fmtClient,
  fmtForeign,
  fmtInt,
  fmtMiB,
  fmtRtt,
  guardChildren,
  Interference,
  Interval,
  median,
  medianOrNull,
  ServerProc,
} from './index';
import { interference, ForeignCpu } from '../interference';
import { resultsDir } from '../results-dir';
import type { ScaleArgs, ScaleReady, ServerStats } from './protocol';

/** A bootnode with a big table must answer at least 1/2 as many findnodes per second as one with a 16-per-bucket table. */
export const SCALE_MAX_SLOWDOWN = 2;
/** Bonded keys the findnodes come from. */
const KEYS = 64;
/** Findnodes in flight (one client socket each). */
const WINDOW = 32;
/** Pre-signed findnodes (random targets), cycled. */
const FINDNODES = 8192;
/** Prefilling 1024 x 10 buckets hashes ~1.1 M ids and 100,000 known nodes go through the DB: minutes on a busy machine at worst. */
const SPAWN_TIMEOUT_MS = 180_000;

export interface ScaleCase {
  id: string;
  label: string;
  bucketSize: number;
  known: number;
  forkFilter: 'strict' | 'off';
}

/** 16 per bucket without known nodes vs 1024 per bucket + 100,000 known, each with the fork filter strict and off. */
export function scaleCases(known: number): ScaleCase[] {
  const out: ScaleCase[] = [];
  for (const forkFilter of ['strict', 'off'] as const) {
    out.push({ id: `b16-${forkFilter}`, label: `16/bucket, fork ${forkFilter}`, bucketSize: 16, known: 0, forkFilter });
    out.push({ id: `b1024-${forkFilter}`, label: `1024/bucket + ${fmtInt(known)} known, fork ${forkFilter}`, bucketSize: 1024, known, forkFilter });
  }
  return out;
}

interface Plan {
  repeats: number;
  warmupMs: number;
  measureMs: number;
  /** Buckets filled to the bucket size, from the top. */
  fullBuckets: number;
  known: number;
}

function planFor(quick: boolean): Plan {
  // Quick: one short run per case, the same table shapes (the prefill takes ~2 s).
  return quick
    ? { repeats: 1, warmupMs: 300, measureMs: 1500, fullBuckets: 10, known: 100_000 }
    : { repeats: 3, warmupMs: 500, measureMs: 3000, fullBuckets: 10, known: 100_000 };
}

export interface ScaleRun extends FindnodeCounts, Interference {
  serverCpuCores: number | null;
  serverCpuUsPerAnswer: number | null;
  serverElu: number | null;
}

export interface ScaleCaseResult extends ScaleCase {
  error?: string;
  /** What the server held once prefilled. */
  prefill?: ScaleReady;
  warmup?: WarmupResult;
  runs: ScaleRun[];
  medianAnswersPerSec: number | null;
  minAnswersPerSec: number | null;
  maxAnswersPerSec: number | null;
  medianServerCpuUsPerAnswer: number | null;
  medianServerCpuCores: number | null;
  medianClientCpuCores: number | null;
  /** Server RSS at the end (after gc), its peak, and its heap after gc. */
  rssKb?: number;
  maxRssKb?: number;
  heapUsedAfterGcBytes?: number | null;
  /** Transport counters at the end (drops, pending). */
  transportEnd?: ServerStats['transport'];
  durationSec: number;
}

/** One fork filter: the big bootnode against the 16-per-bucket one. */
export interface ScaleVerdict {
  forkFilter: 'strict' | 'off';
  /** Answers/s of 16-per-bucket over 1024-per-bucket + known: how many times slower the big one is. */
  slowdown: number | null;
  /** Server CPU per answer, big over small. */
  cpuRatio: number | null;
  met: boolean | null;
}

export interface ScaleResult {
  quick: boolean;
  keys: number;
  window: number;
  findnodes: number;
  repeats: number;
  measureSec: number;
  fullBuckets: number;
  durationSec: number;
  clientSignSec: number;
  machine: { cpu?: string; availableParallelism: number; loadavg: number[]; node: string };
  foreignCpu: ForeignCpu | null;
  cases: ScaleCaseResult[];
  verdicts: ScaleVerdict[];
}

async function runCase(c: ScaleCase, client: LoopbackClient, plan: Plan, log: (s: string) => void): Promise<ScaleCaseResult> {
  const started = Date.now();
  const res: ScaleCaseResult = {
    ...c,
    runs: [],
    medianAnswersPerSec: null,
    minAnswersPerSec: null,
    maxAnswersPerSec: null,
    medianServerCpuUsPerAnswer: null,
    medianServerCpuCores: null,
    medianClientCpuCores: null,
    durationSec: 0,
  };
  const scale: ScaleArgs = { bucketSize: c.bucketSize, known: c.known, forkFilter: c.forkFilter, fullBuckets: plan.fullBuckets };
  let server: ServerProc | undefined;
  try {
    server = await ServerProc.spawn({ impl: 'ours-scale', port: client.serverPort, threads: 1, scale }, SPAWN_TIMEOUT_MS);
    client.resetForServer();
    const p = server.ready.scale;
    if (p !== undefined) {
      res.prefill = p;
      log(
        `[scale] ${c.label}: table ${fmtInt(p.tableEntries)} entries (per bucket ${p.perBucket.join(',')}; ${fmtInt(p.candidates)} random ids tried), ` +
          `records ours/other/no-eth ${p.forkClasses.ours}/${p.forkClasses.other}/${p.forkClasses.unknown}, known ${fmtInt(p.knownNodes)}, DB ${fmtInt(p.dbNodes)} nodes, prefilled in ${p.prefillSec.toFixed(1)} s`,
      );
    }
    let w = await client.warmup();
    if (w.bondedKeys < w.keys) {
      // A findnode from an unbonded key is dropped: each would cost its socket a 1 s timeout.
      log(`[scale] ${c.label}: ${w.bondedKeys}/${w.keys} keys bonded, bonding again`);
      w = await client.warmup();
    }
    res.warmup = w;
    log(
      `[scale] ${c.label} warm-up: ${w.keysPonged}/${w.keys} keys answered, ${w.bondedKeys}/${w.keys} bonded after ${w.verifyRounds} check round(s) (${w.ms.toFixed(0)} ms)` +
        (w.bondedKeys < w.keys ? ': findnodes from the others go unanswered, counted lost' : ''),
    );
    for (let r = 1; r <= plan.repeats; r++) {
      const iv = new Interval(server);
      const counts = await client.runFindnode({ window: WINDOW, warmupMs: plan.warmupMs, measureMs: plan.measureMs, onStart: iv.onStart, onEnd: iv.onEnd });
      const st = await iv.stats();
      const cores = st ? st.cpuCoresUsed : null;
      const run: ScaleRun = {
        ...counts,
        serverCpuCores: cores,
        serverCpuUsPerAnswer: cores !== null && counts.answersPerSec > 0 ? (cores * 1e6) / counts.answersPerSec : null,
        serverElu: st ? st.elu : null,
        foreignCpuCores: iv.foreign(),
      };
      res.runs.push(run);
      log(
        `[scale] ${c.label} ${r}/${plan.repeats}: ${fmtInt(run.answersPerSec)} answers/s (${run.nodesPerAnswer?.toFixed(1) ?? '?'} nodes each, ${run.shortAnswers} short)` +
          (cores !== null ? `, server CPU ${cores.toFixed(2)} cores = ${run.serverCpuUsPerAnswer?.toFixed(0) ?? '?'} µs/answer` : '') +
          `, ${fmtClient(run)}, rtt ${fmtRtt(run.rtt)}, lost ${run.lost}` +
          fmtForeign(run.foreignCpuCores),
      );
      server.assertAlive();
    }
    const end = await server.stats(true);
    res.rssKb = end.rssKb;
    res.maxRssKb = end.maxRssKb;
    res.heapUsedAfterGcBytes = end.heapUsedAfterGc;
    if (end.transport) res.transportEnd = end.transport;
    log(
      `[scale] ${c.label} server: RSS ${(end.rssKb / 1024).toFixed(0)} MiB (peak ${(end.maxRssKb / 1024).toFixed(0)} MiB)` +
        (end.heapUsedAfterGc !== null ? `, heap after gc ${fmtMiB(end.heapUsedAfterGc)}` : '') +
        (end.transport ? `, transport drops ${fmtDrops(end.transport.drops)}` : ''),
    );
  } catch (err) {
    res.error = (err as Error).message;
    log(`[scale] ${c.label} FAILED: ${res.error}`);
  } finally {
    if (server) await server.stop();
  }
  const aps = res.runs.map((r) => r.answersPerSec);
  if (aps.length > 0) {
    res.medianAnswersPerSec = median(aps);
    res.minAnswersPerSec = Math.min(...aps);
    res.maxAnswersPerSec = Math.max(...aps);
    res.medianClientCpuCores = median(res.runs.map((r) => r.clientCpuCores));
  }
  res.medianServerCpuUsPerAnswer = medianOrNull(res.runs.map((r) => r.serverCpuUsPerAnswer));
  res.medianServerCpuCores = medianOrNull(res.runs.map((r) => r.serverCpuCores));
  res.durationSec = (Date.now() - started) / 1000;
  return res;
}

function fmtDrops(drops: Record<string, number>): string {
  const nonzero = Object.entries(drops).filter(([, v]) => v > 0);
  return nonzero.length ? nonzero.map(([k, v]) => `${k}=${v}`).join(' ') : 'none';
}

/** The acceptance per fork filter: big vs small answers/s. */
export function scaleVerdicts(cases: readonly ScaleCaseResult[]): ScaleVerdict[] {
  return (['strict', 'off'] as const).map((forkFilter) => {
    const small = cases.find((c) => c.forkFilter === forkFilter && c.bucketSize === 16);
    const big = cases.find((c) => c.forkFilter === forkFilter && c.bucketSize > 16);
    const a = small?.medianAnswersPerSec ?? null;
    const b = big?.medianAnswersPerSec ?? null;
    const slowdown = a !== null && b !== null && b > 0 ? a / b : null;
    const ca = small?.medianServerCpuUsPerAnswer ?? null;
    const cb = big?.medianServerCpuUsPerAnswer ?? null;
    return { forkFilter, slowdown, cpuRatio: ca !== null && cb !== null && ca > 0 ? cb / ca : null, met: slowdown === null ? null : slowdown < SCALE_MAX_SLOWDOWN };
  });
}

/** Runs every case in turn; one case's failure is recorded, not thrown. */
export async function runScale(opts: { quick: boolean; log: (s: string) => void; cases?: readonly ScaleCase[] }): Promise<ScaleResult> {
  const started = Date.now();
  const { log } = opts;
  const plan = planFor(opts.quick);
  const unguard = guardChildren();
  let client: LoopbackClient | undefined;
  const tStart = performance.now();
  try {
    // Its own client: WINDOW side sockets for the findnodes, no fresh keys (no full path here).
    client = await LoopbackClient.open({ keys: KEYS, freshKeys: 0, fullPathSockets: WINDOW, kind: 'native' });
    client.signFindnodes(FINDNODES);
    log(`[scale] client: ${KEYS} keys, ${fmtInt(FINDNODES)} findnodes signed in ${client.signSeconds.toFixed(1)} s, window ${WINDOW}; servers bind 127.0.0.1:${client.serverPort}`);
    const cases: ScaleCaseResult[] = [];
    for (const c of opts.cases ?? scaleCases(plan.known)) cases.push(await runCase(c, client, plan, log));
    const verdicts = scaleVerdicts(cases);
    for (const v of verdicts) {
      log(
        `[scale] fork ${v.forkFilter}: 16/bucket answers ${v.slowdown === null ? '?' : v.slowdown.toFixed(2)}x as many findnodes/s as 1024/bucket + known ` +
          `(CPU per answer ${v.cpuRatio === null ? '?' : v.cpuRatio.toFixed(2)}x): < ${SCALE_MAX_SLOWDOWN}x ${v.met === null ? 'not measured' : v.met ? 'met' : 'MISSED'}`,
      );
    }
    return {
      quick: opts.quick,
      keys: KEYS,
      window: WINDOW,
      findnodes: FINDNODES,
      repeats: plan.repeats,
      measureSec: plan.measureMs / 1000,
      fullBuckets: plan.fullBuckets,
      durationSec: (Date.now() - started) / 1000,
      clientSignSec: client.signSeconds,
      machine: { cpu: os.cpus()[0]?.model, availableParallelism: os.availableParallelism(), loadavg: os.loadavg(), node: process.version },
      foreignCpu: interference()?.between(tStart, performance.now()) ?? null,
      cases,
      verdicts,
    };
  } finally {
    unguard();
    if (client) await client.close();
  }
}

/** One line per case, for under the table. */
export function scaleSummary(r: ScaleResult): string {
  const out = [`Bootnode at scale (findnode window ${r.window}, ${r.repeats} run(s) of ${r.measureSec} s, server on 1 crypto thread, ${r.durationSec.toFixed(0)} s):`];
  for (const c of r.cases) {
    if (c.error !== undefined && c.runs.length === 0) {
      out.push(`  ${c.label}: FAILED ${c.error}`);
      continue;
    }
    out.push(
      `  ${c.label}: table ${c.prefill ? fmtInt(c.prefill.tableEntries) : '?'} + known ${c.prefill ? fmtInt(c.prefill.knownNodes) : '?'}: ` +
        `${c.medianAnswersPerSec === null ? '?' : fmtInt(c.medianAnswersPerSec)} answers/s, ` +
        `${c.medianServerCpuUsPerAnswer === null ? '?' : c.medianServerCpuUsPerAnswer.toFixed(0)} µs server CPU/answer, ` +
        `RSS ${c.rssKb === undefined ? '?' : (c.rssKb / 1024).toFixed(0)} MiB` +
        (c.error !== undefined ? ` (ERROR: ${c.error})` : ''),
    );
  }
  for (const v of r.verdicts) {
    out.push(`  fork ${v.forkFilter}: ${v.slowdown === null ? '?' : v.slowdown.toFixed(2)}x slower at scale: < ${SCALE_MAX_SLOWDOWN}x ${v.met === null ? 'not measured' : v.met ? 'met' : 'MISSED'}`);
  }
  return out.join('\n');
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  runScale({ quick, log: (s) => console.log(s) })
    .then((r) => {
      console.log('\n' + scaleSummary(r) + '\n');
      const dir = resultsDir(quick);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'scale.json');
      fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2) + '\n');
      console.log(`wrote ${path.relative(process.cwd(), file)} in ${r.durationSec.toFixed(0)} s`);
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
