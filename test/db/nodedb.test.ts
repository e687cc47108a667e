import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { InvalidArgumentError } from '../../src/errors';
import { DATA_FILE, DbError, NodeDB, RESET_ADVICE, type NodeDBOptions, type StoredNode } from '../../src/db';
import { MemoryStore, type WriteOp } from '../../src/db/store';
import { FakeClock } from '../../src/transport/clock';
import { damageLeaf, testId, testNode } from './helpers';

const FIXTURES = join(__dirname, 'fixtures');
const HOUR_MS = 60 * 60 * 1000;

let tmpRoot: string;
before(() => {
  tmpRoot = mkdtempSync(join(tmpdir(), 'discv4-nodedb-'));
});
after(() => {
  rmSync(tmpRoot, { recursive: true, force: true });
});

let dirSeq = 0;
function freshDir(): string {
  return join(tmpRoot, `db${dirSeq++}`);
}

/** Runs a fixture script under tsx in a child process; resolves with its exit status and output. */
function runFixture(script: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(FIXTURES, script), ...args], { timeout: 8000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** Writes raw key/values straight into the LMDB file of a (closed) node DB, bypassing NodeDB. */
async function writeRaw(dir: string, entries: Array<[Buffer, Buffer]>): Promise<void> {
  const raw = openLmdb<Buffer, Buffer>({ path: join(dir, DATA_FILE), noSubdir: true, encoding: 'binary', keyEncoding: 'binary' });
  for (const [k, v] of entries) await raw.put(k, v);
  await raw.close();
}

async function rejectsWith(p: Promise<unknown>, code: string, path: string): Promise<DbError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DbError, `expected a DbError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.path, path);
    assert.ok(err.message.includes(path), `message names the path: ${err.message}`);
    return err;
  }
  assert.fail(`expected a ${code} rejection`);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const MODES = [
  { name: 'in memory', dir: (): string | null => null },
  { name: 'on disk', dir: (): string | null => freshDir() },
];

for (const mode of MODES) {
  describe(`NodeDB (${mode.name})`, () => {
    let db: NodeDB;
    let nowMs: number;
    const open = async (opts: NodeDBOptions = {}): Promise<NodeDB> => {
      db = await NodeDB.open(mode.dir(), { now: () => nowMs, ...opts });
      return db;
    };
    beforeEach(() => {
      nowMs = 1_700_000_000_000;
    });
    afterEach(async () => {
      await db?.close();
    });

    it('round-trips put, get, update and delete, including a seq above 2^53 and record bytes', async () => {
      await open();
      const record = randomBytes(300);
      const n: StoredNode = {
        ...testNode(1),
        ip: Buffer.from('20010db8000000000000000000000001', 'hex'),
        udpPort: 30301,
        tcpPort: 0,
        seq: (1n << 60n) + 7n,
        record,
        lastPingSentMs: nowMs - 5,
        lastPongReceivedMs: nowMs - 3,
        findFails: 2,
      };
      db.putNode(n);
      assert.deepEqual(db.getNode(n.id), n, 'visible at once, before any flush');
      await db.flush();
      assert.deepEqual(db.getNode(n.id), n, 'and after the commit');
      assert.equal(db.size, 1);

      assert.equal(db.updateNode(n.id, { findFails: 3, udpPort: 1 }), true);
      assert.deepEqual(db.getNode(n.id), { ...n, findFails: 3, udpPort: 1 });
      assert.equal(db.updateNode(n.id, { seq: undefined, record: undefined }), true);
      const cleared = db.getNode(n.id);
      assert.ok(cleared);
      assert.equal('seq' in cleared, false);
      assert.equal('record' in cleared, false);
      assert.equal(db.updateNode(testId(99), { findFails: 1 }), false, 'unknown node');

      db.deleteNode(n.id);
      assert.equal(db.getNode(n.id), undefined);
      assert.equal(db.size, 0);
      await db.flush();
      assert.equal(db.getNode(n.id), undefined);
      assert.equal(db.stats().pendingWrites, 0);
    });

    it('keeps one record per id: a new endpoint replaces the old one, size counts ids', async () => {
      await open();
      db.putNode(testNode(1));
      db.putNode(testNode(2));
      db.putNode({ ...testNode(1), ip: Buffer.from([192, 0, 2, 9]), udpPort: 9 });
      assert.equal(db.size, 2);
      await db.flush();
      assert.deepEqual(db.getNode(testId(1))?.ip, Buffer.from([192, 0, 2, 9]));
      db.deleteNode(testId(3)); // unknown: no effect
      assert.equal(db.size, 2);
    });

    it('rejects nodes it cannot store with InvalidArgumentError', async () => {
      await open();
      assert.throws(() => db.putNode({ ...testNode(1), id: Buffer.alloc(63) }), InvalidArgumentError);
      assert.throws(() => db.putNode({ ...testNode(1), ip: Buffer.alloc(5) }), InvalidArgumentError);
      assert.throws(() => db.putNode({ ...testNode(1), record: Buffer.alloc(301) }), InvalidArgumentError);
      assert.throws(() => db.putNode({ ...testNode(1), seq: 1n << 64n }), InvalidArgumentError);
      assert.throws(() => db.putNode({ ...testNode(1), udpPort: 70000 }), InvalidArgumentError);
      assert.throws(() => db.getNode(Buffer.alloc(32)), InvalidArgumentError);
      assert.equal(db.size, 0);
    });

    it('stores the local seq (0n until set) and meta values', async () => {
      await open();
      assert.equal(db.localSeq(), 0n);
      await db.setLocalSeq((1n << 63n) + 1n);
      assert.equal(db.localSeq(), (1n << 63n) + 1n);
      assert.equal(db.getMeta('bans'), undefined);
      const v = Buffer.from('ban list v1');
      const p = db.putMeta('bans', v);
      v.fill(0); // the DB copied it
      assert.deepEqual(db.getMeta('bans'), Buffer.from('ban list v1'), 'visible before the promise settles');
      await p;
      assert.deepEqual(db.getMeta('bans'), Buffer.from('ban list v1'));
      assert.throws(() => db.getMeta(''), InvalidArgumentError);
    });

    it('seedNodes returns at most n nodes, only recent ones, in varying random order', async () => {
      await open();
      for (let i = 0; i < 300; i++) db.putNode(testNode(i, { lastPongReceivedMs: i % 2 ? nowMs - 2 * HOUR_MS : nowMs - 60_000 }));
      // Half still queued, half committed: seeds come from both.
      await db.flush();
      for (let i = 300; i < 400; i++) db.putNode(testNode(i, { lastPongReceivedMs: nowMs - 1000 }));
      const fresh = (s: StoredNode): boolean => nowMs - s.lastPongReceivedMs <= HOUR_MS;
      const orders = new Set<string>();
      for (let round = 0; round < 5; round++) {
        const seeds = db.seedNodes(20, HOUR_MS);
        assert.ok(seeds.length > 0 && seeds.length <= 20, `got ${seeds.length}`);
        assert.ok(seeds.every(fresh), 'only nodes within maxAgeMs');
        assert.equal(new Set(seeds.map((s) => s.id.toString('hex'))).size, seeds.length, 'no duplicates');
        orders.add(seeds.map((s) => s.id.toString('hex').slice(0, 8)).join());
      }
      assert.ok(orders.size > 1, 'not the same selection every time');
      assert.deepEqual(db.seedNodes(0, HOUR_MS), []);
      assert.deepEqual(db.seedNodes(10, -1), [], 'nothing is that recent');
    });

    it('seedNodes finds every node of a small DB', async () => {
      await open();
      for (let i = 0; i < 3; i++) db.putNode(testNode(i, { lastPongReceivedMs: nowMs }));
      await db.flush();
      assert.equal(db.seedNodes(10, HOUR_MS).length, 3);
    });

    it('expire deletes nodes older than expiryMs, at most maxWork examined per call, resuming across calls', async () => {
      await open({ expiryMs: 24 * HOUR_MS });
      for (let i = 0; i < 1000; i++) db.putNode(testNode(i, { lastPongReceivedMs: nowMs - 25 * HOUR_MS }));
      db.putNode(testNode(5000, { lastPongReceivedMs: 0 })); // never answered: as old as it gets
      await db.flush();
      nowMs += 1; // the clock moves; nothing else changes
      for (let i = 1000; i < 1010; i++) db.putNode(testNode(i, { lastPongReceivedMs: nowMs - 23 * HOUR_MS }));
      const perCall: number[] = [];
      for (let call = 0; call < 10; call++) perCall.push(db.expire(101));
      // 1001 stale + 10 fresh = 1011 entries: ten calls of 101 examine 1010
      // of them, at most 10 of those fresh; the eleventh examines the last.
      assert.ok(perCall.every((d) => d <= 101), `bounded: ${perCall.join()}`);
      const after10 = perCall.reduce((a, b) => a + b, 0);
      assert.ok(after10 >= 1000 && after10 <= 1001, `ten calls deleted ${after10}`);
      const last = db.expire(101); // the rest, then the end of the key space
      assert.equal(after10 + last, 1001);
      assert.equal(db.size, 10);
      assert.equal(db.stats().expired, 1001);
      for (let i = 1000; i < 1010; i++) assert.ok(db.getNode(testId(i)), 'recent nodes stay');
      assert.equal(db.getNode(testId(3)), undefined);
      await db.flush();
      assert.equal(db.size, 10);
      // The next pass starts over from the first node.
      nowMs += 2 * HOUR_MS;
      assert.equal(db.expire(100), 10);
      assert.equal(db.size, 0);
    });

    it('expire with 1,000 stale nodes and maxWork 100 takes exactly 10 calls', async () => {
      await open();
      for (let i = 0; i < 1000; i++) db.putNode(testNode(i, { lastPongReceivedMs: nowMs - 48 * HOUR_MS }));
      await db.flush();
      const perCall = Array.from({ length: 10 }, () => db.expire(100));
      assert.deepEqual(perCall, Array(10).fill(100));
      assert.equal(db.expire(100), 0);
      assert.equal(db.size, 0);
    });

    it('startExpiry runs expire every interval on the injected clock, and stops with close', async () => {
      const clock = new FakeClock();
      await open({ expiryMs: HOUR_MS, clock });
      for (let i = 0; i < 5; i++) db.putNode(testNode(i, { lastPongReceivedMs: nowMs - 2 * HOUR_MS }));
      db.putNode(testNode(9, { lastPongReceivedMs: nowMs }));
      db.startExpiry(10_000);
      clock.advance(9_999);
      assert.equal(db.size, 6, 'nothing expired before the interval');
      clock.advance(1);
      assert.equal(db.size, 1);
      assert.equal(db.stats().expired, 5);
      db.putNode(testNode(7, { lastPongReceivedMs: nowMs - 2 * HOUR_MS }));
      clock.advance(10_000);
      assert.equal(db.stats().expired, 6, 'runs again after the next interval');
      await db.close();
      assert.equal(clock.pendingTimers(), 0, 'close cancels the expiry timer');
    });

    it('coalesces writes to one node and bounds the queue, dropping the oldest node writes', async () => {
      await open({ maxPendingWrites: 50 });
      for (let i = 0; i < 1000; i++) db.updateNode(testId(1), { findFails: i }) || db.putNode(testNode(1));
      assert.equal(db.stats().pendingWrites, 1, 'a thousand updates of one node are one pending write');
      await db.flush();
      assert.equal(db.getNode(testId(1))?.findFails, 999);

      // 500 new nodes in one event turn: the first 51 go out as a batch, the
      // queue then holds at most 50 and drops the least recently written.
      const metaDone = db.putMeta('keep', Buffer.from([1]));
      for (let i = 100; i < 600; i++) db.putNode(testNode(i));
      const s = db.stats();
      assert.ok(s.pendingWrites <= 50 + 52, `bounded: ${s.pendingWrites}`);
      assert.ok(s.droppedWrites > 0);
      await metaDone;
      await db.flush();
      let visible = 0;
      for (let i = 100; i < 600; i++) if (db.getNode(testId(i))) visible++;
      assert.equal(db.size, visible + 1, 'size matches what reads see');
      assert.equal(visible, 500 - s.droppedWrites);
      assert.ok(db.getNode(testId(599)), 'the newest writes survive');
      assert.deepEqual(db.getMeta('keep'), Buffer.from([1]), 'meta writes are never dropped');
    });

    it('close() is idempotent and later calls throw DbError DB_IO', async () => {
      await open();
      db.putNode(testNode(1));
      const first = db.close();
      assert.equal(db.close(), first, 'same promise');
      await first;
      await db.close();
      const label = db.path ?? ':memory:';
      const closedErr = (err: unknown): boolean => err instanceof DbError && err.code === 'DB_IO' && err.message.includes('closed') && err.path === label;
      assert.throws(() => db.getNode(testId(1)), closedErr);
      assert.throws(() => db.putNode(testNode(2)), closedErr);
      assert.throws(() => db.updateNode(testId(1), {}), closedErr);
      assert.throws(() => db.deleteNode(testId(1)), closedErr);
      assert.throws(() => db.seedNodes(1, HOUR_MS), closedErr);
      assert.throws(() => db.expire(), closedErr);
      assert.throws(() => db.startExpiry(), closedErr);
      assert.throws(() => db.localSeq(), closedErr);
      assert.throws(() => db.getMeta('x'), closedErr);
      await assert.rejects(db.setLocalSeq(1n), closedErr);
      await assert.rejects(db.putMeta('x', Buffer.alloc(1)), closedErr);
      await assert.rejects(db.flush(), closedErr);
      assert.equal(db.size, 1, 'counters stay readable');
    });
  });
}

/** A memory store whose commits fail while `failing` is set: a full or failing disk. */
class FailingStore extends MemoryStore {
  failing = false;
  override async write(ops: readonly WriteOp[]): Promise<void> {
    if (this.failing) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    return super.write(ops);
  }
}

describe('NodeDB write failures', () => {
  it('counts failed background writes, reports them once from flush() as DB_IO, and rejects durable writes', async () => {
    const store = new FailingStore();
    // NodeDB.open has no store parameter; the private factory takes one.
    const start = (NodeDB as unknown as { start(s: FailingStore, p: null, o: NodeDBOptions): Promise<NodeDB> }).start;
    const db = await start.call(NodeDB, store, null, {});
    db.putNode(testNode(1));
    await db.flush();
    store.failing = true;
    db.putNode(testNode(2));
    db.deleteNode(testId(1));
    assert.equal(db.size, 1);
    await assert.rejects(db.setLocalSeq(5n), (err: unknown) => err instanceof DbError && err.code === 'DB_IO' && /ENOSPC/.test(err.message));
    await assert.rejects(db.flush(), (err: unknown) => err instanceof DbError && err.code === 'DB_IO');
    await db.flush(); // reported once
    assert.equal(db.stats().writeErrors, 3);
    assert.ok(db.getNode(testId(1)), 'the failed delete did not happen');
    assert.equal(db.getNode(testId(2)), undefined, 'the failed put did not happen');
    assert.equal(db.size, 1, 'size follows what is committed');
    assert.equal(db.localSeq(), 0n);
    store.failing = false;
    await db.setLocalSeq(5n);
    assert.equal(db.localSeq(), 5n);
    await db.close();
  });
});

describe('NodeDB on disk', () => {
  it('has path null in memory and the absolute directory on disk', async () => {
    const mem = await NodeDB.open(null);
    assert.equal(mem.path, null);
    await mem.close();
    const dir = freshDir();
    const disk = await NodeDB.open(dir);
    assert.equal(disk.path, dir);
    await disk.close();
    assert.deepEqual(readdirSync(dir).sort(), [DATA_FILE, `${DATA_FILE}-lock`]);
  });

  it('survives a process restart: nodes and the local seq written by a child process are found', async () => {
    const dir = freshDir();
    const child = await runFixture('write-nodes.ts', [dir, '50', String((1n << 62n) + 5n)]);
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'done 50');
    const db = await NodeDB.open(dir);
    try {
      assert.equal(db.size, 50);
      assert.equal(db.localSeq(), (1n << 62n) + 5n);
      for (let i = 0; i < 50; i++) assert.deepEqual(db.getNode(testId(i))?.ip, testNode(i).ip);
      assert.equal(db.seedNodes(10, HOUR_MS).length, 10);
    } finally {
      await db.close();
    }
  });

  it('keeps nodes across close and reopen in one process', async () => {
    const dir = freshDir();
    let db = await NodeDB.open(dir);
    db.putNode(testNode(1, { seq: 2n ** 64n - 1n }));
    await db.putMeta('k', Buffer.from('v'));
    await db.close();
    db = await NodeDB.open(dir);
    assert.equal(db.getNode(testId(1))?.seq, 2n ** 64n - 1n);
    assert.deepEqual(db.getMeta('k'), Buffer.from('v'));
    await db.close();
  });

  it('rejects another schema version with DB_VERSION, naming the path and how to reset, and leaves the files alone', async () => {
    const dir = freshDir();
    await (await NodeDB.open(dir)).close();
    await writeRaw(dir, [
      [Buffer.from('version'), Buffer.from([0, 0, 0, 3])],
      [Buffer.concat([Buffer.from('n:'), testId(1)]), Buffer.from('something else')],
    ]);
    const err = await rejectsWith(NodeDB.open(dir), 'DB_VERSION', dir);
    assert.equal(err.message, `node DB at ${dir} has schema version 3, this build expects 1; ${RESET_ADVICE}`);
    const sizeBefore = statSync(join(dir, DATA_FILE)).size;
    await rejectsWith(NodeDB.open(dir), 'DB_VERSION', dir);
    assert.equal(statSync(join(dir, DATA_FILE)).size, sizeBefore, 'nothing wiped');
  });

  it('rejects a store with data but no version key with DB_VERSION', async () => {
    const dir = freshDir();
    await (await NodeDB.open(dir)).close();
    const raw = openLmdb<Buffer, Buffer>({ path: join(dir, DATA_FILE), noSubdir: true, encoding: 'binary', keyEncoding: 'binary' });
    await raw.remove(Buffer.from('version'));
    await raw.put(Buffer.from('other'), Buffer.from('x'));
    await raw.close();
    const err = await rejectsWith(NodeDB.open(dir), 'DB_VERSION', dir);
    assert.match(err.message, /no schema version/);
  });

  it('rejects a malformed local:seq entry with DB_CORRUPT rather than guess a seq', async () => {
    const dir = freshDir();
    await (await NodeDB.open(dir)).close();
    await writeRaw(dir, [[Buffer.from('local:seq'), Buffer.from([1, 2, 3])]]);
    const err = await rejectsWith(NodeDB.open(dir), 'DB_CORRUPT', dir);
    assert.ok(err.message.includes(RESET_ADVICE));
  });

  it('skips and counts undecodable node values, never deletes them, and lets putNode overwrite them', async () => {
    const dir = freshDir();
    const now = Date.now();
    let db = await NodeDB.open(dir);
    for (let i = 0; i < 5; i++) db.putNode(testNode(i, { lastPongReceivedMs: now - 10 * 24 * HOUR_MS }));
    await db.close();
    const badKey = Buffer.concat([Buffer.from('n:'), testId(2)]);
    await writeRaw(dir, [
      [badKey, Buffer.from('{"json":"from someone else"}')],
      [Buffer.from('n:short'), Buffer.from([1])],
    ]);
    db = await NodeDB.open(dir);
    try {
      assert.equal(db.size, 4);
      assert.equal(db.stats().corruptEntries, 2);
      assert.equal(db.getNode(testId(2)), undefined);
      assert.equal(db.seedNodes(10, 100 * 24 * HOUR_MS).length, 4);
      assert.equal(db.expire(), 4, 'the stale good nodes go, the bad entry stays');
      await db.flush();
      assert.equal(db.size, 0);
      assert.ok(db.stats().corruptEntries >= 4);
      db.putNode(testNode(2, { lastPongReceivedMs: now }));
      assert.equal(db.size, 1);
      await db.flush();
      assert.equal(db.getNode(testId(2))?.lastPongReceivedMs, now);
    } finally {
      await db.close();
    }
    const raw = openLmdb<Buffer, Buffer>({ path: join(dir, DATA_FILE), noSubdir: true, encoding: 'binary', keyEncoding: 'binary' });
    assert.deepEqual(raw.get(Buffer.from('n:short')), Buffer.from([1]), 'not wiped');
    await raw.close();
  });

  it('rejects garbage data files with DB_CORRUPT naming the path, without crashing (checked in a child process)', async () => {
    const full = freshDir();
    const short = freshDir();
    const both = freshDir();
    for (const dir of [full, short, both]) {
      const db = await NodeDB.open(dir);
      for (let i = 0; i < 200; i++) db.putNode(testNode(i, { record: randomBytes(100) }));
      await db.close();
    }
    const file = (dir: string): string => join(dir, DATA_FILE);
    writeFileSync(file(full), randomBytes(statSync(file(full)).size)); // same size, all random
    writeFileSync(file(short), randomBytes(100)); // a torn copy
    writeFileSync(file(both), randomBytes(statSync(file(both)).size));
    writeFileSync(`${file(both)}-lock`, randomBytes(statSync(`${file(both)}-lock`).size));
    const child = await runFixture('open-db.ts', [full, short, both]);
    assert.equal(child.signal, null, `child crashed: ${child.stderr}`);
    assert.equal(child.code, 0, child.stderr);
    const results = child.stdout.trim().split('\n').map((l) => JSON.parse(l) as { dir: string; ok: boolean; isDbError: boolean; code: string; path: string; message: string });
    assert.equal(results.length, 3);
    for (const r of results) {
      assert.equal(r.ok, false, r.dir);
      assert.equal(r.isDbError, true);
      assert.equal(r.code, 'DB_CORRUPT');
      assert.equal(r.path, r.dir);
      assert.ok(r.message.includes(r.dir) && r.message.includes(RESET_ADVICE), r.message);
    }
  });

  it('with verifyInChild, B-tree damage that would abort LMDB in this process rejects with DB_CORRUPT instead', async () => {
    const dir = freshDir();
    const db = await NodeDB.open(dir);
    for (let i = 0; i < 300; i++) db.putNode(testNode(i, { record: randomBytes(100) }));
    await db.close();
    // The second-to-last leaf: a plain open's node scan steps onto it and
    // liblmdb's IS_LEAF assertion aborts the process (exit 134).
    damageLeaf(join(dir, DATA_FILE), 2);
    const child = await runFixture('open-db.ts', ['--verify', dir]);
    assert.equal(child.signal, null, `child crashed: ${child.stderr}`);
    assert.equal(child.code, 0, child.stderr);
    const r = JSON.parse(child.stdout.trim()) as { code: string; path: string; message: string };
    assert.equal(r.code, 'DB_CORRUPT');
    assert.equal(r.path, dir);
    assert.match(r.message, /probe process/);
    assert.ok(r.message.includes(RESET_ADVICE));
  });

  it('with verifyInChild, opens a sound DB as usual', async () => {
    const dir = freshDir();
    let db = await NodeDB.open(dir, { verifyInChild: true }); // new: nothing to probe
    for (let i = 0; i < 300; i++) db.putNode(testNode(i));
    await db.close();
    db = await NodeDB.open(dir, { verifyInChild: true });
    assert.equal(db.size, 300);
    await db.close();
  });

  it('rejects a DB directory that is a file with DB_IO', async () => {
    const path = join(tmpRoot, 'a-file');
    writeFileSync(path, 'x');
    await rejectsWith(NodeDB.open(path), 'DB_IO', path);
  });

  it('rejects a second open of an open directory in the same process with DB_LOCKED, and allows it after close', async () => {
    const dir = freshDir();
    const a = await NodeDB.open(dir);
    try {
      a.putNode(testNode(1));
      const [r1, r2] = await Promise.allSettled([NodeDB.open(dir), NodeDB.open(join(dir, '.', ''))]);
      for (const r of [r1, r2]) {
        assert.equal(r.status, 'rejected');
        const err = (r as PromiseRejectedResult).reason as DbError;
        assert.ok(err instanceof DbError);
        assert.equal(err.code, 'DB_LOCKED');
        assert.ok(err.message.includes(dir), err.message);
      }
      assert.ok(a.getNode(testId(1)), 'the first opener is unaffected');
    } finally {
      await a.close();
    }
    const b = await NodeDB.open(dir);
    assert.equal(b.size, 1);
    await b.close();
  });

  it('lets concurrent opens of one new directory race safely: exactly one wins', async () => {
    const dir = freshDir();
    const results = await Promise.allSettled([NodeDB.open(dir), NodeDB.open(dir), NodeDB.open(dir)]);
    const won = results.filter((r): r is PromiseFulfilledResult<NodeDB> => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as DbError).code, 'DB_LOCKED');
    await won[0].value.close();
  });

  it('can be shared with another process writing at the same time without corruption', async () => {
    const dir = freshDir();
    const db = await NodeDB.open(dir);
    try {
      for (let i = 0; i < 100; i++) db.putNode(testNode(i));
      const child = runFixture('write-nodes.ts', [dir, '100', '5', '1000']);
      for (let i = 100; i < 200; i++) db.putNode(testNode(i));
      await db.flush();
      const r = await child;
      assert.equal(r.code, 0, r.stderr);
      await nextTurn(); // LMDB renews a reader's snapshot once per event turn
      for (const i of [0, 199, 1000, 1099]) assert.ok(db.getNode(testId(i)), `node ${i}`);
      assert.equal(db.localSeq(), 5n);
    } finally {
      await db.close();
    }
    const again = await NodeDB.open(dir);
    assert.equal(again.size, 300);
    assert.equal(again.stats().corruptEntries, 0);
    await again.close();
  });
});
