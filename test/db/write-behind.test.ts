/**
 * The write-behind cache (src/db/write-behind.ts) on its own: an in-memory
 * store that records, holds and fails batches, and a FakeClock as the
 * batch timer, so every batch goes out exactly when the test says.
 */
import * as assert from 'node:assert/strict';
import { MemoryStore, type WriteOp } from '../../src/db/store';
import { WriteBehindStore, type WriteBehindOptions } from '../../src/db/write-behind';
import { FakeClock } from '../../src/transport/clock';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (v: Buffer | undefined): string | undefined => v?.toString('latin1');
/** A batch as `key=value` / `key deleted` strings, in the order the store got them. */
const ops = (batch: readonly WriteOp[]): string[] => batch.map((op) => (op.value ? `${text(op.key)}=${text(op.value)}` : `${text(op.key)} deleted`));
/** Lets the store's promise chains run out (the cache arms no real timers). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An in-memory KV store that records its batches and syncs, and can hold or fail a write. */
class FakeKV extends MemoryStore {
  readonly batches: WriteOp[][] = [];
  syncs = 0;
  closed = false;
  /** Set: the next write to finish rejects with it (a held one once released). */
  failNext: Error | undefined;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  /** Data committed before the test: not recorded as a batch. */
  seed(entries: Array<[string, string]>): Promise<void> {
    return super.write(entries.map(([k, v]) => ({ key: b(k), value: b(v) })));
  }

  /** Writes from now on wait for release(). */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  override async write(batch: readonly WriteOp[]): Promise<void> {
    this.batches.push([...batch]);
    const gate = this.gate;
    if (gate) await gate;
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail) throw fail;
    await super.write(batch);
  }

  override async sync(): Promise<void> {
    this.syncs++;
  }

  /** Keeps the data, so tests can look at what was written. */
  override async close(): Promise<void> {
    this.closed = true;
  }
}

