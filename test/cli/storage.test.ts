/**
 * Storage safety as an operator meets it: a node DB file cut short or
 * overwritten with garbage, a key file damaged, truncated or replaced by a
 * directory. The bootnode must refuse each with exit 1 and ONE line naming
 * the path and what to do, and leave every file as it found it: nothing is
 * deleted, rewritten or created behind the operator's back. Key files in
 * the forms geth writes and reads (crypto.SaveECDSA: 64 hex characters, no
 * newline; LoadECDSA: up to two trailing \r or \n) must keep working.
 *
 * The datadir under test is one a real bootnode wrote while a few hundred
 * nodes joined it; each case damages a copy. Child processes on 127.0.0.1,
 * a few at a time, each bounded in time.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nodeIdFromPrivateKey } from '../../src/crypto';
import { NodeDB } from '../../src/db';
import { testId, testNode } from '../db/helpers';
import { bootnodeArgs, dbNodesAtStart } from '../db/fixtures/crash-helpers';
import { JoinLoad } from '../db/fixtures/join-load';
import { lmdbLayout } from './fixtures/lmdb-pages';
import { CliResult, killAll, runCli, startBootnode, stop, tempDir, until } from './helpers';
import { prng } from '../helpers/prng';

const RESET_ADVICE = 'move or delete the directory to start fresh (its nodes will be re-learned)';
const NODE_ARGS = ['--addr', '127.0.0.1:0', '--threads', '1', '--status-interval', '0'];
/** CLI children at once: enough to keep the test short, few enough to leave the machine's other cores alone. */
const PARALLEL = 3;


function garbage(rand: () => number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/**
 * Every file, directory and symlink under `dir`, with the sha256 of each
 * file: what "untouched" compares. LMDB's lock file (`nodes.mdb-lock`)
 * holds no data, only the reader table and mutexes, which any open
 * rewrites, even the read-only one of the DB probe: it must stay, its
 * bytes may change.
 */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: string) => {
    const full = path.join(dir, rel);
    const st = fs.lstatSync(full);
    if (st.isSymbolicLink()) {
      out.set(rel, `link to ${fs.readlinkSync(full)}`);
    } else if (st.isDirectory()) {
      out.set(`${rel}/`, 'dir');
      for (const name of fs.readdirSync(full).sort()) visit(path.join(rel, name));
    } else {
      out.set(rel, rel.endsWith('.mdb-lock') ? 'lock file' : createHash('sha256').update(fs.readFileSync(full)).digest('hex'));
    }
  };
  visit('.');
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs `fn` over `items`, at most PARALLEL at a time, results in order. */
async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += PARALLEL) out.push(...(await Promise.all(items.slice(i, i + PARALLEL).map(fn))));
  return out;
}

