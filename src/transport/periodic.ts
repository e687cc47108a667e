/**
 * A task run every `intervalMs` on an injected Clock. The Clock has one-shot
 * timers only, so each run arms the next one after the task returns: one
 * timer at a time, never a backlog behind a slow task. Timers are unref()'d:
 * a periodic chore alone must not keep the process alive.
 */
import type { Clock, TimerHandle } from './clock';

export class Periodic {
  private timer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly task: () => void,
  ) {
    this.arm();
  }

  /** Cancels the armed run; a run already under way arms nothing after it. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = this.clock.setTimer(() => {
      this.task();
      if (!this.stopped) this.arm();
    }, this.intervalMs);
    this.timer.unref?.();
  }
}