describe('WriteBehindStore', () => {
  let kv: FakeKV;
  let clock: FakeClock;
  let cache: WriteBehindStore;
  const make = (opts: WriteBehindOptions = {}): WriteBehindStore => (cache = new WriteBehindStore(kv, { clock, ...opts }));

  beforeEach(async () => {
    kv = new FakeKV();
    clock = new FakeClock();
    await kv.seed([
      ['a', 'committed-a'],
      ['c', 'committed-c'],
    ]);
  });

  it('reads see queued writes and deletes before anything reaches the store', () => {
    make();
    cache.put(b('b'), b('2'));
    cache.delete(b('c'));
    cache.put(b('a'), b('9'));
    assert.equal(text(cache.get(b('a'))), '9');
    assert.equal(text(cache.get(b('b'))), '2');
    assert.equal(cache.get(b('c')), undefined, 'a queued delete hides the committed value');
    assert.equal(cache.get(b('d')), undefined);
    assert.equal(kv.batches.length, 0, 'nothing written yet');
    assert.equal(text(kv.get(b('c'))), 'committed-c');
    assert.equal(clock.pendingTimers(), 1, 'one batch timer for all of them');
    assert.equal(cache.stats().pendingWrites, 3);
  });

  it('hands the writes queued before its timer fires to the store as one batch, writes to one key coalesced, unsynced', async () => {
    make();
    cache.put(b('a'), b('1'));
    cache.put(b('b'), b('2'));
    cache.put(b('a'), b('3'));
    cache.delete(b('c'));
    clock.advance(0);
    await settle();
    assert.deepEqual(kv.batches.map(ops), [['b=2', 'a=3', 'c deleted']], 'least recently written first');
    assert.equal(kv.syncs, 0, 'plain writes ask for no sync');
    assert.equal(text(kv.get(b('a'))), '3');
    assert.equal(kv.get(b('c')), undefined);
    assert.deepEqual(cache.stats(), { pendingWrites: 0, droppedWrites: 0, writeErrors: 0 });
    assert.equal(clock.pendingTimers(), 0);
  });

  it('reads see a batch while the store writes it; writes made meanwhile go out in the next batch, after it', async () => {
    make();
    kv.hold();
    cache.put(b('a'), b('1'));
    clock.advance(0); // batch 1 in flight
    cache.put(b('b'), b('2'));
    assert.equal(text(cache.get(b('a'))), '1', 'in flight');
    assert.equal(text(kv.get(b('a'))), 'committed-a');
    assert.equal(cache.stats().pendingWrites, 2);
    assert.equal(clock.pendingTimers(), 0, 'no timer while a batch is in flight: its end sends the next');
    kv.release();
    await settle();
    assert.deepEqual(kv.batches.map(ops), [['a=1'], ['b=2']]);
    assert.equal(cache.stats().pendingWrites, 0);
  });

  it('putDurable resolves once its batch is written and synced; flush() sends the queue at once and waits for it', async () => {
    make();
    let durable = false;
    const p = cache.putDurable(b('meta'), b('x')).then(() => (durable = true));
    assert.equal(text(cache.get(b('meta'))), 'x', 'visible before it is durable');
    await settle();
    assert.equal(durable, false, 'the batch waits for its timer');
    clock.advance(0);
    await p;
    assert.equal(kv.syncs, 1);

    cache.put(b('a'), b('2'));
    await cache.flush(); // no clock.advance: flush does not wait for the timer
    assert.deepEqual(kv.batches.map(ops), [['meta=x'], ['a=2']]);
    assert.equal(kv.syncs, 2);
    assert.equal(clock.pendingTimers(), 0, 'the timer was cancelled');
    await cache.flush(); // nothing queued: still one sync
    assert.equal(kv.syncs, 3);
  });

  it('close() flushes what is queued, then closes the store; it is idempotent and later calls throw', async () => {
    make();
    cache.put(b('a'), b('1'));
    cache.delete(b('c'));
    const closing = cache.close();
    assert.equal(cache.close(), closing, 'same promise');
    assert.throws(() => cache.put(b('x'), b('1')), /closed/, 'closed at once');
    await closing;
    assert.deepEqual(kv.batches.map(ops), [['a=1', 'c deleted']]);
    assert.equal(kv.syncs, 1);
    assert.equal(kv.closed, true);
    assert.throws(() => cache.get(b('a')), /closed/);
    assert.throws(() => cache.delete(b('a')), /closed/);
    assert.throws(() => cache.scan(b('a'), b('z')), /closed/);
    assert.throws(() => cache.putDurable(b('a'), b('1')), /closed/);
    await assert.rejects(cache.flush(), /closed/);
    await cache.close();
  });

  it('a failed batch is lost, not retried: its keys read as committed again, its waiters and the next flush() get the error once', async () => {
    const reverted: string[] = [];
    make({ onReverted: (key, failed) => reverted.push(`${text(key)}=${failed ? text(failed) : 'deleted'}`) });
    const diskFull = new Error('ENOSPC: no space left on device');
    kv.hold();
    cache.put(b('a'), b('2'));
    cache.delete(b('c'));
    cache.put(b('b'), b('2'));
    const durable = cache.putDurable(b('meta'), b('x'));
    clock.advance(0); // the batch goes out, held
    cache.put(b('b'), b('3')); // written anew while the batch is in flight
    kv.failNext = diskFull;
    kv.release();
    const err = await durable.then(
      () => assert.fail('the durable write must reject'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.message, '4 writes failed: ENOSPC: no space left on device');
    assert.equal(err.cause, diskFull);
    assert.deepEqual(reverted, ['a=2', 'c=deleted', 'meta=x'], 'not b: it was written again');
    assert.equal(text(cache.get(b('a'))), 'committed-a', 'the failed put did not happen');
    assert.equal(text(cache.get(b('c'))), 'committed-c', 'nor the failed delete');
    assert.equal(cache.get(b('meta')), undefined);
    assert.equal(text(cache.get(b('b'))), '3');
    assert.equal(cache.stats().writeErrors, 4);

    await assert.rejects(cache.flush(), (e: unknown) => e === err, 'reported by the next flush');
    assert.equal(text(kv.get(b('b'))), '3', 'that flush still wrote the later write');
    await cache.flush(); // reported once
    assert.equal(text(kv.get(b('a'))), 'committed-a', 'never retried');
  });

  it('reports a failed batch with the error commitError makes; close() rejects with a failure flush() has not reported', async () => {
    make({ commitError: (cause, writes) => new RangeError(`${writes}: ${(cause as Error).message}`) });
    kv.failNext = new Error('EIO');
    cache.put(b('a'), b('1'));
    clock.advance(0);
    await settle();
    await assert.rejects(cache.close(), (e: unknown) => e instanceof RangeError && e.message === '1: EIO');
    assert.equal(kv.closed, true, 'the store is closed all the same');
  });

  it('deferError keeps the first error for the next flush(), once', async () => {
    make();
    cache.deferError(new Error('first'));
    cache.deferError(new Error('second'));
    await assert.rejects(cache.flush(), /first/);
    await cache.flush();
  });

  it('bounds the queue while a batch is in flight: the least recently written evictable key is dropped, others never', async () => {
    const dropped: string[] = [];
    make({
      maxPending: 2,
      evictable: (key) => key[0] === 0x6e, // 'n'
      onDropped: (key, value) => dropped.push(`${text(key)}=${text(value ?? undefined)} now ${text(cache.get(key))}`),
    });
    kv.hold();
    cache.put(b('n0'), b('0'));
    clock.advance(0); // n0 in flight
    const durable = cache.putDurable(b('m1'), b('1')); // oldest queued, not evictable
    cache.put(b('n1'), b('1'));
    cache.put(b('n2'), b('2')); // 3 queued > 2: n1 goes
    cache.put(b('n0'), b('00')); // 3 queued again: n2 goes, reading as nothing
    assert.deepEqual(dropped, ['n1=1 now undefined', 'n2=2 now undefined']);
    assert.equal(cache.get(b('n1')), undefined, 'a dropped key reads as committed');
    assert.equal(text(cache.get(b('m1'))), '1', 'not dropped');
    assert.deepEqual(cache.stats(), { pendingWrites: 3, droppedWrites: 2, writeErrors: 0 });
    kv.release();
    await durable;
    assert.deepEqual(kv.batches.map(ops), [['n0=0'], ['m1=1', 'n0=00']]);
  });

  it('bounds the queue with nothing in flight by sending it at once, dropping nothing', async () => {
    make({ maxPending: 2 });
    cache.put(b('a'), b('1'));
    cache.put(b('b'), b('2'));
    assert.equal(clock.pendingTimers(), 1);
    cache.put(b('c'), b('3'));
    assert.equal(clock.pendingTimers(), 0, 'sent without waiting for the timer');
    await settle();
    assert.deepEqual(kv.batches.map(ops), [['a=1', 'b=2', 'c=3']]);
    assert.equal(cache.stats().droppedWrites, 0);
  });

  it('scans merge queued and in-flight writes into the store range: overlay values win, deletes hide keys, other ranges are left out', async () => {
    await kv.seed([
      ['n:1', 's1'],
      ['n:3', 's3'],
      ['n:5', 's5'],
      ['o:1', 'outside'],
    ]);
    make();
    kv.hold();
    cache.put(b('n:2'), b('f2'));
    clock.advance(0); // n:2 in flight
    cache.put(b('n:3'), b('q3'));
    cache.delete(b('n:5'));
    cache.put(b('n:4'), b('q4'));
    cache.put(b('m:1'), b('outside'));
    cache.put(b('o:2'), b('outside'));
    const entries = (from: string, s = cache.scan(b('n:'), b('n;'))): string[] => [...s.from(b(from))].map((e) => `${text(e.key)}=${text(e.value)}`);
    assert.deepEqual(entries('n:'), ['n:1=s1', 'n:2=f2', 'n:3=q3', 'n:4=q4']);
    assert.deepEqual(entries('n:3'), ['n:3=q3', 'n:4=q4'], 'from a key on');

    // A scan takes the overlay's keys when it is made, their values as it reaches them.
    const scan = cache.scan(b('n:'), b('n;'));
    cache.put(b('n:0'), b('late'));
    cache.put(b('n:1'), b('q1'));
    cache.delete(b('n:4'));
    assert.deepEqual(entries('n:', scan), ['n:1=q1', 'n:2=f2', 'n:3=q3']);
    kv.release();
    await cache.flush();
    assert.deepEqual(entries('n:'), ['n:0=late', 'n:1=q1', 'n:2=f2', 'n:3=q3'], 'the same once all is written');
  });
});
