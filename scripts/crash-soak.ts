/**
 * The crash soak: test/db/crash.test.ts for many rounds. A CLI bootnode on
 * 127.0.0.1 takes a steady stream of new nodes into its table and node DB
 * (test/db/fixtures/join-load.ts) and is SIGKILLed at random moments, then
 * restarted on the same datadir, round after round. Every restart must
 * open the DB, keep the key (same id), print an ENR whose seq is not below
 * the last one, and keep every node it had committed; at the end the node
 * must answer a ping and stop cleanly.
 *
 *   npx tsx scripts/crash-soak.ts [--rounds 20] [--rate 300] [--startup-kills 4] [--keep]
 *
 * --rate: joins per second offered (each one a DB write); --startup-kills:
 * how many of the rounds kill the node at a random moment of its start
 * (DB probe, open, seq write) instead of under load; --keep: leave the
 * datadir. Prints one line per round and a summary; exits 1 if any round
 * failed. Loopback only; every wait is bounded (at most ~25 s per round,
 * --max-seconds in all).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeEnr } from '../src/enr';
import { Bootnode, CliResult, killAll, runCli, spawnCli, startBootnode, stop, tempDir } from '../test/cli/helpers';
import { bootnodeArgs, dbGauges, dbNodesAtStart, enrSeq, sha256File, waitForDbWrites } from '../test/db/fixtures/crash-helpers';
import { JoinLoad } from '../test/db/fixtures/join-load';

export interface CrashSoakOptions {
  rounds: number;
  joinsPerSec: number;
  startupKills: number;
  maxSeconds: number;
  keep: boolean;
  log: (line: string) => void;
}

interface Round {
  round: number;
  kind: 'load' | 'startup';
  /** load: ms after the node showed the wanted writes; startup: ms after spawn. */
  killAfterMs: number;
  /** discv4_db_nodes / pending writes just before the kill (load rounds). */
  nodesAtKill?: number;
  pendingAtKill?: number;
  /** startup rounds: whether the node had printed its ENR before it died. */
  startedBeforeKill?: boolean;
  restartMs: number;
  seq: bigint;
  dbNodes: number;
  error?: string;
}

