/**
 * How much CPU other processes took while the bench ran. The reference
 * machine has 2 vCPUs and the loopback bench already runs a client and a
 * server on them: anything else running (a test suite, a compiler) makes
 * the figures low, and that is worth saying next to them.
 *
 * Every SAMPLE_MS: machine-wide busy time from /proc/stat minus the CPU
 * time of the bench's own processes (/proc/<pid>/stat of this process and
 * its live children, all threads included) = CPU used by others. Linux
 * only; elsewhere every figure is null.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const SAMPLE_MS = 500;
/** Samples kept (at SAMPLE_MS: about 40 minutes). */
const MAX_SAMPLES = 5000;

interface Sample {
  /** performance.now() at the end of the sample. */
  t: number;
  /** Cores used by other processes over the sample. */
  foreign: number;
}

/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** utime + stime of a process (all its threads), jiffies; 0 when it is gone. */
function processTicks(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

export interface ForeignCpu {
  /** Mean and largest 0.5 s sample of the cores other processes used. */
  meanCores: number;
  maxCores: number;
  samples: number;
}

export class InterferenceMonitor {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { busy: number; total: number; ours: Map<number, number> } | null = null;
  readonly available: boolean;
  /** /proc/stat's first line sums all CPUs: busy/total is a fraction of all of them. */
  private readonly cores: number;

  /** `pids`: the bench's processes right now (this one and its children). */
  constructor(private readonly pids: () => number[]) {
    this.available = machineTicks() !== null;
    this.cores = this.available ? machineCores() : 1;
  }

  start(): void {
    if (!this.available || this.timer !== undefined) return;
    this.last = this.snapshot();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private snapshot(): { busy: number; total: number; ours: Map<number, number> } | null {
    const m = machineTicks();
    if (m === null) return null;
    const ours = new Map<number, number>();
    for (const pid of this.pids()) ours.set(pid, processTicks(pid));
    return { ...m, ours };
  }

  private sample(): void {
    const now = this.snapshot();
    const prev = this.last;
    this.last = now;
    if (now === null || prev === null || now.total <= prev.total) return;
    let ours = 0;
    for (const [pid, ticks] of now.ours) {
      // A child born during the sample counts from zero; one that died is not in `now`.
      ours += ticks - (prev.ours.get(pid) ?? 0);
    }
    const cores = this.cores;
    const busy = ((now.busy - prev.busy) / (now.total - prev.total)) * cores;
    const ourCores = (ours / (now.total - prev.total)) * cores;
    this.samples.push({ t: performance.now(), foreign: Math.max(0, busy - ourCores) });
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
  }

  /** Other processes' CPU over [t0, t1] (performance.now() times); null when nothing was sampled then. */
  between(t0: number, t1: number): ForeignCpu | null {
    // A sample covers the SAMPLE_MS before its time stamp.
    const xs = this.samples.filter((s) => s.t > t0 && s.t - SAMPLE_MS < t1).map((s) => s.foreign);
    if (xs.length === 0) return null;
    return { meanCores: xs.reduce((a, b) => a + b, 0) / xs.length, maxCores: Math.max(...xs), samples: xs.length };
  }

  /** The whole run so far. */
  overall(): ForeignCpu | null {
    return this.between(-Infinity, Infinity);
  }
}

function machineCores(): number {
  try {
    return fs.readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length || 1;
  } catch {
    return 1;
  }
}

let monitor: InterferenceMonitor | undefined;

/** The process-wide monitor (started by whoever runs the bench). */
export function interference(): InterferenceMonitor | undefined {
  return monitor;
}

export function startInterferenceMonitor(pids: () => number[]): InterferenceMonitor {
  monitor ??= new InterferenceMonitor(pids);
  monitor.start();
  return monitor;
}
