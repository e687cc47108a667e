/**
 * The hostile-traffic soak: a bootnode (the real CLI, in its own process,
 * default limits) on 127.0.0.1 under a mixed hostile load from many
 * addresses in 127.0.0.0/8 (scripts/soak/attack.ts, another process), while
 * an honest peer on 127.0.0.250 keeps pinging it and asking findnode.
 *
 *   npx tsx scripts/soak/soak.ts [--seconds 600] [--keys 100000] [--scale 1]
 *
 * Reports the honest peer's success rate and latency, the node's RSS over
 * time, its CPU, drops by reason (from its /metrics), and the bytes it sent
 * attack sources without a bond against the bytes they sent (amplification).
 * Writes the report as JSON (default bench/results/soak.json). Loopback only;
 * every process is bounded in time.
 */
import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey } from '../../src/crypto';
import { bindNative } from '../../src/transport/native-socket';
import { Transport } from '../../src/transport/transport';
import type { AttackConfig, AttackReport } from './attack';

const ROOT = path.join(__dirname, '..', '..');
const TSX_CJS = require.resolve('tsx/cjs');

export interface SoakOptions {
  seconds: number;
  keys: number;
  /** Multiplies every attack rate (1 = the defaults below). */
  scale: number;
  log?: (line: string) => void;
}

/** Attack rates at scale 1, datagrams per second (about 13,000 in all). */
export const BASE_RATES: AttackConfig['rates'] = {
  garbage: 3000,
  pings: 4000,
  findnodeUnbonded: 1000,
  findnodeBonded: 1000,
  spoofedPongs: 1000,
  replay: 1000,
  flood: 2000,
};

interface Latencies {
  ok: number;
  total: number;
  ms: number[];
}

