/**
 * The last hour of traffic for the dashboard's charts: a bounded ring of
 * cumulative transport counters sampled every `intervalMs` (default 5 s,
 * 720 samples). Rates are differences between neighbouring samples; the
 * series ends with a live point (latest sample -> now, when at least a
 * second apart), so a fresh node shows numbers within a second.
 */
import type { TransportStats } from '../../transport/transport';

export const HISTORY_INTERVAL_MS = 5_000;
export const HISTORY_SAMPLES = 720;

interface Sample {
  /** Wall-clock ms. */
  t: number;
  in: number;
  out: number;
  drops: Record<string, number>;
}

export interface HistorySeries {
  intervalMs: number;
  /** End of each interval (wall-clock ms). */
  t: number[];
  /** Packets per second over each interval. */
  inPerSec: number[];
  outPerSec: number[];
  /** Dropped datagrams per second, by reason (only reasons seen in the window). */
  dropsPerSec: Record<string, number[]>;
}

const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

export class History {
  private readonly ring: Sample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly read: () => TransportStats,
    readonly intervalMs = HISTORY_INTERVAL_MS,
    readonly size = HISTORY_SAMPLES,
    private readonly now: () => number = Date.now,
  ) {}

  private snapshot(): Sample {
    const s = this.read();
    return { t: this.now(), in: total(s.packetsIn), out: total(s.packetsOut), drops: { ...s.drops } };
  }

  sample(): void {
    this.ring.push(this.snapshot());
    if (this.ring.length > this.size) this.ring.shift();
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  series(): HistorySeries {
    // The live point, once at least a second has passed since the last sample (a shorter interval gives noisy rates).
    const live = this.snapshot();
    const last = this.ring[this.ring.length - 1];
    const pts = last === undefined || live.t - last.t >= 1000 ? [...this.ring, live] : [...this.ring];
    const out: HistorySeries = { intervalMs: this.intervalMs, t: [], inPerSec: [], outPerSec: [], dropsPerSec: {} };
    const reasons = new Set<string>();
    for (let i = 1; i < pts.length; i++) {
      for (const [r, n] of Object.entries(pts[i].drops)) if (n - (pts[i - 1].drops[r] ?? 0) > 0) reasons.add(r);
    }
    for (const r of reasons) out.dropsPerSec[r] = [];
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1];
      const b = pts[i];
      const sec = (b.t - a.t) / 1000;
      if (!(sec > 0)) continue;
      const rate = (x: number, y: number) => Math.round((Math.max(0, y - x) / sec) * 100) / 100;
      out.t.push(b.t);
      out.inPerSec.push(rate(a.in, b.in));
      out.outPerSec.push(rate(a.out, b.out));
      for (const r of reasons) out.dropsPerSec[r].push(rate(a.drops[r] ?? 0, b.drops[r] ?? 0));
    }
    return out;
  }
}
