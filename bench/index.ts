/**
 * `npm run bench` — the project's scoreboard (issue #9).
 *
 *   npm run bench              full run: 3 repeats of everything (under 10 minutes)
 *   npm run bench -- --quick   smoke run: 1 repeat, short phases (~75 s, ~20 s of it the scale cases)
 *
 * Options: --loopback=<ids> picks the loopback subjects (default
 * ours-1t,ours-mt,ethjs; also ours-dgram, ours-dpt); --client-socket=dgram
 * runs the load generator over Node's dgram instead of the native socket.
 *
 * Prints progress while it runs, then one table: the micro suites (encode
 * + seal and open + decode of every packet type, the crypto primitives),
 * the crypto limit, the loopback end-to-end figures (bench/loopback:
 * our node with 1 and with all crypto threads, @ethereumjs/devp2p's DPT),
 * and findnode answers of a bootnode at scale (bench/loopback/scale.ts:
 * 1024 per bucket + 100,000 known nodes vs 16 per bucket, fork filter
 * strict and off),
 * each median (min-max) over the repeats, beside ethjs measured in the same
 * run, with the targets marked met / MISSED.
 *
 * Writes bench/results/: micro.json (everything, the loopback run under
 * `loopback`, the scale run under `scale`), loopback.json (the loopback run
 * alone), scale.json (the scale run alone), scoreboard.md (the
 * table as Markdown), loopback-chart.svg (the sweep); --quick writes the
 * same files to bench/results/quick/ (git-ignored).
 */
import * as b from 'benny';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sweepChartSvg } from './chart';
import { performance } from 'node:perf_hooks';
import { interference, startInterferenceMonitor } from './interference';
import { clientSocketFromArgv, livePids, LoopbackResult, loopbackSummary, runLoopback, subjectsFromArgv } from './loopback';
import { runScale, ScaleResult, scaleSummary } from './loopback/scale';
import { microSuites, MicroSuite } from './micro';
import { buildScoreboard, figOf, MicroStat, MICRO_TARGETS, renderMarkdown, renderText } from './scoreboard';
import { resultsDir } from './results-dir';

/** One benny result: one case in one repeat. */
interface Row {
  suite: string;
  library: string;
  repeat: number;
  opsPerSec: number;
  marginPct: number;
  samples: number;
  /** Cores other processes used while this case's suite ran (null: not measured). */
  foreignCpuCores: number | null;
}

const quick = process.argv.includes('--quick');
const repeats = quick ? 1 : 3;
// benny (benchmark.js) adds ~0.3 s per case to maxTime: 38 cases x 3 repeats.
const caseOptions = quick ? { minSamples: 3, maxTime: 0.1 } : { minSamples: 5, maxTime: 0.6 };
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

async function runSuite(s: MicroSuite, repeat: number): Promise<Row[]> {
  const cases = [s.ours, ...(s.ethjs ? [s.ethjs] : []), ...(s.others ?? [])];
  let rows: Row[] = [];
  const t0 = performance.now();
  await b.suite(
    `${s.name} [repeat ${repeat}/${repeats}, ${elapsed()}]`,
    ...cases.map((c) => b.add(c.name, c.fn, caseOptions)),
    b.cycle(),
    b.complete((summary) => {
      rows = summary.results.map((r) => ({
        suite: s.name,
        library: r.name,
        repeat,
        opsPerSec: r.ops,
        marginPct: r.margin,
        samples: r.samples,
        foreignCpuCores: null,
      }));
    }),
  );
  const foreign = interference()?.between(t0, performance.now())?.meanCores ?? null;
  for (const r of rows) r.foreignCpuCores = foreign;
  return rows;
}

