/**
 * Runs the CLI from its TypeScript source in child processes
 * (process.execPath -r tsx/cjs src/cli/main.ts), so the tests need no
 * build. Every child is bounded in time and killed by `killAll()`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/vectors';

/** Absolute, so children can run in any directory. */
const TSX_CJS = require.resolve('tsx/cjs');
const MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliChild {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process ends (with its exit code and output). */
  exited: Promise<CliResult>;
}

const children = new Set<ChildProcess>();

/** The environment without DISCV4_* settings of whoever runs the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DISCV4_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

export function spawnCli(args: readonly string[], opts: { cwd: string; env?: Record<string, string> }): CliChild {
  const proc = spawn(process.execPath, ['-r', TSX_CJS, MAIN, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<CliResult>((resolve) => {
    proc.on('close', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Runs a command to its end (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult> {
  const c = spawnCli(args, opts);
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
  try {
    return await c.exited;
  } finally {
    clearTimeout(timer);
  }
}

export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Bootnode extends CliChild {
  id: string;
  enode: string;
  enr: string;
  port: number;
  metricsUrl?: string;
  /** The --http-addr API's base URL (ends in /). */
  httpUrl?: string;
}

/** Starts `discv4 [args]` on 127.0.0.1:0 and waits for its enode URL and ENR on stdout. */
export async function startBootnode(args: readonly string[], cwd: string, env?: Record<string, string>): Promise<Bootnode> {
  const c = spawnCli(['--addr', '127.0.0.1:0', ...args], { cwd, env });
  let ended: CliResult | undefined;
  void c.exited.then((r) => (ended = r));
  await until(() => ended !== undefined || /^\s*enr\s+enr:\S+$/m.test(c.stdout()), 10_000, 'the bootnode to print its ENR');
  if (ended !== undefined) throw new Error(`bootnode exited with ${ended.code}: ${ended.stderr}`);
  if (args.includes('--metrics-addr')) await until(() => /^\s*metrics\s+http:/m.test(c.stdout()), 5_000, 'the metrics URL');
  if (args.includes('--http-addr')) await until(() => /^\s*http\s+http:/m.test(c.stdout()), 5_000, 'the HTTP API URL');
  const out = c.stdout();
  const enode = /enode:\/\/[0-9a-f]{128}@\S+/.exec(out)![0];
  return {
    ...c,
    id: /^\s*id\s+([0-9a-f]{128})$/m.exec(out)![1],
    enode,
    enr: /^\s*enr\s+(enr:\S+)$/m.exec(out)![1],
    port: Number(/discport=(\d+)/.exec(enode)?.[1] ?? /:(\d+)$/.exec(enode)![1]),
    metricsUrl: /^\s*metrics\s+(http:\S+)$/m.exec(out)?.[1],
    httpUrl: /^\s*http\s+(http:\S+)$/m.exec(out)?.[1],
  };
}

/** Sends `signal` and waits for the exit (SIGKILL after `ms`). */
export async function stop(c: CliChild, signal: NodeJS.Signals = 'SIGTERM', ms = 8_000): Promise<CliResult & { ms: number }> {
  const t0 = Date.now();
  c.proc.kill(signal);
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), ms);
  const r = await c.exited;
  clearTimeout(timer);
  return { ...r, ms: Date.now() - t0 };
}

export function killAll(): void {
  for (const p of children) p.kill('SIGKILL');
  children.clear();
}

export function tempDir(prefix = 'discv4-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** GET over HTTP, as text. */
export async function httpGet(url: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

/** The value of one sample line in Prometheus text format, e.g. 'discv4_packets_in_total{type="ping"}'. */
export function sample(body: string, series: string): number | undefined {
  for (const line of body.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/**
 * A temp-dir maker for the calling suite: its dirs are removed, and every
 * CLI child killed, after each test.
 */
export function scratchDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    killAll();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
}
