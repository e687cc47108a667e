/**
 * Time, injected. The pending-reply queue, the table and lookups take a
 * {@link Clock} so tests can drive deadlines with {@link FakeClock} instead of
 * sleeping (geth does the same with `mclock.Clock` / `mclock.Simulated`,
 * see p2p/discover/common.go `Config.Clock` and table_test.go).
 *
 * Deadlines are on a monotonic clock: a wall-clock jump must not expire or
 * strand requests. geth needs `errClockWarp` in v4_udp.go `loop` because its
 * deadlines are wall-clock `time.Time`s; `performance.now()` cannot go back.
 */
import { performance } from 'node:perf_hooks';

/** Whatever `setTimer` returns; opaque to callers apart from `unref`. */
export interface TimerHandle {
  unref?(): void;
}

export interface Clock {
  /** Monotonic milliseconds (performance.now() for the real clock). */
  now(): number;
  /** Runs `fn` once, `delayMs` from now. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer from this clock's setTimer; no-op if it already ran. */
  clearTimer(h: TimerHandle): void;
}

/**
 * Node clamps a delay above 2^31-1 ms (~24.8 days) to 1 ms (with a
 * TimeoutOverflowWarning), which would turn a far deadline into a busy
 * loop. Waking early is harmless to callers that re-check `now()` against
 * their deadline, as the pending queue does.
 */
const MAX_TIMER_DELAY_MS = 0x7fffffff;

/**
 * The real clock. Timers are `unref()`'d: a pending deadline alone must
 * never keep the process alive; the socket that will deliver the reply does.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const t = setTimeout(fn, Math.min(Math.max(delayMs, 0), MAX_TIMER_DELAY_MS));
    t.unref();
    return t;
  },
  clearTimer(h: TimerHandle): void {
    clearTimeout(h as NodeJS.Timeout);
  },
};

class FakeTimer implements TimerHandle {
  constructor(
    readonly fn: () => void,
    readonly dueMs: number,
    /** Creation order: timers due at the same instant run first-set, first-run, like Node's. */
    readonly seq: number,
  ) {}

  /** Nothing to do: fake timers never keep the process alive. */
  unref(): void {}
}

/**
 * A clock that moves only when told to. Used by the tests of every module
 * with deadlines (pending queue, table, lookup), hence in src, not test.
 * Time starts at `startMs` (default 0) and `advance(ms)` runs the timers that
 * come due on the way, in deadline order, each seeing `now()` equal to its
 * own due time, so code under test observes the same instants it would in
 * real time (minus the jitter).
 */
export class FakeClock implements Clock {
  /**
   * Guards `advance` against a callback that keeps re-arming a 0 ms timer:
   * under real time that spins one timer per event-loop turn, here it would
   * hang the test run instead of failing it.
   */
  static readonly MAX_TIMERS_PER_ADVANCE = 1_000_000;

  private nowMs: number;
  private nextSeq = 0;
  // A plain array scanned for the earliest timer: tests hold a handful of
  // timers at most (the pending queue keeps exactly one).
  private readonly timers: FakeTimer[] = [];

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const t = new FakeTimer(fn, this.nowMs + Math.max(delayMs, 0), this.nextSeq++);
    this.timers.push(t);
    return t;
  }

  clearTimer(h: TimerHandle): void {
    const i = this.timers.indexOf(h as FakeTimer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /**
   * Moves time forward by `ms`, running due timers in (due time, creation)
   * order. Timers set by those callbacks run too if they come due within the
   * window, as they would in real time.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    const targetMs = this.nowMs + ms;
    for (let runs = 0; ; runs++) {
      const i = this.earliestDue(targetMs);
      if (i < 0) break;
      if (runs >= FakeClock.MAX_TIMERS_PER_ADVANCE) {
        throw new Error(`FakeClock.advance: more than ${FakeClock.MAX_TIMERS_PER_ADVANCE} timers in one advance`);
      }
      const t = this.timers[i];
      this.timers.splice(i, 1);
      // max(): a callback may itself have advanced the clock past t.dueMs.
      if (t.dueMs > this.nowMs) this.nowMs = t.dueMs;
      t.fn();
    }
    if (targetMs > this.nowMs) this.nowMs = targetMs;
  }

  /** When the earliest pending timer comes due, or undefined with none pending. */
  nextDueMs(): number | undefined {
    const i = this.earliestDue(Infinity);
    return i < 0 ? undefined : this.timers[i].dueMs;
  }

  /** Timers set and neither run nor cleared. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Index of the earliest timer due at or before `limitMs`, or -1. */
  private earliestDue(limitMs: number): number {
    let best = -1;
    for (let i = 0; i < this.timers.length; i++) {
      const t = this.timers[i];
      if (t.dueMs > limitMs) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const b = this.timers[best];
      if (t.dueMs < b.dueMs || (t.dueMs === b.dueMs && t.seq < b.seq)) best = i;
    }
    return best;
  }
}