export interface CrashSoakSummary {
  rounds: number;
  failures: string[];
  loadKills: number;
  startupKills: number;
  idStable: boolean;
  seqFirst: bigint;
  seqLast: bigint;
  seqRises: number;
  dbNodesFirst: number;
  dbNodesLast: number;
  /** Per load kill: DB nodes seen by the metrics just before it, minus those found at the restart (queued writes lost, roughly). */
  lostPerKill: { min: number; median: number; max: number };
  restartMs: { median: number; max: number };
  joins: number;
  joinTimeouts: number;
  dbFileBytes: number;
  finalPing: string;
  cleanStop: boolean;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function randomInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** Rounds (1-based) that kill during startup: spread over the run, never the first. */
function startupRounds(rounds: number, count: number): Set<number> {
  const out = new Set<number>();
  const n = Math.min(count, Math.max(0, rounds - 1));
  for (let i = 1; i <= n; i++) out.add(1 + Math.round((i * (rounds - 1)) / (n + 1)));
  return out;
}

export async function crashSoak(o: CrashSoakOptions): Promise<CrashSoakSummary> {
  const t0 = Date.now();
  const deadline = t0 + o.maxSeconds * 1000;
  const cwd = tempDir('discv4-crash-soak-');
  const args = bootnodeArgs('data');
  const keyFile = path.join(cwd, 'data', 'nodekey');
  const dataFile = path.join(cwd, 'data', 'nodes', 'nodes.mdb');
  const failures: string[] = [];
  const rounds: Round[] = [];
  const early = startupRounds(o.rounds, o.startupKills);
  let load: JoinLoad | undefined;
  let node: Bootnode | undefined;
  try {
    let lastStartMs = Date.now();
    node = await startBootnode(args, cwd);
    lastStartMs = Date.now() - lastStartMs;
    const id = node.id;
    const keyHash = sha256File(keyFile);
    const seqFirst = enrSeq(node);
    let seq = seqFirst;
    const dbNodesFirst = await dbNodesAtStart(node);
    let committed = dbNodesFirst;
    let idStable = true;
    let seqRises = 0;
    load = JoinLoad.start(node.port, { joinsPerSec: o.joinsPerSec });
    o.log(`datadir ${cwd}; node ${id.slice(0, 16)}, seq ${seq}; ${o.rounds} rounds, ${early.size} killing at startup, ${o.joinsPerSec} joins/s offered`);

    for (let r = 1; r <= o.rounds && Date.now() < deadline; r++) {
      const round: Round = { round: r, kind: early.has(r) ? 'startup' : 'load', killAfterMs: 0, restartMs: 0, seq: 0n, dbNodes: 0 };
      rounds.push(round);
      try {
        if (round.kind === 'load') {
          const g = await waitForDbWrites(node, committed, randomInt(20, 200), 15_000);
          round.killAfterMs = randomInt(0, 500);
          await sleep(round.killAfterMs);
          // The reading closest to the kill (one HTTP round trip before it).
          const last = await dbGauges(node).catch(() => g);
          round.nodesAtKill = last.nodes;
          round.pendingAtKill = last.pending;
          const dead = await stop(node, 'SIGKILL');
          if (dead.signal !== 'SIGKILL') throw new Error(`the node exited on its own before the kill (${dead.code}): ${dead.stderr.trim().split('\n').pop()}`);
        } else {
          // Kill a start somewhere in its DB probe, open, seq write or first packets.
          await stop(node, 'SIGKILL');
          const c = spawnCli(['--addr', '127.0.0.1:0', ...args], { cwd });
          // Most land before the ENR is printed: up to 1.2 x the last start's time.
          round.killAfterMs = randomInt(0, Math.round(1.2 * lastStartMs));
          let ended: CliResult | undefined;
          void c.exited.then((x) => (ended = x));
          await sleep(round.killAfterMs);
          if (ended !== undefined) throw new Error(`a start exited with ${ended.code} before the kill: ${ended.stderr.trim().split('\n').pop()}`);
          const enr = /^\s*enr\s+(enr:\S+)$/m.exec(c.stdout())?.[1];
          round.startedBeforeKill = enr !== undefined;
          await stop(c, 'SIGKILL');
          // A start that printed its record has made that seq durable (LocalRecord persists before signing).
          if (enr !== undefined) {
            const s = decodeEnr(enr).seq;
            if (s < seq) throw new Error(`the killed start printed seq ${s}, below ${seq}`);
            seq = s;
          }
        }
        const started = Date.now();
        node = await startBootnode(args, cwd);
        round.restartMs = Date.now() - started;
        lastStartMs = round.restartMs;
        round.seq = enrSeq(node);
        round.dbNodes = await dbNodesAtStart(node);
        load.retarget(node.port);
        if (node.id !== id) {
          idStable = false;
          throw new Error(`the node id changed to ${node.id.slice(0, 16)}`);
        }
        if (round.seq < seq) throw new Error(`ENR seq went back from ${seq} to ${round.seq}`);
        if (round.seq > seq) seqRises++;
        if (round.dbNodes < committed) throw new Error(`DB nodes went back from ${committed} to ${round.dbNodes}`);
        seq = round.seq;
        committed = round.dbNodes;
      } catch (err) {
        round.error = (err as Error).message;
        failures.push(`round ${r}: ${round.error}`);
        // Carry on from a fresh start if the node is down; stop if it cannot start.
        if (node.proc.exitCode !== null || node.proc.signalCode !== null) {
          try {
            node = await startBootnode(args, cwd);
            load.retarget(node.port);
          } catch (e) {
            failures.push(`round ${r}: cannot restart: ${(e as Error).message}`);
            break;
          }
        }
      }
      const what =
        round.kind === 'load'
          ? `killed ${round.killAfterMs} ms into load at ${round.nodesAtKill} DB nodes (${round.pendingAtKill} pending)`
          : `killed ${round.killAfterMs} ms into a start (${round.startedBeforeKill ? 'after' : 'before'} it printed its ENR)`;
      o.log(`round ${String(r).padStart(2)}: ${what}; restart ${round.restartMs} ms: seq ${round.seq}, ${round.dbNodes} DB nodes${round.error ? `; FAILED: ${round.error}` : ''}`);
    }

    const loadStats = { ...load.stats };
    await load.stop();
    load = undefined;
    const ping = await runCli(['ping', node.enode, '--addr', '127.0.0.1:0'], { cwd });
    const finalPing = ping.code === 0 ? ping.stdout.trim() : `exit ${ping.code}: ${ping.stderr.trim().split('\n').pop()}`;
    if (ping.code !== 0) failures.push(`final ping: ${finalPing}`);
    else if (!ping.stdout.includes(`enr-seq ${seq},`)) failures.push(`final ping: enr-seq is not ${seq}: ${finalPing}`);
    const bye = await stop(node, 'SIGTERM');
    if (bye.code !== 0) failures.push(`clean stop: exit ${bye.code} (${bye.signal ?? ''}): ${bye.stderr.trim().split('\n').pop()}`);
    if (sha256File(keyFile) !== keyHash) failures.push('the key file changed');
    const ok = rounds.filter((x) => x.error === undefined);
    const lost = ok.filter((x) => x.kind === 'load').map((x) => (x.nodesAtKill ?? 0) - x.dbNodes);
    return {
      rounds: rounds.length,
      failures,
      loadKills: rounds.filter((x) => x.kind === 'load').length,
      startupKills: rounds.filter((x) => x.kind === 'startup').length,
      idStable,
      seqFirst,
      seqLast: seq,
      seqRises,
      dbNodesFirst,
      dbNodesLast: committed,
      lostPerKill: lost.length > 0 ? { min: Math.min(...lost), median: median(lost), max: Math.max(...lost) } : { min: NaN, median: NaN, max: NaN },
      restartMs: { median: median(ok.map((x) => x.restartMs)), max: ok.length > 0 ? Math.max(...ok.map((x) => x.restartMs)) : NaN },
      joins: loadStats.joins,
      joinTimeouts: loadStats.timeouts,
      dbFileBytes: fs.statSync(dataFile).size,
      finalPing,
      cleanStop: bye.code === 0,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    await load?.stop();
    killAll();
    if (!o.keep) fs.rmSync(cwd, { recursive: true, force: true });
  }
}

function parseArgs(argv: readonly string[]): CrashSoakOptions {
  const o: CrashSoakOptions = { rounds: 20, joinsPerSec: 300, startupKills: 4, maxSeconds: 900, keep: false, log: (l) => console.log(l) };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} needs an integer from ${min} to ${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rounds') o.rounds = num(a, argv[++i], 1, 10_000);
    else if (a === '--rate') o.joinsPerSec = num(a, argv[++i], 1, 5_000);
    else if (a === '--startup-kills') o.startupKills = num(a, argv[++i], 0, 10_000);
    else if (a === '--max-seconds') o.maxSeconds = num(a, argv[++i], 10, 86_400);
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown argument ${a}; usage: crash-soak.ts [--rounds 20] [--rate 300] [--startup-kills 4] [--max-seconds 900] [--keep]`);
  }
  return o;
}

function printSummary(s: CrashSoakSummary, log: (line: string) => void): void {
  log('');
  log(`crash soak: ${s.rounds} rounds in ${s.seconds} s: ${s.loadKills} SIGKILLs under write load, ${s.startupKills} during a start`);
  log(`  result       ${s.failures.length === 0 ? 'PASS' : `FAIL (${s.failures.length})`}`);
  for (const f of s.failures) log(`    ${f}`);
  log(`  node id      ${s.idStable ? 'the same at every restart' : 'CHANGED'}`);
  const back = (what: RegExp) => (s.failures.some((f) => what.test(f)) ? 'WENT BACK (see above)' : 'never back');
  log(`  ENR seq      ${s.seqFirst} -> ${s.seqLast}, ${back(/seq/)}; rose at ${s.seqRises} of ${s.rounds} restarts (a new port is new content)`);
  log(`  DB nodes     ${s.dbNodesFirst} -> ${s.dbNodesLast} committed, ${back(/DB nodes/)}; queued writes lost per kill ~${s.lostPerKill.median} (min ${s.lostPerKill.min}, max ${s.lostPerKill.max})`);
  log(`  load         ${s.joins} nodes joined (each a DB write), ${s.joinTimeouts} joins timed out (node down)`);
  log(`  restart      median ${s.restartMs.median} ms, max ${s.restartMs.max} ms (spawn to ENR printed, DB probe included)`);
  log(`  DB file      ${(s.dbFileBytes / 1024).toFixed(0)} KiB`);
  log(`  final ping   ${s.finalPing}`);
  log(`  clean stop   ${s.cleanStop ? 'exit 0 on SIGTERM' : 'FAILED'}`);
}

if (require.main === module) {
  let opts: CrashSoakOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  crashSoak(opts).then(
    (s) => {
      printSummary(s, opts.log);
      process.exit(s.failures.length === 0 ? 0 : 1);
    },
    (err: unknown) => {
      console.error(`crash soak failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
