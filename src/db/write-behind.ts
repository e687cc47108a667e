/**
 * A write-behind cache over a {@link KVStore}: writes land in an in-memory
 * overlay at once, so reads (get, scans) see them, and reach the store
 * later in batches. It knows nothing of what the keys mean; NodeDB
 * (nodedb.ts) keeps the schema above it, as go-ethereum's
 * p2p/enode/nodedb.go keeps its keys above LevelDB.
 *
 * Batches: the writes queued during one event-loop turn go to the store
 * as one batch (KVStore.write, atomic) when the batch timer fires, one
 * batch in flight at a time; writes made meanwhile wait for the next one.
 * Writes to the same key coalesce while they wait. Reads see the queue,
 * then the batch in flight, then the store.
 *
 * Durability: putDurable(), flush() and close() resolve once a batch
 * holding every write made before them is written and synced
 * (KVStore.sync); plain put()/delete() only ask for the batch.
 *
 * Bound: if more than `maxPending` distinct keys wait while a batch is in
 * flight, the least recently written key that `evictable` accepts is
 * dropped (onDropped, stats().droppedWrites) and reads that key as what is
 * in flight or committed; with nothing in flight the queue goes out at
 * once instead. Writes `evictable` refuses are never dropped.
 *
 * Failures: a batch the store fails to write is lost, not retried: its
 * keys read as committed again (onReverted for each key not written anew
 * since), stats().writeErrors counts its writes, durable writers waiting
 * for it reject, and the next flush() (or close()) rejects with the error
 * once.
 */
import type { Clock, TimerHandle } from '../transport/clock';
import { lowerBound, type KVStore, type WriteOp } from './store';

/** The timer the store arms for its next batch (always with a 0 ms delay). A {@link Clock} fits. */
export type BatchClock = Pick<Clock, 'setTimer' | 'clearTimer'>;

/**
 * The default batch timer: the next event-loop turn (setImmediate; the
 * delay, always 0, is not needed). Not unref()'d: queued writes keep the
 * process alive until they are handed to the store.
 */
export const NEXT_TURN: BatchClock = {
  setTimer: (fn: () => void): TimerHandle => setImmediate(fn),
  clearTimer: (h: TimerHandle): void => clearImmediate(h as NodeJS.Immediate),
};

export interface WriteBehindOptions {
  /** Distinct keys that may wait while a batch is in flight before one is dropped (see "Bound"). Default Infinity. */
  maxPending?: number;
  /** Which queued keys may be dropped when the queue is full. Default: every key. */
  evictable?: (key: Buffer) => boolean;
  /** Arms the batch timer. Default {@link NEXT_TURN}; tests pass a FakeClock. */
  clock?: BatchClock;
  /** The error a failed batch of `writes` keys is reported with. Default: an Error naming the count, with `cause`. */
  commitError?: (cause: unknown, writes: number) => Error;
  /** A queued write was dropped; `key` now reads as what is in flight or committed. */
  onDropped?: (key: Buffer, dropped: Buffer | null) => void;
  /** A batch failed; `key` (not written anew since) reads as committed again, without `failed`. */
  onReverted?: (key: Buffer, failed: Buffer | null) => void;
}

export interface WriteBehindStats {
  /** Keys queued or in the batch in flight. */
  pendingWrites: number;
  /** Writes dropped because the queue was full. */
  droppedWrites: number;
  /** Writes lost because the store failed to write them. */
  writeErrors: number;
}

/** One entry as reads see it. */
export interface ScanEntry {
  key: Buffer;
  value: Buffer;
}

