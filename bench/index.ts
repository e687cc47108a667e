/**
 * `npm run bench` — the project's scoreboard.
 *
 *   npm run bench              full run (about 3 minutes)
 *   npm run bench -- --quick   smoke run (well under 60 s)
 *
 * Prints progress while it runs, then one table: ops/s of each library per
 * operation and our ratio to @ethereumjs/devp2p measured in the same run.
 * After the micro suites, the loopback end-to-end bench (bench/loopback:
 * pongs/s of a real node on 127.0.0.1, ours vs DPT) adds its rows.
 * Writes the same figures to bench/results/micro.json (micro-quick.json for
 * --quick), the loopback ones under `loopback`.
 */
import * as b from 'benny';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { microSuites, MicroSuite } from './micro';
import { LoopbackResult, loopbackSummary, loopbackTableRows, runLoopback } from './loopback';

interface Row {
  suite: string;
  library: string;
  opsPerSec: number;
  marginPct: number;
  samples: number;
}

const quick = process.argv.includes('--quick');
const caseOptions = quick ? { minSamples: 5, maxTime: 0.4 } : { minSamples: 10, maxTime: 3 };

/** Targets from the codec issue, on one core of the 2-vCPU reference machine. */
const TARGETS: Record<string, number> = {
  'open+decode ping': 14_000,
  'encode+seal pong': 20_000,
};

async function runSuite(s: MicroSuite): Promise<Row[]> {
  const cases = [s.ours, ...(s.ethjs ? [s.ethjs] : []), ...(s.others ?? [])];
  let rows: Row[] = [];
  await b.suite(
    s.name,
    ...cases.map((c) => b.add(c.name, c.fn, caseOptions)),
    b.cycle(),
    b.complete((summary) => {
      rows = summary.results.map((r) => ({
        suite: s.name,
        library: r.name,
        opsPerSec: r.ops,
        marginPct: r.margin,
        samples: r.samples,
      }));
    }),
  );
  return rows;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const started = Date.now();
  const suites = microSuites();
  const all: Row[] = [];
  for (const s of suites) all.push(...(await runSuite(s)));

  // The loopback end-to-end bench; a failure there must not lose the micro results.
  let loopback: LoopbackResult | { error: string };
  try {
    loopback = await runLoopback({ quick, log: (s) => console.log(s) });
  } catch (err) {
    console.error('[loopback] failed:', err);
    loopback = { error: (err as Error).message };
  }

  const table = suites.map((s) => {
    const ours = all.find((r) => r.suite === s.name && r.library === s.ours.name)!;
    const theirs = s.ethjs && all.find((r) => r.suite === s.name && r.library === s.ethjs!.name);
    const others = (s.others ?? []).map((o) => all.find((r) => r.suite === s.name && r.library === o.name)!);
    const target = TARGETS[s.name];
    return {
      operation: s.name,
      ours: ours.opsPerSec,
      ethjs: theirs ? theirs.opsPerSec : null,
      ratioVsEthjs: theirs ? ours.opsPerSec / theirs.opsPerSec : null,
      others: others.map((o) => ({ library: o.library, opsPerSec: o.opsPerSec, oursOverThis: ours.opsPerSec / o.opsPerSec })),
      target: target ?? null,
      meetsTarget: target === undefined ? null : ours.opsPerSec >= target,
    };
  });

  console.log('\n\nResults (ops/s, higher is better; ratio = ours / @ethereumjs/devp2p, same run)\n');
  const head = ['operation', 'discv4-native', '@ethereumjs/devp2p', 'ratio', 'other baselines (ours/them)'];
  const lines = table.map((t) => [
    t.operation,
    fmt(t.ours) + (t.target ? (t.meetsTarget ? ` (target ${fmt(t.target)}: met)` : ` (target ${fmt(t.target)}: MISSED)`) : ''),
    t.ethjs === null ? '-' : fmt(t.ethjs),
    t.ratioVsEthjs === null ? '-' : `${t.ratioVsEthjs.toFixed(1)}x`,
    t.others.map((o) => `${o.library} ${fmt(o.opsPerSec)} (${o.oursOverThis.toFixed(2)}x)`).join('; '),
  ]);
  if (!('error' in loopback)) lines.push(...loopbackTableRows(loopback));
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  console.log(row(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const l of lines) console.log(row(l));
  if (!('error' in loopback)) console.log('\n' + loopbackSummary(loopback));

  const result = {
    date: new Date().toISOString(),
    quick,
    durationSec: (Date.now() - started) / 1000,
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    table,
    rows: all,
    loopback,
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, quick ? 'micro-quick.json' : 'micro.json');
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), file)} in ${result.durationSec.toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
