import * as assert from 'node:assert/strict';
import { MemoryStore, mapStoreErrors, type KVStore, type WriteOp } from '../../src/db/store';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

class Mapped extends Error {
  constructor(
    readonly what: string,
    readonly original: unknown,
  ) {
    super(`${what}: ${(original as Error).message}`);
  }
}

const map = { read: (err: unknown) => new Mapped('read', err), close: (err: unknown) => new Mapped('close', err) };

/** A memory store whose engine fails where a test says, and that notes cursors released. */
class BrokenStore extends MemoryStore {
  failReads = false;
  /** A range fails at its step number `failAtStep` (0: never). */
  failAtStep = 0;
  released = 0;
  override get(key: Buffer): Buffer | undefined {
    if (this.failReads) throw new Error('MDB_CORRUPTED');
    return super.get(key);
  }
  override range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]> {
    const inner = super.range(start, end)[Symbol.iterator]();
    let step = 0;
    return {
      [Symbol.iterator]: (): Iterator<[Buffer, Buffer]> => ({
        next: () => {
          if (++step === this.failAtStep) throw new Error('MDB_PAGE_NOTFOUND');
          return inner.next();
        },
        return: (): IteratorResult<[Buffer, Buffer]> => {
          this.released++;
          return { done: true, value: undefined };
        },
      }),
    };
  }
  override async write(ops: readonly WriteOp[]): Promise<void> {
    if (ops.length === 0) throw new Error('ENOSPC');
    return super.write(ops);
  }
  override async close(): Promise<void> {
    throw new Error('EIO');
  }
}

describe('mapStoreErrors', () => {
  let engine: BrokenStore;
  let store: KVStore;
  beforeEach(async () => {
    engine = new BrokenStore();
    store = mapStoreErrors(engine, map);
    await store.write(['a', 'b', 'c'].map((k) => ({ key: b(k), value: b(k) })));
  });

  it('maps the errors of get, of a range step and of close, and passes reads and writes through', async () => {
    assert.deepEqual(store.get(b('a')), b('a'));
    assert.deepEqual([...store.range(b('b'))].map(([k]) => k.toString()), ['b', 'c']);
    engine.failReads = true;
    assert.throws(() => store.get(b('a')), (e: unknown) => e instanceof Mapped && e.what === 'read' && /MDB_CORRUPTED/.test(e.message));
    engine.failAtStep = 2;
    const seen: string[] = [];
    assert.throws(
      () => {
        for (const [k] of store.range(b('a'))) seen.push(k.toString());
      },
      (e: unknown) => e instanceof Mapped && e.what === 'read' && /MDB_PAGE_NOTFOUND/.test(e.message),
    );
    assert.deepEqual(seen, ['a'], 'the entries before the failing step');
    assert.equal(engine.released, 0, 'a cursor that threw is not released again');
    await assert.rejects(store.write([]), (e: unknown) => !(e instanceof Mapped) && /ENOSPC/.test((e as Error).message), 'write errors are for the caller to word');
    await assert.rejects(store.close(), (e: unknown) => e instanceof Mapped && e.what === 'close' && /EIO/.test(e.message));
  });

  it('releases the engine cursor when a scan stops early', () => {
    for (const _ of store.range(b('a'))) break;
    assert.equal(engine.released, 1);
    assert.equal([...store.range(b('a'))].length, 3);
    assert.equal(engine.released, 1, 'a scan that ran to its end releases nothing');
  });
});