/** Scans of one key range (see {@link WriteBehindStore.scan}). */
export interface RangeScan {
  /** Entries ascending from `start` (inclusive) to the end of the range. */
  from(start: Buffer): Generator<ScanEntry>;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Overlay values: a Buffer, or null for a delete. */
type Overlay = Map<string, Buffer | null>;

function defaultCommitError(cause: unknown, writes: number): Error {
  return new Error(`${writes} writes failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

// Overlay keys are latin1 strings of the key bytes (one char per byte), so
// they order as the bytes do.
const keyString = (key: Buffer): string => key.toString('latin1');
const keyBytes = (ks: string): Buffer => Buffer.from(ks, 'latin1');

export class WriteBehindStore {
  private readonly maxPending: number;
  private readonly evictable: (key: Buffer) => boolean;
  private readonly clock: BatchClock;
  private readonly commitError: (cause: unknown, writes: number) => Error;
  private readonly onDropped: (key: Buffer, dropped: Buffer | null) => void;
  private readonly onReverted: (key: Buffer, failed: Buffer | null) => void;

  /** Writes not yet handed to the store; Map order = least recently written first. */
  private pending: Overlay = new Map();
  /** The batch the store is writing; still part of what reads see. */
  private inflight: Overlay | undefined;
  /** Resolved when the next batch is written and synced. */
  private waiters: Waiter[] = [];
  private batchTimer: TimerHandle | undefined;
  /** A failure not yet reported by flush(). */
  private failure: unknown;
  private droppedWrites = 0;
  private writeErrors = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly store: KVStore,
    opts: WriteBehindOptions = {},
  ) {
    this.maxPending = opts.maxPending ?? Infinity;
    this.evictable = opts.evictable ?? (() => true);
    this.clock = opts.clock ?? NEXT_TURN;
    this.commitError = opts.commitError ?? defaultCommitError;
    this.onDropped = opts.onDropped ?? (() => undefined);
    this.onReverted = opts.onReverted ?? (() => undefined);
  }

  // ---- reads ----

  /** What reads see for `key`: queued, then in flight, then committed. Store errors propagate. */
  get(key: Buffer): Buffer | undefined {
    this.checkOpen();
    const v = this.overlayGet(keyString(key));
    return v === undefined ? this.store.get(key) : (v ?? undefined);
  }

  /**
   * Scans of [lo, hi) as reads see them: the store's entries with the
   * queued and in-flight writes merged in (their values win, deletes hide
   * keys). The overlay's keys are taken now, their values as each scan
   * reaches them: keys written after this call are left out of its scans.
   */
  scan(lo: Buffer, hi: Buffer): RangeScan {
    this.checkOpen();
    const keys = this.overlayKeys(keyString(lo), keyString(hi));
    return { from: (start) => this.merged(start, hi, keys) };
  }

  // ---- writes ----

  /** Queues `value` for `key`; reads see it at once. The value is kept, not copied. */
  put(key: Buffer, value: Buffer): void {
    this.checkOpen();
    this.enqueue(keyString(key), value);
  }

  /** Queues a delete of `key`; reads see it at once. */
  delete(key: Buffer): void {
    this.checkOpen();
    this.enqueue(keyString(key), null);
  }

  /** Queues `value` for `key`; resolves once it is durable, rejects if its batch fails. */
  putDurable(key: Buffer, value: Buffer): Promise<void> {
    this.checkOpen();
    // Join the waiters before enqueueing: enqueue may start the batch at once.
    const done = this.nextBatch();
    this.enqueue(keyString(key), value);
    return done;
  }

  /** Keeps `err` for the next flush() or close() to reject with, unless a failure is kept already. */
  deferError(err: unknown): void {
    this.failure ??= err;
  }

  // ---- durability and shutdown ----

  /** Resolves when every write made so far is durable; rejects with a failure kept since the last flush (once). */
  async flush(): Promise<void> {
    this.checkOpen();
    const error = (await this.barrierError()) ?? this.failure;
    this.failure = undefined;
    if (error) throw error;
  }

  /** Flushes, then closes the store; idempotent. Rejects with the first failure, of the writes or of the store's close. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  stats(): WriteBehindStats {
    return {
      pendingWrites: this.pending.size + (this.inflight?.size ?? 0),
      droppedWrites: this.droppedWrites,
      writeErrors: this.writeErrors,
    };
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    let error = (await this.barrierError()) ?? this.failure;
    try {
      await this.store.close();
    } catch (err) {
      error ??= err;
    }
    if (error) throw error;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('write-behind store is closed');
  }

  /** Waits for the writes made so far; returns what made them fail, if anything. */
  private async barrierError(): Promise<unknown> {
    try {
      await this.barrier();
      return undefined;
    } catch (err) {
      return err;
    }
  }

  /** Resolves when everything written so far is committed and durable. */
  private barrier(): Promise<void> {
    const done = this.nextBatch();
    this.pump();
    return done;
  }

  /** Settles with the next batch handed to the store. */
  private nextBatch(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  // ---- the queue ----

  private overlayGet(ks: string): Buffer | null | undefined {
    const p = this.pending.get(ks);
    return p !== undefined ? p : this.inflight?.get(ks);
  }

  private enqueue(ks: string, value: Buffer | null): void {
    // Re-inserting moves the key to the newest end, so the Map's first
    // evictable key is always the least recently written one.
    this.pending.delete(ks);
    this.pending.set(ks, value);
    if (this.pending.size <= this.maxPending) {
      this.scheduleBatch();
    } else if (!this.inflight) {
      this.pump();
    } else {
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    for (const [ks, value] of this.pending) {
      const key = keyBytes(ks);
      if (!this.evictable(key)) continue;
      this.pending.delete(ks);
      this.droppedWrites++;
      this.onDropped(key, value);
      return;
    }
  }

  private scheduleBatch(): void {
    if (this.batchTimer || this.inflight) return;
    this.batchTimer = this.clock.setTimer(() => {
      this.batchTimer = undefined;
      this.pump();
    }, 0);
  }

  /** Hands the queued writes to the store as one batch, unless one is in flight (then its end calls this). */
  private pump(): void {
    if (this.batchTimer) {
      this.clock.clearTimer(this.batchTimer);
      this.batchTimer = undefined;
    }
    if (this.inflight || (this.pending.size === 0 && this.waiters.length === 0)) return;
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = new Map();
    this.waiters = [];
    this.inflight = batch;
    const ops: WriteOp[] = [];
    for (const [ks, value] of batch) ops.push({ key: keyBytes(ks), value });
    void this.commit(batch, ops, waiters);
  }

  private async commit(batch: Overlay, ops: WriteOp[], waiters: Waiter[]): Promise<void> {
    try {
      if (ops.length > 0) await this.store.write(ops);
      if (waiters.length > 0) await this.store.sync();
      this.inflight = undefined;
      for (const w of waiters) w.resolve();
    } catch (err) {
      this.inflight = undefined;
      const error = this.commitError(err, batch.size);
      this.writeErrors += batch.size;
      this.failure ??= error;
      for (const [ks, value] of batch) if (!this.pending.has(ks)) this.onReverted(keyBytes(ks), value);
      for (const w of waiters) w.reject(error);
    }
    this.pump();
  }

  // ---- merged scans over overlay and store ----

  /** Queued and in-flight keys in [lo, hi), sorted: what a scan merges into the store's keys. */
  private overlayKeys(lo: string, hi: string): Buffer[] {
    const keys: Buffer[] = [];
    const inRange = (ks: string): boolean => ks >= lo && ks < hi;
    for (const ks of this.pending.keys()) if (inRange(ks)) keys.push(keyBytes(ks));
    if (this.inflight) {
      for (const ks of this.inflight.keys()) if (inRange(ks) && !this.pending.has(ks)) keys.push(keyBytes(ks));
    }
    return keys.sort(Buffer.compare);
  }

  /** Entries in [start, hi) as reads see them; `overlay` is overlayKeys() taken before the scan. */
  private *merged(start: Buffer, hi: Buffer, overlay: Buffer[]): Generator<ScanEntry> {
    let oi = lowerBound(overlay, start);
    const fromOverlay = (key: Buffer): ScanEntry | undefined => {
      const value = this.overlayGet(keyString(key));
      return value ? { key, value } : undefined;
    };
    for (const [key, stored] of this.store.range(start, hi)) {
      for (; oi < overlay.length && Buffer.compare(overlay[oi], key) < 0; oi++) {
        const e = fromOverlay(overlay[oi]);
        if (e) yield e;
      }
      // A key in both: the overlay's value wins (null = deleted).
      if (oi < overlay.length && overlay[oi].equals(key)) oi++;
      const o = this.overlayGet(keyString(key));
      if (o === undefined) yield { key, value: stored };
      else if (o !== null) yield { key, value: o };
    }
    for (; oi < overlay.length; oi++) {
      const e = fromOverlay(overlay[oi]);
      if (e) yield e;
    }
  }
}