/** The process failed with exit 1 and printed exactly one line, `discv4: ...`, matching `message`. */
function assertOneLineFailure(what: string, r: CliResult, message: RegExp): void {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.code, 1, `${what}: exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^discv4: /, what);
  assert.match(lines[0], message, what);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

describe('storage safety: damaged node DB and key files (CLI bootnode)', function () {
  this.timeout(60_000);
  let root: string;
  /** A datadir a bootnode wrote: nodekey and nodes/ holding `baseNodes` nodes. */
  let base: string;
  let baseId: string;
  let baseNodes: number;
  let caseNo = 0;

  before(async function () {
    this.timeout(30_000);
    root = tempDir('discv4-storage-');
    base = path.join(root, 'base');
    const b = await startBootnode(bootnodeArgs(base), root);
    baseId = b.id;
    const load = JoinLoad.start(b.port, { joinsPerSec: 300 });
    try {
      await until(() => load.stats.joins >= 250, 10_000, '250 nodes joining');
    } finally {
      await load.stop();
    }
    const r = await stop(b, 'SIGTERM');
    assert.equal(r.code, 0, r.stderr);
    // A second clean start and stop: the file now holds older snapshots and free pages too, as a DB in service does.
    const again = await startBootnode(bootnodeArgs(base), root);
    baseNodes = await dbNodesAtStart(again);
    assert.ok(baseNodes >= 200, `the base DB holds ${baseNodes} nodes`);
    assert.equal((await stop(again, 'SIGTERM')).code, 0);
  });

  after(() => {
    killAll();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** A fresh copy of the base datadir, damaged by `damage`. */
  function damagedCopy(damage: (dataFile: string, keyFile: string) => void): string {
    const dir = path.join(root, `case${caseNo++}`);
    fs.cpSync(base, dir, { recursive: true });
    damage(path.join(dir, 'nodes', 'nodes.mdb'), path.join(dir, 'nodekey'));
    return dir;
  }

  interface Case {
    name: string;
    dir: string;
  }

  /** Runs the bootnode on each case's datadir; each must fail with one line matching message(dir) and leave the datadir as it was. */
  async function assertRefused(cases: Case[], message: (dir: string) => RegExp): Promise<void> {
    const before = cases.map((c) => snapshot(c.dir));
    const results = await inBatches(cases, (c) => runCli(['--datadir', c.dir, ...NODE_ARGS], { cwd: root, timeoutMs: 20_000 }));
    cases.forEach((c, i) => {
      assertOneLineFailure(c.name, results[i], message(c.dir));
      assert.deepEqual(snapshot(c.dir), before[i], `${c.name}: the datadir changed`);
    });
  }

  const dbCorrupt = (dir: string) => new RegExp(`^discv4: node DB at ${escapeRe(path.join(dir, 'nodes'))} is corrupt \\(nodes\\.mdb: [^\\n]+\\); ${escapeRe(RESET_ADVICE)}$`);

  it('refuses a node DB file cut to 0 bytes, 100 bytes, one page or half: exit 1, one line naming the DB and the fix, files untouched', async () => {
    const layout = lmdbLayout(path.join(base, 'nodes', 'nodes.mdb'));
    const half = Math.floor(layout.pages / 2) * layout.pageBytes;
    assert.ok([...layout.live].some((p) => p * layout.pageBytes >= half), 'the base DB has live pages in its second half');
    const cut = (bytes: number) => (file: string) => fs.truncateSync(file, bytes);
    const cases: Case[] = [
      { name: '0 bytes', dir: damagedCopy(cut(0)) },
      { name: '100 bytes', dir: damagedCopy(cut(100)) },
      { name: 'one page', dir: damagedCopy(cut(layout.pageBytes)) },
      { name: 'half', dir: damagedCopy(cut(half)) },
    ];
    await assertRefused(cases, dbCorrupt);
  });

  it('refuses a node DB with garbage over its meta pages, tree roots, leaves or random live pages: exit 1, one line, files untouched', async () => {
    const layout = lmdbLayout(path.join(base, 'nodes', 'nodes.mdb'));
    assert.ok(layout.main.branches.length > 0 && layout.main.leaves.length > 2 && layout.free.root !== undefined, 'the base DB has a branch, leaves and a free-page tree');
    const rand = prng(0x5eed);
    const overwrite = (...pages: number[]) => (file: string) => {
      const fd = fs.openSync(file, 'r+');
      try {
        for (const p of pages) fs.writeSync(fd, garbage(rand, layout.pageBytes), 0, layout.pageBytes, p * layout.pageBytes);
      } finally {
        fs.closeSync(fd);
      }
    };
    const live = [...layout.live].filter((p) => p >= 2).sort((a, b) => a - b);
    const pick = () => live[Math.floor(rand() * live.length)];
    const randomPages = [pick(), pick(), pick()];
    const cases: Case[] = [
      { name: 'meta page 0', dir: damagedCopy(overwrite(0)) },
      { name: 'both meta pages', dir: damagedCopy(overwrite(0, 1)) },
      { name: `main tree root (page ${layout.main.root})`, dir: damagedCopy(overwrite(layout.main.root!)) },
      { name: `first leaf (page ${layout.main.leaves[0]})`, dir: damagedCopy(overwrite(layout.main.leaves[0])) },
      { name: `last leaf (page ${layout.main.leaves.at(-1)})`, dir: damagedCopy(overwrite(layout.main.leaves.at(-1)!)) },
      { name: `free-page tree root (page ${layout.free.root})`, dir: damagedCopy(overwrite(layout.free.root!)) },
      ...randomPages.map((p) => ({ name: `random live page ${p}`, dir: damagedCopy(overwrite(p)) })),
    ];
    await assertRefused(cases, dbCorrupt);
  });

  it('opens a node DB whose garbage page is free (in no tree), with all its nodes, and serves', async () => {
    const layout = lmdbLayout(path.join(base, 'nodes', 'nodes.mdb'));
    const free = [...Array(layout.pages).keys()].filter((p) => p >= 2 && !layout.live.has(p));
    assert.ok(free.length > 0, 'the base DB has a free page');
    const rand = prng(0xf4ee);
    const dir = damagedCopy((file) => {
      const b = fs.readFileSync(file);
      garbage(rand, layout.pageBytes).copy(b, free[0] * layout.pageBytes);
      fs.writeFileSync(file, b);
    });
    const b = await startBootnode(['--datadir', dir, '--threads', '1', '--status-interval', '0'], root);
    assert.equal(b.id, baseId);
    assert.equal(await dbNodesAtStart(b), baseNodes, 'every node is still there');
    const ping = await runCli(['ping', b.enode, '--addr', '127.0.0.1:0'], { cwd: root });
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal((await stop(b, 'SIGTERM')).code, 0);
  });

  it("refuses a node DB whose data or lock file is a directory or a symlink to nothing: exit 1, one line naming the file and the fix (not 'corrupt'), no crash, files untouched", async () => {
    // LMDB's native code crashes on these (SIGSEGV) instead of failing: in
    // the bootnode itself on a new DB, in the probe on an existing one.
    const lockIs = (make: (lock: string) => void) => (db: string) => {
      fs.rmSync(`${db}-lock`);
      make(`${db}-lock`);
    };
    const cases: Case[] = [
      { name: 'lock file a directory', dir: damagedCopy(lockIs((lock) => fs.mkdirSync(lock))) },
      { name: 'lock file a symlink to nothing', dir: damagedCopy(lockIs((lock) => fs.symlinkSync(path.join(root, 'nowhere'), lock))) },
      { name: 'lock file a directory, no data file yet', dir: damagedCopy(lockIs((lock) => (fs.rmSync(lock.replace(/-lock$/, '')), fs.mkdirSync(lock)))) },
      {
        name: 'data file a directory',
        dir: damagedCopy((db) => {
          fs.rmSync(db);
          fs.mkdirSync(db);
        }),
      },
    ];
    const expected = ['a directory', 'a symbolic link to nothing', 'a directory', 'a directory'];
    await assertRefused(cases, (dir) => {
      const i = cases.findIndex((c) => c.dir === dir);
      const nodes = path.join(dir, 'nodes');
      const lock = i < 3;
      const file = path.join(nodes, lock ? 'nodes.mdb-lock' : 'nodes.mdb');
      const what = lock ? "LMDB's lock file" : 'the data file';
      const fix = `${expected[i] === 'a directory' ? 'move it away' : 'remove the link'} (${lock ? 'LMDB makes a new lock file' : 'the node DB starts afresh; its nodes will be re-learned'}), or choose another --datadir`;
      return new RegExp(`^discv4: cannot open node DB at ${escapeRe(nodes)}: ${escapeRe(what)} ${escapeRe(file)} is ${expected[i]}; ${escapeRe(fix)}$`);
    });
  });

  it('refuses a key file with bytes flipped, cut short, emptied, zeroed or replaced by a directory: exit 1, one line naming it and the fix, never replaced', async () => {
    const keyHex = fs.readFileSync(path.join(base, 'nodekey'), 'utf8').trim();
    const rand = prng(0x6b6579);
    const write = (text: string | Buffer) => (_db: string, key: string) => fs.writeFileSync(key, text, { mode: 0o600 });
    const flipped = Buffer.from(`${keyHex}\n`);
    for (let i = 0; i < 3; i++) flipped[Math.floor(rand() * 64)] ^= 0x80; // no longer ASCII, so no longer hex
    const restore = (file: string) => `; restore it from a backup \\(the key is the node's identity\\), or move it away and run \`discv4 genkey ${escapeRe(file)}\` for a new identity$`;
    const notAKey = (found: string) => (dir: string) => {
      const file = path.join(dir, 'nodekey');
      return new RegExp(`^discv4: key file ${escapeRe(file)} does not hold a private key: expected 64 hex characters, found ${found}${restore(file)}`);
    };
    await assertRefused([{ name: 'bytes flipped to non-hex', dir: damagedCopy(write(flipped)) }], notAKey('non-hex characters'));
    await assertRefused([{ name: 'cut to 32 characters', dir: damagedCopy(write(keyHex.slice(0, 32))) }], notAKey('32 hex characters'));
    // Empty is not missing: an empty key file is never replaced by a new key (a new identity).
    await assertRefused([{ name: 'empty', dir: damagedCopy(write('')) }], notAKey('0 hex characters'));
    await assertRefused([{ name: 'a second line', dir: damagedCopy(write(`${keyHex}\nmore\n`)) }], notAKey('non-hex characters'));
    await assertRefused([{ name: 'all zero', dir: damagedCopy(write('0'.repeat(64))) }], (dir) => {
      const file = path.join(dir, 'nodekey');
      return new RegExp(`^discv4: key file ${escapeRe(file)} holds an invalid secp256k1 private key \\(zero, or not below the curve order\\)${restore(file)}`);
    });
    const asDir = damagedCopy((_db, key) => {
      fs.rmSync(key);
      fs.mkdirSync(key);
      fs.writeFileSync(path.join(key, 'keep'), 'the operator put this here');
    });
    await assertRefused([{ name: 'a directory', dir: asDir }], (dir) => {
      const file = path.join(dir, 'nodekey');
      return new RegExp(`^discv4: cannot read key file ${escapeRe(file)}: it is a directory; move the directory away and put the key file there, or run \`discv4 genkey ${escapeRe(file)}\` for a new identity$`);
    });
  });

  it("reads key files as geth writes and reads them (no newline, \\n, \\r\\n, \\n\\n): same id, file unchanged", async () => {
    const keyHex = fs.readFileSync(path.join(base, 'nodekey'), 'utf8').trim();
    const id = nodeIdFromPrivateKey(Buffer.from(keyHex, 'hex')).toString('hex');
    assert.equal(id, baseId);
    const forms = ['', '\n', '\r\n', '\n\n'];
    const dirs = forms.map((tail) => damagedCopy((_db, key) => fs.writeFileSync(key, `${keyHex}${tail}`, { mode: 0o600 })));
    const before = dirs.map((d) => snapshot(d));
    const results = await inBatches(dirs, (dir) => runCli(['--datadir', dir, '--writeaddress'], { cwd: root }));
    results.forEach((r, i) => {
      const what = `key + ${JSON.stringify(forms[i])}`;
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(r.stdout, `${id}\n`, what);
      assert.deepEqual(snapshot(dirs[i]), before[i], `${what}: the datadir changed`);
    });
  });
});

