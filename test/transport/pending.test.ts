import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors';
import { FakeClock, systemClock, type Clock, type TimerHandle } from '../../src/transport/clock';
import { MatchResult, PendingQueue, type Matcher } from '../../src/transport/pending';

const PONG = 2;
const NEIGHBORS = 4;

/** A matcher that records what it was given; behaviour comes from the two hooks. */
class Rec<P = unknown> implements Matcher<P> {
  readonly packets: P[] = [];
  readonly ends: Array<Error | undefined> = [];
  constructor(
    readonly nodeKey: string,
    readonly ipKey: string,
    readonly type: number,
    private readonly onPkt: (p: P, self: Rec<P>) => MatchResult = () => MatchResult.Done,
    private readonly onEnd: (err: Error | undefined, self: Rec<P>) => void = () => undefined,
  ) {}
  onPacket(p: P): MatchResult {
    this.packets.push(p);
    return this.onPkt(p, this);
  }
  onDone(err?: Error): void {
    this.ends.push(err);
    this.onEnd(err, this);
  }
}

/** A FakeClock that counts how often a timer was armed. */
class CountingClock extends FakeClock {
  sets = 0;
  override setTimer(fn: () => void, delayMs: number): TimerHandle {
    this.sets++;
    return super.setTimer(fn, delayMs);
  }
}

function setup(maxPending?: number) {
  const clock = new CountingClock();
  const errors: unknown[] = [];
  const q = new PendingQueue<unknown>({ clock, maxPending, onCallbackError: (e) => errors.push(e) });
  return { clock, q, errors };
}

