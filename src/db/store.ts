/**
 * The ordered key-value store under NodeDB: LMDB on disk (lmdb-store.ts) or
 * a Map in memory (here). The write-behind cache (write-behind.ts) and
 * NodeDB's schema (nodedb.ts: expiry, seeds) sit above this interface, so
 * both modes behave the same.
 */

/** One write of a batch: `value === null` deletes the key. */
export interface WriteOp {
  key: Buffer;
  value: Buffer | null;
}

export interface KVStore {
  /** Synchronous point read of committed data. Throws on engine errors. */
  get(key: Buffer): Buffer | undefined;
  /** Lazy ascending scan of committed keys in [start, end) (no end: to the last key). Breaking out of the loop releases it. */
  range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]>;
  /** Applies a batch atomically; resolves once it is visible to get/range. */
  write(ops: readonly WriteOp[]): Promise<void>;
  /** Resolves once every committed write is durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Index of the first element of sorted `keys` that is >= key. */
export function lowerBound(keys: readonly Buffer[], key: Buffer): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(keys[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How {@link mapStoreErrors} turns an engine's errors into the caller's. */
export interface StoreErrorMap {
  /** For a get() or a step of range() that threw. */
  read(err: unknown): Error;
  /** For a close() that rejected. */
  close(err: unknown): Error;
}

/**
 * `store` with the errors of its reads and of close() mapped by `map`.
 * Writes pass through: their callers report them in their own words.
 */
export function mapStoreErrors(store: KVStore, map: StoreErrorMap): KVStore {
  return {
    get(key: Buffer): Buffer | undefined {
      try {
        return store.get(key);
      } catch (err) {
        throw map.read(err);
      }
    },
    *range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]> {
      const it = store.range(start, end)[Symbol.iterator]();
      let finished = false;
      try {
        for (;;) {
          let r: IteratorResult<[Buffer, Buffer]>;
          try {
            r = it.next();
          } catch (err) {
            finished = true;
            throw map.read(err);
          }
          if (r.done) {
            finished = true;
            return;
          }
          yield r.value;
        }
      } finally {
        // The consumer stopped early: release the engine's cursor.
        if (!finished) it.return?.();
      }
    },
    write: (ops) => store.write(ops),
    sync: () => store.sync(),
    async close(): Promise<void> {
      try {
        await store.close();
      } catch (err) {
        throw map.close(err);
      }
    },
  };
}

/**
 * In-memory store. Keys are held as latin1 strings (one char per byte) for
 * the Map; a sorted key array for range scans is rebuilt lazily after the
 * key set changes, which is cheap at node-DB sizes and rare (expiry, seeds).
 */
export class MemoryStore implements KVStore {
  private readonly map = new Map<string, { key: Buffer; value: Buffer }>();
  private sorted: Buffer[] | undefined;

  get(key: Buffer): Buffer | undefined {
    return this.map.get(key.toString('latin1'))?.value;
  }

  *range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]> {
    if (!this.sorted) this.sorted = [...this.map.values()].map((e) => e.key).sort(Buffer.compare);
    // Writes apply only after a microtask (see write), never during a
    // synchronous scan, so this array stays valid for the whole loop.
    const keys = this.sorted;
    for (let i = lowerBound(keys, start); i < keys.length && (!end || Buffer.compare(keys[i], end) < 0); i++) {
      const e = this.map.get(keys[i].toString('latin1'));
      if (e) yield [e.key, e.value];
    }
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    // Apply asynchronously like a real engine, so callers cannot come to
    // depend on writes landing synchronously.
    await Promise.resolve();
    for (const op of ops) {
      const s = op.key.toString('latin1');
      if (op.value === null) {
        if (this.map.delete(s)) this.sorted = undefined;
      } else {
        if (!this.map.has(s)) this.sorted = undefined;
        this.map.set(s, { key: op.key, value: op.value });
      }
    }
  }

  async sync(): Promise<void> {}

  async close(): Promise<void> {
    this.map.clear();
    this.sorted = undefined;
  }
}
