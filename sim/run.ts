/**
 * `npm run sim` — the N-node in-process simulation (src/sim/simulation.ts).
 *
 *   npm run sim                               100,000 nodes, 200 lookups (about 2 minutes, 8 GiB)
 *   npm run sim -- --nodes 10000              10,000 nodes (about 15 s)
 *   npm run sim -- --quick                    1,000 nodes, 30 lookups (well under 30 s)
 *   npm run sim -- --nodes 5000 --lookups 100 --seed 7 --out bench/results/sim-5k.json
 *   npm run sim -- --self-lookups 50          more lookups of the searching node's own id
 *   npm run sim -- --loss 0.05 --latency 5    lossy, slow network
 *
 * Prints progress and a summary; writes everything (per-lookup records
 * included) to bench/results/sim.json (bench/results/quick/sim.json, git-ignored, with --quick).
 * The npm script runs node with --expose-gc so memory is measured after
 * full collections, and with --max-old-space-size=20480: 100,000 nodes
 * hold about 7 GiB of JS heap, past V8's default limit (about 4 GiB).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { LookupSummary, runSimulation, SimulationResult } from '../src/sim/simulation';
import { resultsDir } from '../bench/results-dir';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    nodes: { type: 'string' },
    lookups: { type: 'string' },
    'self-lookups': { type: 'string' },
    seed: { type: 'string' },
    loss: { type: 'string' },
    latency: { type: 'string' },
    out: { type: 'string' },
  },
});

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) {
    console.error(`--${name}: not a number: ${v}`);
    process.exit(2);
  }
  return n;
};

const quick = values.quick === true;
const nodes = num(values.nodes, 'nodes') ?? (quick ? 1_000 : 100_000);
const out = values.out ?? path.relative(process.cwd(), path.join(resultsDir(quick), 'sim.json'));

function lookupLines(title: string, L: LookupSummary): string[] {
  const f = (x: number, d = 1) => x.toFixed(d);
  if (L.count === 0) return [];
  return [
    `  ${title}: ${L.count}`,
    `    success (exact true 16 closest): ${L.successes}/${L.count} = ${f(L.successRate * 100)} %` +
      (L.failureOverlaps.length > 0 ? `; the failures found ${L.failureOverlaps.join(', ')} of 16` : ''),
    `    hops:                 mean ${f(L.hops.mean, 2)}, median ${L.hops.median}, p95 ${L.hops.p95}, max ${L.hops.max}`,
    `    datagrams per lookup: mean ${f(L.messages.mean)}, median ${L.messages.median}, p95 ${L.messages.p95}, max ${L.messages.max}`,
    `      by type (mean):     ${Object.entries(L.messagesByType).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${f(v)}`).join(', ')}`,
    `    findnode queries:     mean ${f(L.queries.mean)}, median ${L.queries.median}, p95 ${L.queries.p95} (${L.failedQueries} failed)`,
    `    wall time:            mean ${f(L.ms.mean)} ms, median ${f(L.ms.median)} ms, p95 ${f(L.ms.p95)} ms; ${L.timeouts} request timeouts`,
  ];
}

function printSummary(r: SimulationResult): void {
  const f = (x: number, d = 1) => x.toFixed(d);
  const c = r.config;
  const lines = [
    '',
    `discv4 simulation: ${c.nodes} nodes (seed ${c.seed}, loss ${c.lossRate}, latency ${c.latencyMs} ms)`,
    ...lookupLines('lookups (random targets)', r.lookups),
    ...lookupLines('self lookups (target = own id)', r.selfLookups),
    `  table per node:         ${f(r.setup.tableEntries.mean)} entries + ${f(r.setup.replacements.mean)} replacements`,
    `  memory per node:        ${f(r.memory.perNodeKiB)} KiB (transport ${f(r.memory.transportPerNodeKiB)} + table ${f(r.memory.tablePerNodeKiB)}; ` +
      `${f(r.memory.afterLookupsPerNodeKiB)} after lookups; JS heap ${f(r.memory.heapPerNodeKiB)})${r.memory.gcExposed ? '' : ' [no --expose-gc: approximate]'}`,
    `  process:                peak RSS ${f(r.memory.peakRss / 2 ** 30, 2)} GiB, heap ${f(r.memory.heapUsed / 2 ** 30, 2)} GiB after setup ` +
      `(limit ${f(r.memory.heapLimit / 2 ** 30)} GiB)`,
    `  protocol:               ${r.protocol.timeouts} timeouts, drops ${JSON.stringify(Object.fromEntries(Object.entries(r.protocol.drops).filter(([, v]) => v > 0)))}, ` +
      `${r.protocol.networkDropped} network drops, ${r.protocol.handlerErrors} handler errors`,
    `  time:                   setup ${f(r.setup.ms / 1000)} s (keys ${f(r.setup.keysMs / 1000)}, transports ${f(r.setup.transportsMs / 1000)}, ` +
      `premine ${f(r.setup.premineMs / 1000)}), lookups ${f((r.lookups.totalMs + r.selfLookups.totalMs) / 1000)} s, total ${f(r.totalMs / 1000)} s`,
    `  written to ${out}`,
  ];
  console.log(lines.join('\n'));
}

/**
 * JS heap per node at 100,000 nodes (bench/results/sim.json: 70 KiB) with
 * room for the collector: a run expected to pass the heap limit is told so
 * before it spends minutes building, not killed by V8 at the end.
 */
const HEAP_PER_NODE_ESTIMATE = 80 * 1024;

async function main(): Promise<void> {
  const limit = getHeapStatistics().heap_size_limit;
  if (nodes * HEAP_PER_NODE_ESTIMATE > limit) {
    console.warn(
      `warning: ${nodes} nodes need about ${((nodes * HEAP_PER_NODE_ESTIMATE) / 2 ** 30).toFixed(1)} GiB of JS heap, ` +
        `the limit is ${(limit / 2 ** 30).toFixed(1)} GiB: run through \`npm run sim\` or raise node's --max-old-space-size`,
    );
  }
  const result = await runSimulation({
    nodes,
    lookups: num(values.lookups, 'lookups') ?? (quick ? 30 : 200),
    selfLookups: num(values['self-lookups'], 'self-lookups') ?? (quick ? 3 : 20),
    seed: num(values.seed, 'seed'),
    lossRate: num(values.loss, 'loss'),
    latencyMs: num(values.latency, 'latency'),
    log: (line) => console.log(line),
  });
  const cpus = os.cpus();
  const report = {
    date: new Date().toISOString(),
    quick,
    command: `npm run sim --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`,
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    ...result,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  printSummary(result);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