/** Runs test/db/fixtures/open-db.ts (NodeDB.open, verifyInChild) on each directory in one child process. */
function openInChild(dirs: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const fixture = path.join(__dirname, '..', 'db', 'fixtures', 'open-db.ts');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', fixture, '--verify', ...dirs], { timeout: 40_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

describe('node DB with any one page overwritten with garbage (NodeDB in a child process)', function () {
  this.timeout(60_000);
  let root: string;
  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses every page of its trees and both meta pages with DB_CORRUPT, never crashes, and opens whole when the page was free', async () => {
    root = tempDir('discv4-pages-');
    // A DB in service: nodes written, some rewritten and deleted over several runs, so it holds free pages too.
    const baseDir = path.join(root, 'base');
    for (let run = 0; run < 3; run++) {
      const db = await NodeDB.open(baseDir, { verifyInChild: false });
      for (let i = 0; i < 150; i++) db.putNode(testNode(run * 100 + i, { lastPongReceivedMs: 1_700_000_000_000 + run, record: Buffer.alloc(40 + (i % 60), i) }));
      for (let i = 0; i < 40; i++) db.deleteNode(testId(run * 100 + 3 * i));
      await db.setLocalSeq(BigInt(run + 1));
      await db.close();
    }
    const check = await NodeDB.open(baseDir, { verifyInChild: false });
    const nodes = check.size;
    await check.close();
    const file = path.join(baseDir, 'nodes.mdb');
    const layout = lmdbLayout(file);
    const rand = prng(0xda7a);
    const original = fs.readFileSync(file);
    const dirs: string[] = [];
    for (let p = 0; p < layout.pages; p++) {
      const dir = path.join(root, `p${p}`);
      fs.mkdirSync(dir);
      const b = Buffer.from(original);
      garbage(rand, layout.pageBytes).copy(b, p * layout.pageBytes);
      fs.writeFileSync(path.join(dir, 'nodes.mdb'), b);
      dirs.push(dir);
    }
    const child = await openInChild(dirs);
    assert.equal(child.signal, null, `the child crashed: ${child.stderr}`);
    assert.equal(child.code, 0, child.stderr);
    const results = child.stdout.trim().split('\n').map((l) => JSON.parse(l) as { dir: string; ok: boolean; size?: number; code?: string; message?: string });
    assert.equal(results.length, layout.pages);
    let refused = 0;
    results.forEach((r, p) => {
      const inUse = p < 2 || layout.live.has(p);
      if (inUse) {
        assert.equal(r.ok, false, `page ${p} (in use) was not noticed: opened with ${r.size} of ${nodes} nodes`);
        assert.equal(r.code, 'DB_CORRUPT', `page ${p}: ${r.message}`);
        assert.ok(r.message!.includes(r.dir) && r.message!.endsWith(RESET_ADVICE), r.message);
        refused++;
      } else {
        assert.equal(r.ok, true, `page ${p} is free, yet: ${r.message}`);
        assert.equal(r.size, nodes, `page ${p} is free, yet nodes went missing`);
      }
    });
    assert.ok(refused >= 8 && refused < layout.pages, `${refused} of ${layout.pages} pages refused`);
  });
});