export interface SoakReport {
  seconds: number;
  offered: AttackReport['sent'];
  offeredPerSec: number;
  honest: {
    ping: { successRate: number; p50Ms: number; p99Ms: number; total: number };
    findnode: { successRate: number; p50Ms: number; p99Ms: number; total: number };
  };
  node: { rssMiB: number[]; rssStartMiB: number; rssEndMiB: number; rssMaxMiB: number; cpuCores: number; threads: number };
  drops: Record<string, number>;
  packetsIn: Record<string, number>;
  packetsOut: Record<string, number>;
  amplification: { attackBytesUnbonded: number; bytesToUnbondedSources: number; ratio: number };
  bondedFlooders: number;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** `{label: value}` of one labelled metric family. */
function family(body: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{${label}="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const m of body.matchAll(re)) out[m[1]] = Number(m[2]);
  return out;
}

function scalar(body: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return m === null ? 0 : Number(m[1]);
}

function procRssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

function procCpuSec(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function startNode(datadir: string, timeoutMs: number): Promise<{ proc: ChildProcess; id: string; port: number; metrics: string }> {
  const proc = spawn(
    process.execPath,
    ['-r', TSX_CJS, path.join(ROOT, 'src', 'cli', 'main.ts'), 'bootnode', '--addr', '127.0.0.1:0', '--datadir', datadir, '--metrics-addr', '127.0.0.1:0', '--status-interval', '0', '--verbosity', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr!.resume();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // enode://<id>@ip:<tcp>[?discport=<udp>]
    const enode = /enode:\/\/([0-9a-f]{128})@[^:\s]+:(\d+)(?:\?discport=(\d+))?/.exec(out);
    const metrics = /^\s*metrics\s+(http:\S+)$/m.exec(out);
    if (enode !== null && metrics !== null) return { proc, id: enode[1], port: Number(enode[3] ?? enode[2]), metrics: metrics[1] };
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the bootnode did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => undefined);
  const datadir = fs.mkdtempSync(path.join(os.tmpdir(), 'discv4-soak-'));
  const node = await startNode(datadir, 20_000);
  const hardStop = setTimeout(() => node.proc.kill('SIGKILL'), (opts.seconds + 60) * 1000);
  let attack: ChildProcess | undefined;
  let honest: Transport | undefined;
  try {
    log(`[soak] node ${node.id.slice(0, 16)}… on 127.0.0.1:${node.port}, metrics ${node.metrics}`);
    // The honest peer: its own address, bonded like any real node.
    const socket = await bindNative({ address: '127.0.0.250', threads: 1 });
    honest = new Transport({ privateKey: generatePrivateKey(), socket, respTimeoutMs: 1000 });
    const target = { id: Buffer.from(node.id, 'hex'), ip: '127.0.0.1', udpPort: node.port };
    await honest.ping(target);

    const rates = Object.fromEntries(Object.entries(BASE_RATES).map(([k, v]) => [k, Math.round(v * opts.scale)])) as AttackConfig['rates'];
    const cfg: AttackConfig = { port: node.port, nodeId: node.id, seconds: opts.seconds, keys: opts.keys, sources: 200, rates };
    attack = fork(path.join(__dirname, 'attack.ts'), [], { execArgv: ['-r', TSX_CJS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const attackDone = new Promise<AttackReport>((resolve, reject) => {
      attack!.once('message', (m) => resolve(m as AttackReport));
      attack!.once('exit', (code) => reject(new Error(`attacker exited with ${code}`)));
    });
    log(`[soak] generating ${opts.keys} keys and the attack datagrams…`);
    attack.send(cfg);

    const before = await get(node.metrics);
    const cpu0 = procCpuSec(node.proc.pid!);
    const t0 = Date.now();
    const rss: number[] = [procRssMiB(node.proc.pid!)];
    const pings: Latencies = { ok: 0, total: 0, ms: [] };
    const finds: Latencies = { ok: 0, total: 0, ms: [] };
    const timed = async (l: Latencies, f: () => Promise<unknown>) => {
      l.total++;
      const s = performance.now();
      try {
        await f();
        l.ok++;
        l.ms.push(performance.now() - s);
      } catch {
        /* counted as a failure */
      }
    };
    const end = t0 + opts.seconds * 1000;
    const sampler = setInterval(() => {
      rss.push(procRssMiB(node.proc.pid!));
      const sec = Math.round((Date.now() - t0) / 1000);
      if (sec % 10 === 0 || opts.seconds <= 60) {
        log(`[soak] ${sec}s: honest pings ${pings.ok}/${pings.total}, findnode ${finds.ok}/${finds.total}, node RSS ${rss[rss.length - 1].toFixed(0)} MiB`);
      }
    }, 2000);
    // findnode latency: until its first neighbors packet (the request
    // itself stays open for more until 16 nodes or the timeout).
    let findStart = -1;
    honest.on('neighbors', () => {
      if (findStart < 0) return;
      finds.ms.push(performance.now() - findStart);
      findStart = -1;
    });
    const honestLoop = async () => {
      let n = 0;
      while (Date.now() < end) {
        const p = timed(pings, () => honest!.ping(target));
        if (n++ % 5 === 0) {
          finds.total++;
          findStart = performance.now();
          try {
            // Answered (even with an empty list: the table may hold nobody yet).
            await honest!.findnode(target, randomBytes(64));
            finds.ok++;
          } catch {
            /* counted as a failure */
          }
          findStart = -1;
        }
        await p;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await honestLoop();
    clearInterval(sampler);
    const report = await attackDone;
    const elapsed = (Date.now() - t0) / 1000;
    const cpu = (procCpuSec(node.proc.pid!) - cpu0) / elapsed;
    const after = await get(node.metrics);
    const diff = (name: string, label: string) => {
      const a = family(after, name, label);
      const b = family(before, name, label);
      return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    };
    rss.push(procRssMiB(node.proc.pid!));
    const sent = Object.values(report.sent).reduce((a, b) => a + b, 0);
    return {
      seconds: opts.seconds,
      offered: report.sent,
      offeredPerSec: Math.round(sent / opts.seconds),
      honest: {
        ping: { successRate: pings.ok / Math.max(1, pings.total), p50Ms: pct(pings.ms, 50), p99Ms: pct(pings.ms, 99), total: pings.total },
        findnode: { successRate: finds.ok / Math.max(1, finds.total), p50Ms: pct(finds.ms, 50), p99Ms: pct(finds.ms, 99), total: finds.total },
      },
      node: {
        rssMiB: rss.map((x) => Math.round(x)),
        rssStartMiB: rss[0],
        rssEndMiB: rss[rss.length - 1],
        rssMaxMiB: Math.max(...rss),
        cpuCores: cpu,
        threads: scalar(after, 'discv4_crypto_threads'),
      },
      drops: diff('discv4_drops_total', 'reason'),
      packetsIn: diff('discv4_packets_in_total', 'type'),
      packetsOut: diff('discv4_packets_out_total', 'type'),
      amplification: {
        attackBytesUnbonded: report.bytesSentUnbonded,
        bytesToUnbondedSources: report.bytesReceived,
        ratio: report.bytesReceived / Math.max(1, report.bytesSentUnbonded),
      },
      bondedFlooders: report.bondedSources,
    };
  } finally {
    clearTimeout(hardStop);
    await honest?.close();
    attack?.kill('SIGKILL');
    node.proc.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        node.proc.kill('SIGKILL');
        resolve();
      }, 8000);
      node.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    fs.rmSync(datadir, { recursive: true, force: true });
  }
}

export function formatReport(r: SoakReport): string {
  const f = (x: number) => x.toFixed(1);
  return [
    `soak: ${r.seconds} s, ${r.offeredPerSec} hostile datagrams/s offered (${Object.entries(r.offered).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    `honest ping: ${(r.honest.ping.successRate * 100).toFixed(2)} % of ${r.honest.ping.total} answered, p50 ${f(r.honest.ping.p50Ms)} ms, p99 ${f(r.honest.ping.p99Ms)} ms`,
    `honest findnode: ${(r.honest.findnode.successRate * 100).toFixed(2)} % of ${r.honest.findnode.total} answered; first neighbors packet p50 ${f(r.honest.findnode.p50Ms)} ms, p99 ${f(r.honest.findnode.p99Ms)} ms`,
    `node: ${r.node.threads} crypto threads, CPU ${r.node.cpuCores.toFixed(2)} cores, RSS ${f(r.node.rssStartMiB)} -> ${f(r.node.rssEndMiB)} MiB (max ${f(r.node.rssMaxMiB)}); samples ${r.node.rssMiB.join(' ')}`,
    `drops: ${Object.entries(r.drops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `packets in: ${JSON.stringify(r.packetsIn)}; out: ${JSON.stringify(r.packetsOut)}`,
    `amplification: ${r.amplification.bytesToUnbondedSources} bytes to unbonded sources for ${r.amplification.attackBytesUnbonded} bytes from them (ratio ${r.amplification.ratio.toFixed(3)})`,
  ].join('\n');
}

if (require.main === module) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const outIdx = process.argv.indexOf('--out');
  const out = outIdx >= 0 ? process.argv[outIdx + 1] : path.join(ROOT, 'bench', 'results', 'soak.json');
  runSoak({ seconds: arg('seconds', 600), keys: arg('keys', 100_000), scale: arg('scale', 1), log: (s) => console.log(s) }).then(
    (r) => {
      console.log(formatReport(r));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine: { cpus: os.cpus().length, node: process.version }, ...r }, null, 2) + '\n');
      console.log(`wrote ${path.relative(process.cwd(), out)}`);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
