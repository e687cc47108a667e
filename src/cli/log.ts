/**
 * Structured logs for operators: pino, one line per event, on stderr (stdout
 * carries the command's own output: the enode URL, records, crawl JSON).
 *
 * - `json`: pino's NDJSON with an ISO time and the level as a word, for
 *   journald, Loki, Elasticsearch...
 * - `pretty`: geth's console layout, `INFO [11-24|08:30:01.123] msg  k=v`,
 *   formatted here from pino's JSON (no pino-pretty, no worker thread).
 *
 * Verbosity is geth's: 0 silent, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
 *
 * Anything a peer can trigger goes through a {@link LogLimiter}: per event
 * key at most `burst` lines per window, then one line with the count of
 * what was suppressed, so a packet flood cannot flood the log.
 */
import { pino } from 'pino';
import type { Level, Logger } from 'pino';
import type { LogFormat } from './flags';

export type { Logger, Level };

const LEVEL_BY_VERBOSITY = ['silent', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export function levelOf(verbosity: number): (typeof LEVEL_BY_VERBOSITY)[number] {
  return LEVEL_BY_VERBOSITY[Math.max(0, Math.min(5, verbosity))];
}

const LABELS: Record<string, string> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR', fatal: 'FATAL' };
const COLORS: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };
const MSG_WIDTH = 40;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
    return JSON.stringify((v as { message: string }).message); // a serialized error: its message
  }
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** One pino JSON line in geth's console layout. */
export function prettyLine(json: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = String(o.level);
  const d = new Date(typeof o.time === 'string' || typeof o.time === 'number' ? o.time : Date.now());
  const ms = String(d.getMilliseconds()).padStart(3, '0');
  const stamp = `[${two(d.getMonth() + 1)}-${two(d.getDate())}|${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${ms}]`;
  let label = LABELS[level] ?? level.toUpperCase();
  if (color) label = `\x1b[${COLORS[level] ?? '0'}m${label}\x1b[0m`;
  const msg = String(o.msg ?? '');
  const fields: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (k === 'level' || k === 'time' || k === 'msg' || v === undefined) continue;
    fields.push(`${k}=${valueText(v)}`);
  }
  const head = `${label} ${stamp} ${msg}`;
  return fields.length === 0 ? `${head}\n` : `${head.padEnd(MSG_WIDTH + label.length + stamp.length + 2)} ${fields.join(' ')}\n`;
}

export interface LoggerOptions {
  verbosity: number;
  /** undefined: pretty when `isTTY`, else json. */
  format?: LogFormat;
  /** Where lines go (default: process.stderr, synchronous for files and pipes on Linux). */
  write?: (line: string) => void;
  isTTY?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const isTTY = opts.isTTY ?? process.stderr.isTTY === true;
  const write = opts.write ?? ((s: string) => void process.stderr.write(s));
  const format = opts.format ?? (isTTY ? 'pretty' : 'json');
  const color = format === 'pretty' && isTTY && process.env.NO_COLOR === undefined;
  const dest = format === 'pretty' ? { write: (s: string) => write(prettyLine(s, color)) } : { write };
  return pino(
    {
      level: levelOf(opts.verbosity),
      base: undefined, // no pid/hostname on every line: journald and containers add their own
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

export interface LimiterOptions {
  /** Lines per key per window before suppressing. Default 5. */
  burst?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** Distinct keys tracked; beyond it events share one key. Default 256. */
  maxKeys?: number;
  now?: () => number;
}

const OVERFLOW_KEY = '_overflow';

interface KeyState {
  windowStart: number;
  count: number;
  suppressed: number;
  level: Level;
  msg: string;
}

export class LogLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    opts: LimiterOptions = {},
  ) {
    this.burst = opts.burst ?? 5;
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxKeys = opts.maxKeys ?? 256;
    this.now = opts.now ?? Date.now;
  }

  /** Logs `msg` unless `key` has used up its lines in this window (then counts it). */
  event(key: string, level: Level, fields: Record<string, unknown>, msg: string): void {
    if (!this.log.isLevelEnabled(level)) return;
    const now = this.now();
    let s = this.keys.get(key);
    if (s !== undefined && now - s.windowStart >= this.windowMs) {
      this.report(key, s);
      this.keys.delete(key);
      s = undefined;
    }
    if (s === undefined) {
      // Past the bound, new keys share one (which may exceed it by that one key).
      if (this.keys.size >= this.maxKeys && key !== OVERFLOW_KEY) return this.event(OVERFLOW_KEY, level, {}, 'log events of many kinds');
      s = { windowStart: now, count: 0, suppressed: 0, level, msg };
      this.keys.set(key, s);
    }
    if (s.count < this.burst) {
      s.count++;
      this.log[level]({ event: key, ...fields }, msg);
    } else s.suppressed++;
  }

  /** Reports the suppressed counts of finished windows (all windows when `all`). */
  flush(all = false): void {
    const now = this.now();
    for (const [key, s] of this.keys) {
      if (all || now - s.windowStart >= this.windowMs) {
        this.report(key, s);
        this.keys.delete(key);
      }
    }
  }

  /** Flushes every window's end from a timer (unref'd: it never keeps the process alive). */
  start(): void {
    this.timer ??= setInterval(() => this.flush(), Math.min(this.windowMs, 10_000));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.flush(true);
  }

  private report(key: string, s: KeyState): void {
    if (s.suppressed === 0) return;
    const sec = Math.round(Math.max(this.windowMs, this.now() - s.windowStart) / 1000);
    this.log[s.level]({ event: key, suppressed: s.suppressed }, `${s.msg} (${s.suppressed} more like this suppressed in ${sec} s)`);
  }
}