describe('transport/pending: PendingQueue', () => {
  describe('deadlines', () => {
    it('expires requests in deadline order, not insertion order', () => {
      const { clock, q } = setup();
      const order: number[] = [];
      for (const t of [300, 100, 200]) q.add(new Rec('a', 'ip', PONG, undefined, () => order.push(t)), t);
      clock.advance(150);
      assert.deepEqual(order, [100]);
      clock.advance(1000);
      assert.deepEqual(order, [100, 200, 300]);
      q.checkInvariants();
    });

    it('expires requests with equal deadlines in insertion order', () => {
      const { clock, q } = setup();
      const order: string[] = [];
      for (const name of ['x', 'y', 'z']) q.add(new Rec(name, 'ip', PONG, undefined, () => order.push(name)), 100);
      clock.advance(100);
      assert.deepEqual(order, ['x', 'y', 'z']);
    });

    it('times out exactly at the deadline with a TimeoutError, not a millisecond before', () => {
      const { clock, q } = setup();
      const m = new Rec('a', 'ip', PONG);
      q.add(m, 500);
      clock.advance(499.9);
      assert.equal(m.ends.length, 0);
      assert.equal(q.size, 1);
      clock.advance(0.1);
      assert.equal(m.ends.length, 1);
      assert.ok(m.ends[0] instanceof TimeoutError);
      assert.equal((m.ends[0] as TimeoutError).code, 'TIMEOUT');
      assert.equal(q.size, 0);
      assert.equal(q.stats().timeouts, 1);
    });

    it('keeps one timer for the whole queue', () => {
      const { clock, q } = setup();
      const ms: Rec[] = [];
      for (let i = 0; i < 1000; i++) {
        const m = new Rec(`n${i % 37}`, 'ip', PONG);
        ms.push(m);
        q.add(m, ((i * 7919) % 1000) + 1);
        assert.ok(clock.pendingTimers() <= 1, `after add #${i}: ${clock.pendingTimers()} timers`);
      }
      for (let i = 0; i < 1000; i += 3) {
        q.dispatch(ms[i].nodeKey, 'ip', PONG, i);
        assert.ok(clock.pendingTimers() <= 1);
      }
      for (let step = 0; step < 110; step++) {
        clock.advance(10);
        assert.ok(clock.pendingTimers() <= 1);
      }
      assert.equal(clock.pendingTimers(), 0);
      assert.equal(q.size, 0);
      for (const m of ms) assert.equal(m.ends.length, 1);
    });

    it('arms the timer again only when an earlier deadline arrives', () => {
      const { clock, q } = setup();
      q.add(new Rec('a', 'ip', PONG), 100);
      q.add(new Rec('b', 'ip', PONG), 200);
      q.add(new Rec('c', 'ip', PONG), 150);
      assert.equal(clock.sets, 1);
      q.add(new Rec('d', 'ip', PONG), 50);
      assert.equal(clock.sets, 2);
      assert.equal(clock.pendingTimers(), 1);
      q.checkInvariants();
    });

    it('keeps an armed timer that is due earlier instead of re-arming for a new earliest deadline', () => {
      const { clock, q } = setup();
      q.add(new Rec('a', 'ip', PONG), 100);
      const b = new Rec('b', 'ip', PONG);
      q.add(b, 300);
      q.dispatch('a', 'ip', PONG, 'pong'); // the timer for 100 ms stays armed
      const c = new Rec('c', 'ip', PONG);
      q.add(c, 200); // the new earliest deadline, but the armed timer fires before it anyway
      assert.equal(clock.sets, 1);
      clock.advance(100); // wakes early, expires nothing, re-arms for 200
      assert.equal(clock.sets, 2);
      assert.equal(c.ends.length, 0);
      clock.advance(100);
      assert.ok(c.ends[0] instanceof TimeoutError);
      assert.deepEqual(b.ends, []);
      q.checkInvariants();
    });

    it('keeps deadline order when requests are cancelled from the middle of the heap', () => {
      const { clock, q } = setup();
      // Heap [1, 10, 2, 11, 12, 3, 4]: removing 11 moves 4 under 10, which must sift up.
      const timeouts = [1, 10, 2, 11, 12, 3, 4];
      const expired: number[] = [];
      const onEnd = (t: number) => (err: Error | undefined) => {
        if (err instanceof TimeoutError) expired.push(t);
      };
      const handles = timeouts.map((t) => q.add(new Rec(`n${t}`, 'ip', PONG, undefined, onEnd(t)), t));
      q.cancel(handles[3]);
      q.checkInvariants();
      // And a bigger scrambled case.
      const more: number[] = [];
      const moreHandles: number[] = [];
      for (let i = 0; i < 300; i++) {
        const t = 20 + ((i * 7919) % 257);
        more.push(t);
        moreHandles.push(q.add(new Rec(`m${i}`, 'ip', PONG, undefined, onEnd(t)), t));
      }
      const kept: number[] = [4, 3, 12, 2, 10, 1];
      for (let i = 0; i < 300; i++) {
        const j = (i * 101) % 300;
        if (j % 3 === 0) {
          q.cancel(moreHandles[j]);
          q.checkInvariants();
        }
      }
      for (let j = 0; j < 300; j++) if (j % 3 !== 0) kept.push(more[j]);
      clock.advance(1000);
      assert.deepEqual(expired, kept.sort((a, b) => a - b));
    });

    it('clears its timer when the last request ends, by reply, cancel or close', () => {
      const { clock, q } = setup();
      q.add(new Rec('a', 'ip', PONG), 100);
      assert.equal(clock.pendingTimers(), 1);
      q.dispatch('a', 'ip', PONG, 'pong');
      assert.equal(clock.pendingTimers(), 0);
      const h = q.add(new Rec('a', 'ip', PONG), 100);
      q.cancel(h);
      assert.equal(clock.pendingTimers(), 0);
      q.add(new Rec('a', 'ip', PONG), 100);
      q.close();
      assert.equal(clock.pendingTimers(), 0);
    });

    it('re-arms for the next deadline after the earliest request completes early', () => {
      const { clock, q } = setup();
      const first = new Rec('a', 'ip', PONG);
      const second = new Rec('b', 'ip', PONG);
      q.add(first, 100);
      q.add(second, 300);
      q.dispatch('a', 'ip', PONG, 'pong');
      clock.advance(299);
      assert.equal(second.ends.length, 0);
      assert.equal(clock.pendingTimers(), 1);
      clock.advance(1);
      assert.ok(second.ends[0] instanceof TimeoutError);
      assert.equal(clock.pendingTimers(), 0);
    });

    it('unrefs its timer so that a pending request alone never keeps the process alive', () => {
      const clock = new FakeClock();
      let unrefs = 0;
      const spying: Clock = {
        now: () => clock.now(),
        setTimer: (fn, delayMs) => {
          const h = clock.setTimer(fn, delayMs);
          return { unref: () => void unrefs++, h } as TimerHandle;
        },
        clearTimer: (h) => clock.clearTimer((h as unknown as { h: TimerHandle }).h),
      };
      const q = new PendingQueue({ clock: spying });
      q.add(new Rec('a', 'ip', PONG), 100);
      assert.equal(unrefs, 1);
      q.close();
    });

    it('rejects a timeoutMs that is negative, NaN or infinite, and leaves the queue untouched', () => {
      const { q } = setup();
      for (const t of [-1, Number.NaN, Infinity]) {
        const m = new Rec('a', 'ip', PONG);
        assert.throws(() => q.add(m, t), { code: 'INVALID_ARGUMENT' });
        assert.equal(m.ends.length, 0);
      }
      assert.equal(q.size, 0);
      assert.equal(q.stats().added, 0);
    });
  });

  describe('matching', () => {
    it('completes a request whose reply arrives before the deadline without error, and never expires it', () => {
      const { clock, q } = setup();
      const m = new Rec('a', 'ip', PONG);
      q.add(m, 500);
      clock.advance(200);
      assert.equal(q.dispatch('a', 'ip', PONG, 'pong'), true);
      assert.deepEqual(m.packets, ['pong']);
      assert.deepEqual(m.ends, [undefined]);
      clock.advance(10_000);
      assert.deepEqual(m.ends, [undefined]);
      assert.equal(q.size, 0);
      const s = q.stats();
      assert.equal(s.completed, 1);
      assert.equal(s.timeouts, 0);
      assert.equal(s.matchedPackets, 1);
    });

    it('matches only on nodeKey, ipKey and type together', () => {
      const { q } = setup();
      const m = new Rec('node', '10.0.0.1', PONG);
      q.add(m, 500);
      assert.equal(q.dispatch('node', '10.0.0.2', PONG, 'other ip'), false);
      assert.equal(q.dispatch('other', '10.0.0.1', PONG, 'other node'), false);
      assert.equal(q.dispatch('node', '10.0.0.1', NEIGHBORS, 'other type'), false);
      assert.deepEqual(m.packets, []);
      assert.equal(q.size, 1);
      assert.equal(q.dispatch('node', '10.0.0.1', PONG, 'right'), true);
      assert.deepEqual(m.packets, ['right']);
      assert.deepEqual(m.ends, [undefined]);
    });

    it('keeps a findnode-style request open across several packets until its matcher returns Done', () => {
      const { clock, q } = setup();
      let nodes = 0;
      const m = new Rec<{ count: number }>('n', 'ip', NEIGHBORS, (p) => {
        nodes += p.count;
        return nodes >= 16 ? MatchResult.Done : MatchResult.Matched;
      });
      const q2 = q as unknown as PendingQueue<{ count: number }>;
      q2.add(m, 500);
      assert.equal(q2.dispatch('n', 'ip', NEIGHBORS, { count: 12 }), true);
      assert.equal(m.ends.length, 0);
      assert.equal(q2.size, 1);
      clock.advance(100);
      assert.equal(q2.dispatch('n', 'ip', NEIGHBORS, { count: 4 }), true);
      assert.equal(nodes, 16);
      assert.deepEqual(m.ends, [undefined]);
      assert.equal(q2.size, 0);
      assert.equal(q2.stats().matchedPackets, 2);
      assert.equal(q2.stats().completed, 1);
    });

    it('gives a multi-packet request that got some packets but not Done a TimeoutError at the deadline', () => {
      const { clock, q } = setup();
      const m = new Rec('n', 'ip', NEIGHBORS, () => MatchResult.Matched);
      q.add(m, 500);
      q.dispatch('n', 'ip', NEIGHBORS, 'first 12');
      clock.advance(250);
      q.dispatch('n', 'ip', NEIGHBORS, 'next 2');
      clock.advance(249);
      assert.equal(m.ends.length, 0);
      clock.advance(1);
      // The queue reports the timeout; deciding that a partial findnode
      // still succeeded (geth: `errTimeout && rm.reply != nil`) is the transport's job.
      assert.deepEqual(m.packets, ['first 12', 'next 2']);
      assert.equal(m.ends.length, 1);
      assert.ok(m.ends[0] instanceof TimeoutError);
    });

    it('offers a packet to every matching request of the node, in insertion order', () => {
      const { q } = setup();
      const seen: string[] = [];
      const first = new Rec('n', 'ip', PONG, () => (seen.push('first'), MatchResult.None));
      const second = new Rec('n', 'ip', PONG, () => (seen.push('second'), MatchResult.Done));
      const third = new Rec('n', 'ip', PONG, () => (seen.push('third'), MatchResult.Done));
      q.add(first, 300);
      q.add(second, 100); // an earlier deadline does not change the offer order
      q.add(third, 200);
      assert.equal(q.dispatch('n', 'ip', PONG, 'pong'), true);
      assert.deepEqual(seen, ['first', 'second', 'third']);
      assert.deepEqual(first.ends, []);
      assert.deepEqual(second.ends, [undefined]);
      assert.deepEqual(third.ends, [undefined]);
      assert.equal(q.size, 1);
      q.checkInvariants();
    });

    it('returns false when every matcher declines the packet, and keeps them pending', () => {
      const { q } = setup();
      const m = new Rec('n', 'ip', PONG, () => MatchResult.None);
      q.add(m, 100);
      assert.equal(q.dispatch('n', 'ip', PONG, 'wrong reply token'), false);
      assert.deepEqual(m.packets, ['wrong reply token']);
      assert.equal(q.size, 1);
      assert.equal(q.stats().matchedPackets, 0);
    });
  });

  describe('bounds, cancel and close', () => {
    it('fails at once with QueueFullError past maxPending, and accepts again after one completes', () => {
      const { clock, q } = setup(2);
      q.add(new Rec('a', 'ip', PONG), 100);
      q.add(new Rec('b', 'ip', PONG), 100);
      const sets = clock.sets;
      const refused = new Rec('c', 'ip', PONG);
      assert.equal(q.add(refused, 10), 0);
      assert.equal(refused.ends.length, 1);
      assert.ok(refused.ends[0] instanceof QueueFullError);
      assert.equal((refused.ends[0] as QueueFullError).code, 'QUEUE_FULL');
      assert.equal(q.size, 2);
      assert.equal(clock.sets, sets, 'a refused request must not arm the timer');
      assert.equal(q.stats().rejectedFull, 1);
      q.checkInvariants();

      q.dispatch('a', 'ip', PONG, 'pong');
      const accepted = new Rec('c', 'ip', PONG);
      assert.ok(q.add(accepted, 100) > 0);
      assert.equal(accepted.ends.length, 0);
      assert.equal(q.size, 2);
    });

    it('cancel() ends one request with the given error and leaves the others pending', () => {
      const { clock, q } = setup();
      const a = new Rec('n', 'ip', PONG);
      const b = new Rec('n', 'ip', PONG);
      const ha = q.add(a, 100);
      const hb = q.add(b, 100);
      assert.ok(ha > 0 && hb > 0 && ha !== hb);
      const why = new Error('send failed');
      assert.equal(q.cancel(ha, why), true);
      assert.deepEqual(a.ends, [why]);
      assert.equal(q.cancel(ha), false, 'cancelling twice is a no-op');
      assert.equal(q.cancel(0), false);
      assert.equal(q.cancel(12345), false);
      assert.equal(q.dispatch('n', 'ip', PONG, 'pong'), true);
      assert.deepEqual(a.packets, []);
      assert.deepEqual(b.ends, [undefined]);
      clock.advance(1000);
      assert.equal(a.ends.length, 1);
      assert.equal(q.cancel(hb), false, 'a finished request cannot be cancelled');
      assert.equal(q.stats().cancelled, 1);
    });

    it('cancel() without an error ends the request with ClosedError', () => {
      const { q } = setup();
      const m = new Rec('n', 'ip', PONG);
      q.cancel(q.add(m, 100));
      assert.ok(m.ends[0] instanceof ClosedError);
    });

    it('close() rejects every pending request with ClosedError in insertion order, and later add() fails at once', () => {
      const { clock, q } = setup();
      const order: string[] = [];
      const ms = ['a', 'b', 'c'].map((k) => new Rec(k, 'ip', PONG, undefined, () => order.push(k)));
      q.add(ms[0], 300);
      q.add(ms[1], 100);
      q.add(ms[2], 200);
      q.close();
      assert.deepEqual(order, ['a', 'b', 'c']);
      for (const m of ms) {
        assert.equal(m.ends.length, 1);
        assert.ok(m.ends[0] instanceof ClosedError);
        assert.equal((m.ends[0] as ClosedError).code, 'CLOSED');
      }
      assert.equal(q.size, 0);
      assert.equal(clock.pendingTimers(), 0);

      const late = new Rec('a', 'ip', PONG);
      assert.equal(q.add(late, 100), 0);
      assert.ok(late.ends[0] instanceof ClosedError);
      assert.equal(q.dispatch('a', 'ip', PONG, 'pong'), false);
      assert.deepEqual(late.packets, []);
      q.close(); // idempotent: nothing is ended twice
      for (const m of ms) assert.equal(m.ends.length, 1);
      q.checkInvariants();
    });

    it('close(err) passes the given error to every pending request', () => {
      const { q } = setup();
      const m = new Rec('a', 'ip', PONG);
      q.add(m, 100);
      const why = new Error('socket error');
      q.close(why);
      assert.deepEqual(m.ends, [why]);
    });

    it('keeps its counters consistent: added = completed + timeouts + cancelled + size', () => {
      const { clock, q } = setup(3);
      q.add(new Rec('a', 'ip', PONG), 100);
      q.add(new Rec('b', 'ip', PONG), 200);
      const h = q.add(new Rec('c', 'ip', PONG), 300);
      q.add(new Rec('d', 'ip', PONG), 300); // refused
      q.dispatch('a', 'ip', PONG, 'pong');
      q.cancel(h);
      clock.advance(250);
      q.add(new Rec('e', 'ip', PONG), 300);
      assert.deepEqual(q.stats(), {
        added: 4,
        completed: 1,
        timeouts: 1,
        rejectedFull: 1,
        cancelled: 1,
        matchedPackets: 1,
        callbackErrors: 0,
      });
      assert.equal(q.size, 1);
      q.checkInvariants();
    });
  });

  describe('re-entrancy and callback errors', () => {
    it('lets onDone of a completed request add a new request', () => {
      const { clock, q } = setup();
      const followUp = new Rec('n', 'ip', NEIGHBORS);
      const ping = new Rec('n', 'ip', PONG, undefined, () => {
        assert.equal(q.size, 0, 'the finished request is removed before its onDone runs');
        q.add(followUp, 500);
      });
      q.add(ping, 500);
      q.dispatch('n', 'ip', PONG, 'pong');
      assert.equal(q.size, 1);
      q.checkInvariants();
      clock.advance(500);
      assert.ok(followUp.ends[0] instanceof TimeoutError);
    });

    it('does not offer the packet being dispatched to a request added by a callback', () => {
      const { q } = setup();
      const late = new Rec('n', 'ip', PONG);
      const early = new Rec('n', 'ip', PONG, () => {
        q.add(late, 500);
        return MatchResult.Done;
      });
      q.add(early, 500);
      q.dispatch('n', 'ip', PONG, 'pong 1');
      assert.deepEqual(late.packets, []);
      q.dispatch('n', 'ip', PONG, 'pong 2');
      assert.deepEqual(late.packets, ['pong 2']);
    });

    it('lets onPacket close the queue: the others get ClosedError and see no packet', () => {
      const { clock, q } = setup();
      const closer = new Rec('n', 'ip', PONG, () => {
        q.close();
        return MatchResult.Done;
      });
      const other = new Rec('n', 'ip', PONG);
      q.add(closer, 100);
      q.add(other, 100);
      assert.equal(q.dispatch('n', 'ip', PONG, 'pong'), true);
      assert.equal(closer.ends.length, 1, 'closed once, not also completed');
      assert.ok(closer.ends[0] instanceof ClosedError);
      assert.deepEqual(other.packets, []);
      assert.ok(other.ends[0] instanceof ClosedError);
      assert.equal(clock.pendingTimers(), 0);
      q.checkInvariants();
    });

    it('lets onPacket cancel the next request of the same node; the one after still gets the packet', () => {
      const { q } = setup();
      let hSecond = 0;
      const first = new Rec('n', 'ip', PONG, () => {
        q.cancel(hSecond);
        return MatchResult.Matched;
      });
      const second = new Rec('n', 'ip', PONG);
      const third = new Rec('n', 'ip', PONG);
      q.add(first, 100);
      hSecond = q.add(second, 100);
      q.add(third, 100);
      q.dispatch('n', 'ip', PONG, 'pong');
      assert.deepEqual(second.packets, []);
      assert.equal(second.ends.length, 1);
      assert.deepEqual(third.packets, ['pong']);
      assert.equal(q.size, 1);
      q.checkInvariants();
    });

    it('lets onPacket cancel its own request without onDone running twice', () => {
      const { q } = setup();
      let h = 0;
      const m = new Rec('n', 'ip', PONG, () => {
        q.cancel(h, new Error('not interested'));
        return MatchResult.Done;
      });
      h = q.add(m, 100);
      q.dispatch('n', 'ip', PONG, 'pong');
      assert.equal(m.ends.length, 1);
      assert.equal(m.ends[0]?.message, 'not interested');
      q.checkInvariants();
    });

    it('leaves a request added with timeoutMs 0 by a timeout callback for the next timer run', () => {
      const { clock, q } = setup();
      let retries = 0;
      const retry = (err: Error | undefined) => {
        if (err instanceof TimeoutError && retries < 3) {
          retries++;
          q.add(new Rec('n', 'ip', PONG, undefined, retry), 0);
          q.checkInvariants();
        }
      };
      q.add(new Rec('n', 'ip', PONG, undefined, retry), 10);
      clock.advance(10);
      assert.equal(retries, 3);
      assert.equal(clock.sets, 4, 'each retry waits for a timer run of its own');
      assert.equal(q.size, 0);
      assert.equal(q.stats().timeouts, 4);
      assert.equal(clock.pendingTimers(), 0);
    });

    it('isolates a throwing onPacket: its request ends with that error, the others still run', () => {
      const { q, errors } = setup();
      const boom = new Error('bad neighbors');
      const bad = new Rec('n', 'ip', NEIGHBORS, () => {
        throw boom;
      });
      const good = new Rec('n', 'ip', NEIGHBORS);
      q.add(bad, 100);
      q.add(good, 100);
      assert.equal(q.dispatch('n', 'ip', NEIGHBORS, 'packet'), true);
      assert.deepEqual(bad.ends, [boom]);
      assert.deepEqual(good.ends, [undefined]);
      assert.deepEqual(errors, [boom]);
      assert.equal(q.stats().callbackErrors, 1);
      assert.equal(q.size, 0);
      q.checkInvariants();
    });

    it('isolates a throwing onDone: later timeouts still fire and the error is reported', () => {
      const { clock, q, errors } = setup();
      const after = new Rec('b', 'ip', PONG);
      q.add(
        new Rec('a', 'ip', PONG, undefined, () => {
          throw new Error('handler bug');
        }),
        100,
      );
      q.add(after, 100);
      clock.advance(100);
      assert.ok(after.ends[0] instanceof TimeoutError);
      assert.equal(errors.length, 1);
      assert.equal(q.stats().callbackErrors, 1);
      assert.equal(q.size, 0);
      q.checkInvariants();
    });

    it('survives random re-entrant add/cancel/close/dispatch from callbacks, ending each request exactly once', () => {
      const action = fc.oneof(
        fc.record({
          kind: fc.constant('add' as const),
          node: fc.integer({ min: 0, max: 2 }),
          timeoutMs: fc.integer({ min: 0, max: 50 }),
        }),
        fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('dispatch' as const), node: fc.integer({ min: 0, max: 2 }) }),
        fc.record({ kind: fc.constant('throw' as const) }),
        fc.record({ kind: fc.constant('none' as const) }),
        fc.record({ kind: fc.constant('close' as const) }),
      );
      const results = fc.constantFrom(MatchResult.None, MatchResult.Matched, MatchResult.Done);
      fc.assert(
        fc.property(
          fc.array(action, { maxLength: 60 }),
          fc.array(results, { minLength: 1, maxLength: 10 }),
          fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 20 }),
          (script, replies, steps) => {
            const clock = new FakeClock();
            const q = new PendingQueue<number>({ clock, maxPending: 6 });
            const all: Rec<number>[] = [];
            const handles: number[] = [];
            let next = 0;
            let depth = 0;
            const act = (): void => {
              const a = script[next++];
              if (a === undefined || depth > 20) return;
              depth++;
              try {
                q.checkInvariants();
                switch (a.kind) {
                  case 'add':
                    add(a.node, a.timeoutMs);
                    break;
                  case 'cancel':
                    if (handles.length > 0) q.cancel(handles[a.pick % handles.length]);
                    break;
                  case 'dispatch':
                    q.dispatch(`n${a.node}`, 'ip', PONG, next);
                    break;
                  case 'throw':
                    throw new Error('callback failure');
                  case 'close':
                    q.close();
                    break;
                  case 'none':
                    break;
                }
              } finally {
                depth--;
              }
            };
            const add = (node: number, timeoutMs: number): void => {
              const m = new Rec<number>(
                `n${node}`,
                'ip',
                PONG,
                (_p, self) => {
                  act();
                  return replies[(all.indexOf(self) + self.packets.length) % replies.length];
                },
                () => act(),
              );
              all.push(m);
              handles.push(q.add(m, timeoutMs));
            };
            for (let i = 0; i < 4; i++) add(i % 3, 20 + i * 5);
            for (const ms of steps) {
              // Outside a callback a 'throw' step would reach the test, not the queue.
              if (script[next]?.kind === 'throw') next++;
              else act();
              q.dispatch(`n${ms % 3}`, 'ip', PONG, -1);
              clock.advance(ms);
              q.checkInvariants();
            }
            q.close();
            q.checkInvariants();
            for (const m of all) assert.equal(m.ends.length, 1);
            assert.equal(clock.pendingTimers(), 0);
          },
        ),
        { numRuns: 200 },
      );
    });
  });

  describe('model', () => {
    type Cmd =
      | { kind: 'add'; node: number; ip: number; type: number; timeoutMs: number; needed: number }
      | { kind: 'cancel'; pick: number }
      | { kind: 'advance'; ms: number }
      | { kind: 'dispatch'; node: number; ip: number; type: number };

    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('add' as const),
          node: fc.integer({ min: 0, max: 2 }),
          ip: fc.integer({ min: 0, max: 1 }),
          type: fc.constantFrom(PONG, NEIGHBORS),
          timeoutMs: fc.integer({ min: 0, max: 400 }),
          needed: fc.integer({ min: 1, max: 3 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 250 }) }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('dispatch' as const),
          node: fc.integer({ min: 0, max: 2 }),
          ip: fc.integer({ min: 0, max: 1 }),
          type: fc.constantFrom(PONG, NEIGHBORS),
        }),
      },
    );

    interface ModelEntry {
      id: number;
      node: number;
      ip: number;
      type: number;
      deadlineMs: number;
      needed: number;
      got: number;
    }

    it('expires, completes and cancels exactly as a sorted-array model does', () => {
      const maxPending = 8;
      fc.assert(
        fc.property(fc.array(cmd, { maxLength: 80 }), (cmds) => {
          const clock = new FakeClock(1000);
          const q = new PendingQueue<string>({ clock, maxPending });
          const actual: string[] = [];
          const expected: string[] = [];

          // The model: pending entries kept in insertion order.
          let model: ModelEntry[] = [];
          let nowMs = 1000;
          const handles: Array<{ id: number; handle: number }> = [];
          let nextId = 0;

          const ended = (err: Error | undefined): string => {
            if (err === undefined) return 'done';
            if (err instanceof TimeoutError) return 'timeout';
            if (err instanceof ClosedError) return 'closed';
            return err instanceof QueueFullError ? 'full' : 'other';
          };

          for (const c of cmds) {
            switch (c.kind) {
              case 'add': {
                const id = nextId++;
                let got = 0;
                const m: Matcher<string> = {
                  nodeKey: `n${c.node}`,
                  ipKey: `ip${c.ip}`,
                  type: c.type,
                  onPacket: () => {
                    actual.push(`packet ${id}`);
                    return ++got >= c.needed ? MatchResult.Done : MatchResult.Matched;
                  },
                  onDone: (err) => actual.push(`${ended(err)} ${id}`),
                };
                if (model.length >= maxPending) expected.push(`full ${id}`);
                else {
                  const deadlineMs = nowMs + c.timeoutMs;
                  model.push({ id, node: c.node, ip: c.ip, type: c.type, deadlineMs, needed: c.needed, got: 0 });
                }
                const handle = q.add(m, c.timeoutMs);
                if (handle > 0) handles.push({ id, handle });
                break;
              }
              case 'cancel': {
                if (handles.length === 0) break;
                const { id, handle } = handles[c.pick % handles.length];
                const i = model.findIndex((e) => e.id === id);
                if (i >= 0) {
                  model.splice(i, 1);
                  expected.push(`closed ${id}`);
                }
                assert.equal(q.cancel(handle), i >= 0);
                break;
              }
              case 'advance': {
                nowMs += c.ms;
                const due = model.filter((e) => e.deadlineMs <= nowMs);
                // Stable sort: equal deadlines stay in insertion order.
                due.sort((a, b) => a.deadlineMs - b.deadlineMs);
                for (const e of due) expected.push(`timeout ${e.id}`);
                model = model.filter((e) => e.deadlineMs > nowMs);
                clock.advance(c.ms);
                break;
              }
              case 'dispatch': {
                let matched = false;
                for (const e of [...model]) {
                  if (e.node !== c.node || e.ip !== c.ip || e.type !== c.type) continue;
                  matched = true;
                  expected.push(`packet ${e.id}`);
                  if (++e.got >= e.needed) {
                    model.splice(model.indexOf(e), 1);
                    expected.push(`done ${e.id}`);
                  }
                }
                assert.equal(q.dispatch(`n${c.node}`, `ip${c.ip}`, c.type, 'pkt'), matched);
                break;
              }
            }
            assert.equal(q.size, model.length);
            q.checkInvariants();
          }
          assert.deepEqual(actual, expected);
          // Whatever is left expires at the latest deadline.
          clock.advance(1000);
          assert.equal(q.size, 0);
          assert.equal(clock.pendingTimers(), 0);
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe('transport/clock: systemClock', () => {
  it('hands out unref()ed timers', () => {
    // Created and cleared at once: nothing here waits on real time.
    const h = systemClock.setTimer(() => assert.fail('must not run'), 60_000);
    try {
      assert.equal((h as NodeJS.Timeout).hasRef(), false);
    } finally {
      systemClock.clearTimer(h);
    }
  });

  it('reads a monotonic millisecond clock', () => {
    const a = systemClock.now();
    const b = systemClock.now();
    assert.ok(Number.isFinite(a) && b >= a);
  });
});

describe('transport/clock: FakeClock', () => {
  it('runs due timers in deadline order, each seeing now() equal to its due time', () => {
    const clock = new FakeClock(5);
    const seen: Array<[string, number]> = [];
    clock.setTimer(() => seen.push(['late', clock.now()]), 30);
    clock.setTimer(() => seen.push(['early', clock.now()]), 10);
    clock.setTimer(() => seen.push(['same', clock.now()]), 10);
    clock.setTimer(() => seen.push(['beyond', clock.now()]), 100);
    clock.advance(50);
    assert.deepEqual(seen, [
      ['early', 15],
      ['same', 15],
      ['late', 35],
    ]);
    assert.equal(clock.now(), 55);
    assert.equal(clock.pendingTimers(), 1);
  });

  it('runs timers set by a callback if they come due within the same advance', () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    clock.setTimer(() => {
      seen.push(clock.now());
      clock.setTimer(() => seen.push(clock.now()), 5);
    }, 10);
    clock.advance(20);
    assert.deepEqual(seen, [10, 15]);
  });

  it('does not run a cleared timer', () => {
    const clock = new FakeClock();
    let ran = false;
    const h = clock.setTimer(() => (ran = true), 10);
    clock.clearTimer(h);
    assert.equal(clock.pendingTimers(), 0);
    clock.advance(100);
    assert.equal(ran, false);
  });
});