function microStats(rows: Row[]): MicroStat[] {
  const keys = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.suite}\u0000${r.library}`;
    if (!keys.has(k)) keys.set(k, []);
    keys.get(k)!.push(r);
  }
  return [...keys.values()].map((rs) => ({ suite: rs[0].suite, library: rs[0].library, ops: figOf(rs.map((r) => r.opsPerSec)), runs: rs.map((r) => r.opsPerSec) }));
}

async function main(): Promise<void> {
  const subjects = subjectsFromArgv(process.argv);
  const clientSocket = clientSocketFromArgv(process.argv);
  const suites = microSuites();
  const monitor = startInterferenceMonitor(() => [process.pid, ...livePids()]);
  const loadAtStart = os.loadavg();
  console.log(`[bench] ${quick ? 'quick' : 'full'} run: ${suites.length} micro suites x ${repeats} repeat(s), then the loopback bench`);

  // Repeat-major: each repeat runs every suite, so slow drift spreads over all of them.
  const all: Row[] = [];
  for (let r = 1; r <= repeats; r++) {
    console.log(`\n[bench] micro repeat ${r}/${repeats} (${elapsed()})`);
    for (const s of suites) all.push(...(await runSuite(s, r)));
  }
  const micro = microStats(all);

  // The loopback end-to-end bench; a failure there must not lose the micro results.
  let loopback: LoopbackResult | { error: string };
  console.log(`\n[bench] loopback (${elapsed()})`);
  try {
    loopback = await runLoopback({ quick, log: (s) => console.log(s), ...(subjects ? { subjects } : {}), ...(clientSocket ? { clientSocket } : {}) });
  } catch (err) {
    console.error('[loopback] failed:', err);
    loopback = { error: (err as Error).message };
  }
  const lb = 'error' in loopback ? null : loopback;

  // Issue #19: findnode answers from a bootnode-sized table and known set vs a 16-per-bucket one.
  let scale: ScaleResult | { error: string };
  console.log(`\n[bench] bootnode at scale (${elapsed()})`);
  try {
    scale = await runScale({ quick, log: (s) => console.log(s) });
  } catch (err) {
    console.error('[scale] failed:', err);
    scale = { error: (err as Error).message };
  }
  const sc = 'error' in scale ? null : scale;

  const sb = buildScoreboard({
    suites,
    micro,
    loopback: lb,
    scale: sc,
    microForeign: suites.flatMap((s) =>
      Array.from({ length: repeats }, (_, i) => ({
        what: `micro ${s.name} (repeat ${i + 1})`,
        cores: all.find((r) => r.suite === s.name && r.repeat === i + 1)?.foreignCpuCores ?? null,
      })),
    ),
  });
  monitor.stop();
  const durationSec = (Date.now() - started) / 1000;
  const machine = {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    /** 1/5/15-minute load averages before and after the run (our own load included after). */
    loadavgStart: loadAtStart,
    loadavgEnd: os.loadavg(),
    /** CPU other processes used over the whole run (bench/interference.ts). */
    foreignCpu: monitor.overall(),
  };
  const command = `npm run bench${quick ? ' -- --quick' : ''}`;
  const header =
    `Results of \`${command}\` (${durationSec.toFixed(0)} s, ${repeats} repeat(s); ${machine.availableParallelism} vCPU ${machine.cpu ?? ''}, Node ${machine.node}). ` +
    `Each figure: median (min-max) over the repeats; ratios use the medians; same run for both libraries.`;

  console.log(`\n\n${header}\n`);
  console.log(renderText(sb));
  console.log('\nNotes:');
  for (const n of sb.notes) console.log(`- ${n}`);
  if (lb) console.log('\n' + loopbackSummary(lb));
  if (sc) console.log('\n' + scaleSummary(sc));

  // Quick runs go to results/quick (git-ignored): a smoke run must not replace the tracked figures.
  const dir = resultsDir(quick);
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    written.push(path.relative(process.cwd(), file));
  };

  // micro.json keeps its earlier shape (table[].ours/ethjs/ratioVsEthjs/others/target/meetsTarget, rows, loopback) and grows.
  const table = suites.map((s) => {
    const ours = micro.find((m) => m.suite === s.name && m.library === s.ours.name)!;
    const theirs = s.ethjs && micro.find((m) => m.suite === s.name && m.library === s.ethjs!.name);
    const others = (s.others ?? []).map((o) => micro.find((m) => m.suite === s.name && m.library === o.name)!);
    const target = MICRO_TARGETS[s.name];
    return {
      operation: s.name,
      ours: ours.ops.median,
      oursMin: ours.ops.min,
      oursMax: ours.ops.max,
      ethjs: theirs ? theirs.ops.median : null,
      ethjsMin: theirs ? theirs.ops.min : null,
      ethjsMax: theirs ? theirs.ops.max : null,
      ratioVsEthjs: theirs ? ours.ops.median / theirs.ops.median : null,
      others: others.map((o) => ({ library: o.library, opsPerSec: o.ops.median, oursOverThis: ours.ops.median / o.ops.median })),
      target: target ?? null,
      meetsTarget: target === undefined ? null : ours.ops.median >= target,
    };
  });
  const date = new Date().toISOString();
  const result = {
    date,
    quick,
    command,
    durationSec,
    repeats,
    machine,
    cryptoLimit: sb.cryptoLimit,
    ethjsCryptoLimit: sb.ethjsCryptoLimit,
    table,
    scoreboard: sb.rows,
    notes: sb.notes,
    rows: all,
    loopback,
    scale,
  };
  write('micro.json', JSON.stringify(result, null, 2) + '\n');
  if (lb) write('loopback.json', JSON.stringify({ date, ...lb }, null, 2) + '\n');
  if (sc) write('scale.json', JSON.stringify({ date, ...sc }, null, 2) + '\n');
  const chartName = 'loopback-chart.svg';
  if (lb) {
    const subtitle = [
      `${command}, ${date.slice(0, 10)}: ${machine.availableParallelism} vCPU ${machine.cpu ?? ''}, Node ${machine.node}`,
      `client and server share the machine; ${lb.repeats} run(s) of ${lb.sweepSec} s per point`,
    ];
    write(chartName, sweepChartSvg({ loopback: lb, cryptoLimit: sb.cryptoLimit?.median ?? null, subtitle }));
  }
  write(
    'scoreboard.md',
    [header, '', renderMarkdown(sb), '', ...sb.notes.map((n) => `- ${n}`), '', ...(lb ? [`![pongs/s received vs offered load](${chartName})`, ''] : [])].join('\n'),
  );
  console.log(`\nwrote ${written.join(', ')} in ${durationSec.toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
