/**
 * KVStore over LMDB (npm `lmdb`, prebuilt binaries): synchronous reads from
 * the memory map, writes batched per event turn on lmdb's write thread.
 *
 * LMDB keeps no checksums, and the binding trusts the file's header: a
 * data file overwritten with garbage crashes the process inside open()
 * (SIGSEGV) instead of returning MDB_INVALID, because with overlappingSync
 * only the first meta page is checked before the others are used. So
 * {@link checkLmdbHeader} validates every meta copy in JS first, and a
 * garbage file becomes DB_CORRUPT. Damage to the B-tree pages behind valid
 * meta pages is not caught this way; LMDB reports most of it as
 * MDB_PAGE_NOTFOUND / MDB_CORRUPTED (mapped to DB_CORRUPT), but a native
 * crash (SIGSEGV, or abort() on an LMDB assertion) remains possible; in our
 * trials a single random page overwritten crashed the reader 7 times in
 * 12. {@link probeLmdbFile} reads the file in a throwaway process first
 * for callers that cannot afford that (NodeDBOptions.verifyInChild). Other
 * garbage pages read without error (a leaf reads as a few random entries;
 * the free-page tree is only read by the first write, which then crashes):
 * {@link checkLmdbTrees} walks both trees in JS and catches those.
 */
import { execFile } from 'node:child_process';
import { open as openFile, readFile, stat } from 'node:fs/promises';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import type { KVStore, WriteOp } from './store';

/** Subset of the LMDB on-disk format we check (liblmdb mdb.c as vendored by lmdb-js 3). */
const LMDB_MAGIC = 0xbeefc0de;
/** MDB_DATA_VERSION of the vendored liblmdb; any other value is refused by LMDB too. */
const LMDB_DATA_VERSION = 2;
const P_META = 0x08;
/** lmdb-js's page header: pgno u64, txnid u64, pad u16, flags u16, lower/upper u16 x2. */
const PAGE_HEADER_BYTES = 24;
const PAGE_FLAGS_OFF = 18;
// MDB_meta, relative to its start (PAGE_HEADER_BYTES into the page):
const META_MAGIC = 0;
const META_VERSION = 4;
const META_ADDRESS = 8; // fixed-map address: we never ask for one
const META_DBS = 24; // MDB_db[2]: free-page DB, main DB; 48 bytes each
const DB_BYTES = 48;
const DB_PAD = 0; // of the free DB: the page size
const DB_DEPTH = 6;
const DB_ROOT = 40;
const META_TXNID = META_DBS + 2 * DB_BYTES + 8; // after mm_last_pg
const MIN_PAGE = 512;
const MAX_PAGE = 65536;

/**
 * Why the file at `file` is not an LMDB file we can safely hand to the
 * binding, or undefined if its header is sound (or there is no file yet:
 * LMDB creates it). Throws the fs error if the file is unreadable.
 */
export async function checkLmdbHeader(file: string): Promise<string | undefined> {
  let fh;
  try {
    fh = await openFile(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    // LMDB writes both meta pages as it creates the file, so an empty one
    // was cut off; LMDB would quietly start it afresh, our seq with it.
    if (size === 0) return 'the file is empty (0 bytes): truncated';
    const head = Buffer.alloc(Math.min(size, 2 * MAX_PAGE));
    await fh.read(head, 0, head.length, 0);
    if (head.length < PAGE_HEADER_BYTES + META_TXNID + 8) return `file is too short for an LMDB header (${size} bytes)`;
    const m0 = PAGE_HEADER_BYTES;
    if (!(head.readUInt16LE(PAGE_FLAGS_OFF) & P_META)) return 'first page is not an LMDB meta page';
    if (head.readUInt32LE(m0 + META_MAGIC) !== LMDB_MAGIC) return 'bad LMDB magic number';
    const version = head.readUInt32LE(m0 + META_VERSION) & 0xffff;
    if (version !== LMDB_DATA_VERSION) return `LMDB data format ${version}, expected ${LMDB_DATA_VERSION}`;
    const pageBytes = head.readUInt32LE(m0 + META_DBS + DB_PAD);
    if (pageBytes < MIN_PAGE || pageBytes > MAX_PAGE || (pageBytes & (pageBytes - 1)) !== 0) return `bad page size ${pageBytes}`;
    if (size < 2 * pageBytes) return `file is shorter than its two meta pages (${size} bytes)`;
    const pages = Math.floor(size / pageBytes);
    // Meta copies LMDB may pick by txnid: page 0, the "flushed" copy at
    // half a page (overlappingSync), page 1. The flushed copy carries no
    // magic; an unused one is all zero.
    const metas = [
      { name: 'meta page 0', off: m0, header: true },
      { name: 'flushed meta', off: pageBytes / 2 + PAGE_HEADER_BYTES, header: false },
      { name: 'meta page 1', off: pageBytes + PAGE_HEADER_BYTES, header: true },
    ];
    for (const m of metas) {
      const txnid = head.readBigUInt64LE(m.off + META_TXNID);
      if (!m.header && txnid === 0n) continue;
      if (m.header) {
        if (!(head.readUInt16LE(m.off - PAGE_HEADER_BYTES + PAGE_FLAGS_OFF) & P_META)) return `${m.name} is not a meta page`;
        if (head.readUInt32LE(m.off + META_MAGIC) !== LMDB_MAGIC) return `${m.name} has a bad magic number`;
      }
      if (head.readBigUInt64LE(m.off + META_ADDRESS) !== 0n) return `${m.name} asks for a fixed map address`;
      if (head.readUInt32LE(m.off + META_DBS + DB_PAD) !== pageBytes) return `${m.name} has another page size`;
      for (let db = 0; db < 2; db++) {
        const d = m.off + META_DBS + db * DB_BYTES;
        const root = head.readBigUInt64LE(d + DB_ROOT);
        const depth = head.readUInt16LE(d + DB_DEPTH);
        // P_INVALID (all ones) is an empty tree; a root past the end of the
        // file would be read through the map past EOF (SIGBUS).
        if (root === 0xffff_ffff_ffff_ffffn) continue;
        if (root < 2n || root >= BigInt(pages)) return `${m.name}: tree root page ${root} outside the file (${pages} pages)`;
        if (depth === 0 || depth > 64) return `${m.name}: bad tree depth ${depth}`;
      }
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

// Page layout behind the meta pages (liblmdb mdb.c as vendored by lmdb-js 3).
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_LEAF2 = 0x20;
const P_SUBP = 0x40;
/** The page-kind bits (P_LEAF2 and P_SUBP only come with DUPSORT, which we never use). */
const P_KINDS = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2 | P_SUBP;
const PAGE_LOWER_OFF = 20; // u16, relative to the end of the header; overflow pages keep their page count (u32) here
const PAGE_UPPER_OFF = 22;
const NODE_HEADER_BYTES = 8; // mn_lo u16, mn_hi u16, mn_flags u16, mn_ksize u16
const F_BIGDATA = 0x01;
// MDB_db fields besides pad/depth/root:
const DB_BRANCH_PAGES = 8;
const DB_LEAF_PAGES = 16;
const DB_OVERFLOW_PAGES = 24;
const DB_ENTRIES = 32;
const META_LAST_PG = META_DBS + 2 * DB_BYTES;
const INVALID_PAGE = 0xffff_ffff_ffff_ffffn;
/** Files above this are not walked in JS (the probe still reads them); a node DB stays far below. */
const MAX_WALK_BYTES = 1 << 30;

/**
 * Walks both B-trees (free pages, main) of the newest snapshot in `file`
 * and checks every page on the way: its header names its own page number
 * (LMDB writes it on every page; garbage matches by chance once in 2^64),
 * it is a branch or leaf page as its depth says, its node pointers stay
 * inside it, and the pages, overflow pages and entries add up to the
 * counts the meta page keeps. LMDB checks none of this when it reads: a
 * garbage leaf page reads as a few random entries (nodes silently
 * missing), a garbage page of the free-page tree passes every read and
 * crashes the process at its first write. Free pages are not looked at:
 * LMDB overwrites them before use. Resolves undefined if the trees are
 * sound (or the file is empty or too large to walk), else what is wrong.
 * Call it on a file checkLmdbHeader accepted.
 *
 * Limit: after a power loss (not a process crash) with lmdb-js's
 * overlappingSync, LMDB may open the previous snapshot instead; this
 * judges the newest, as the probe process does.
 */
export async function checkLmdbTrees(file: string): Promise<string | undefined> {
  // Another process may share the DB and commit while we read (see
  // nodedb.ts, "Sharing"): a commit can reuse pages of older snapshots.
  // A read during which no commit happened (both meta txnids unchanged)
  // saw the newest snapshot whole; after a few torn tries, leave the
  // judgement to the probe and LMDB.
  for (let attempt = 0; attempt < 3; attempt++) {
    let b: Buffer;
    try {
      const size = (await stat(file)).size;
      if (size === 0 || size > MAX_WALK_BYTES) return undefined;
      b = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const bad = walkTrees(b);
    if (bad === undefined || (await metaTxnids(file)) === metaTxnidsOf(b)) return bad;
  }
  return undefined;
}

/** Both meta pages' txnids, as one comparable string. */
function metaTxnidsOf(b: Buffer): string {
  if (b.length < PAGE_HEADER_BYTES + META_TXNID + 8) return '';
  const pageBytes = b.readUInt32LE(PAGE_HEADER_BYTES + META_DBS + DB_PAD);
  const t0 = b.readBigUInt64LE(PAGE_HEADER_BYTES + META_TXNID);
  const t1 = b.length >= pageBytes + PAGE_HEADER_BYTES + META_TXNID + 8 ? b.readBigUInt64LE(pageBytes + PAGE_HEADER_BYTES + META_TXNID) : -1n;
  return `${t0}/${t1}`;
}

async function metaTxnids(file: string): Promise<string> {
  const fh = await openFile(file, 'r');
  try {
    const head = Buffer.alloc(2 * MAX_PAGE);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return metaTxnidsOf(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function walkTrees(b: Buffer): string | undefined {
  // checkLmdbHeader has vouched for the meta pages; this only guards the arithmetic.
  const pageBytes = b.length >= PAGE_HEADER_BYTES + META_TXNID + 8 ? b.readUInt32LE(PAGE_HEADER_BYTES + META_DBS + DB_PAD) : 0;
  if (pageBytes < MIN_PAGE || pageBytes > MAX_PAGE || b.length < 2 * pageBytes) return 'no sound meta pages';
  const m0 = PAGE_HEADER_BYTES;
  const m1 = pageBytes + PAGE_HEADER_BYTES;
  // The snapshot LMDB opens: the meta page with the higher txnid (mdb_env_pick_meta).
  const meta = b.readBigUInt64LE(m1 + META_TXNID) > b.readBigUInt64LE(m0 + META_TXNID) ? m1 : m0;
  const lastPage = b.readBigUInt64LE(meta + META_LAST_PG);
  const pages = BigInt(Math.floor(b.length / pageBytes));
  const seen = new Set<number>();
  for (const [dbi, name] of [
    [0, 'free-page tree'],
    [1, 'main tree'],
  ] as const) {
    const d = meta + META_DBS + dbi * DB_BYTES;
    const root = b.readBigUInt64LE(d + DB_ROOT);
    const depth = b.readUInt16LE(d + DB_DEPTH);
    const want = {
      branch: b.readBigUInt64LE(d + DB_BRANCH_PAGES),
      leaf: b.readBigUInt64LE(d + DB_LEAF_PAGES),
      overflow: b.readBigUInt64LE(d + DB_OVERFLOW_PAGES),
      entries: b.readBigUInt64LE(d + DB_ENTRIES),
    };
    const got = { branch: 0n, leaf: 0n, overflow: 0n, entries: 0n };
    const pageAt = (pg: bigint, what: string): number | string => {
      if (pg < 2n || pg > lastPage || pg >= pages) return `${name}: ${what} ${pg} outside the file (${pages} pages, last used ${lastPage})`;
      const n = Number(pg);
      if (seen.has(n)) return `${name}: page ${pg} is reached twice`;
      seen.add(n);
      const at = n * pageBytes;
      if (b.readBigUInt64LE(at) !== pg) return `${name}: page ${pg} holds something else (its header says page ${b.readBigUInt64LE(at)})`;
      return at;
    };
    if (root === INVALID_PAGE) {
      if (want.entries !== 0n || want.leaf !== 0n || want.branch !== 0n) return `${name}: no root page but ${want.entries} entries`;
      continue;
    }
    // Depth-first over (page, level); the leaves are at level depth - 1.
    const stack: Array<[bigint, number]> = [[root, 0]];
    while (stack.length > 0) {
      const [pg, level] = stack.pop()!;
      const at = pageAt(pg, 'page');
      if (typeof at === 'string') return at;
      const kind = b.readUInt16LE(at + PAGE_FLAGS_OFF) & P_KINDS;
      const leaf = level === depth - 1;
      if (kind !== (leaf ? P_LEAF : P_BRANCH)) return `${name}: page ${pg} is not a ${leaf ? 'leaf' : 'branch'} page (flags 0x${kind.toString(16)})`;
      const lower = b.readUInt16LE(at + PAGE_LOWER_OFF);
      const upper = b.readUInt16LE(at + PAGE_UPPER_OFF);
      const keys = lower >> 1;
      if (keys === 0 || lower > upper || PAGE_HEADER_BYTES + upper > pageBytes) return `${name}: page ${pg} has a bad layout (lower ${lower}, upper ${upper})`;
      if (leaf) got.leaf++;
      else got.branch++;
      for (let i = 0; i < keys; i++) {
        // Nodes sit between `upper` and the end of the page.
        const ptr = b.readUInt16LE(at + PAGE_HEADER_BYTES + 2 * i);
        const node = at + PAGE_HEADER_BYTES + ptr;
        if (ptr < upper || PAGE_HEADER_BYTES + ptr + NODE_HEADER_BYTES > pageBytes) return `${name}: page ${pg} has a node outside its bounds`;
        const keyBytes = b.readUInt16LE(node + 6);
        if (PAGE_HEADER_BYTES + ptr + NODE_HEADER_BYTES + keyBytes > pageBytes) return `${name}: page ${pg} has a key outside its bounds`;
        const lo = b.readUInt16LE(node);
        const hi = b.readUInt16LE(node + 2);
        const flags = b.readUInt16LE(node + 4);
        if (!leaf) {
          stack.push([BigInt(lo) | (BigInt(hi) << 16n) | (BigInt(flags) << 32n), level + 1]);
          continue;
        }
        got.entries++;
        const dataBytes = lo + hi * 0x10000; // not `hi << 16`: that turns negative from 2 GiB
        if (!(flags & F_BIGDATA)) {
          if (PAGE_HEADER_BYTES + ptr + NODE_HEADER_BYTES + keyBytes + dataBytes > pageBytes) return `${name}: page ${pg} has a value outside its bounds`;
          continue;
        }
        if (PAGE_HEADER_BYTES + ptr + NODE_HEADER_BYTES + keyBytes + 8 > pageBytes) return `${name}: page ${pg} has a node outside its bounds`;
        const opg = b.readBigUInt64LE(node + NODE_HEADER_BYTES + keyBytes);
        const oat = pageAt(opg, 'overflow page');
        if (typeof oat === 'string') return oat;
        const span = Math.floor((PAGE_HEADER_BYTES - 1 + dataBytes) / pageBytes) + 1; // OVPAGES
        if ((b.readUInt16LE(oat + PAGE_FLAGS_OFF) & P_KINDS) !== P_OVERFLOW || b.readUInt32LE(oat + PAGE_LOWER_OFF) !== span) {
          return `${name}: overflow page ${opg} does not hold the ${dataBytes}-byte value that points to it`;
        }
        if (opg + BigInt(span) > pages || opg + BigInt(span) - 1n > lastPage) return `${name}: overflow pages ${opg}+${span} run past the end of the file`;
        got.overflow += BigInt(span);
      }
    }
    for (const k of ['entries', 'leaf', 'branch', 'overflow'] as const) {
      if (got[k] !== want[k]) return `${name}: ${got[k]} ${k === 'entries' ? 'entries' : `${k} pages`} found, its meta page says ${want[k]}`;
    }
  }
  return undefined;
}

// Run by `node -e` in the probe: opens the file read-only and reads every
// entry, values included (overflow pages), so every page of the main tree
// is visited once.
const PROBE_SCRIPT = `
const { open } = require(process.argv[1]);
const db = open({ path: process.argv[2], noSubdir: true, readOnly: true, encoding: 'binary', keyEncoding: 'binary' });
let bytes = 0;
for (const { key, value } of db.getRange({})) bytes += key.length + value.length;
db.close().then(() => process.stdout.write('ok ' + bytes));
`;

/** How long the probe may take before we give up on it (a 100k-node DB reads in well under a second). */
const PROBE_TIMEOUT_MS = 60_000;

/**
 * Reads the whole LMDB file at `file` in a child process (this Node
 * binary), so damage that would crash LMDB's native code crashes the child
 * instead. Resolves undefined if the child read everything, else why not.
 */
export function probeLmdbFile(file: string): Promise<string | undefined> {
  const lmdbEntry = require.resolve('lmdb');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-e', PROBE_SCRIPT, lmdbEntry, file],
      { timeout: PROBE_TIMEOUT_MS, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } },
      (err, stdout, stderr) => {
        if (!err && stdout.startsWith('ok ')) return resolve(undefined);
        const e = err as (Error & { signal?: string; killed?: boolean }) | null;
        if (e?.signal) return resolve(`reading it ${e.killed ? 'timed out' : `crashed a probe process (${e.signal})`}`);
        const detail = /MDB_[A-Z_]+[^\n]*/.exec(stderr)?.[0] ?? (stderr.trim().split('\n').pop() || String(err));
        resolve(`reading it failed in a probe process: ${detail}`);
      },
    );
  });
}

export class LmdbStore implements KVStore {
  private constructor(private readonly db: RootDatabase<Buffer, Buffer>) {}

  /** Opens (creating) the LMDB file `file`; engine errors propagate as thrown. */
  static open(file: string): LmdbStore {
    const db = openLmdb<Buffer, Buffer>({
      path: file,
      // A single file plus `<file>-lock`, inside the directory NodeDB owns.
      noSubdir: true,
      encoding: 'binary',
      keyEncoding: 'binary',
    });
    return new LmdbStore(db);
  }

  get(key: Buffer): Buffer | undefined {
    return this.db.get(key);
  }

  *range(start: Buffer, end?: Buffer): Iterable<[Buffer, Buffer]> {
    for (const { key, value } of this.db.getRange({ start, end })) yield [key, value];
  }

  async write(ops: readonly WriteOp[]): Promise<void> {
    // Every put/remove issued in one event turn joins one LMDB transaction,
    // so the batch commits atomically; the last promise settles with it.
    let last: Promise<boolean> | undefined;
    for (const op of ops) last = op.value === null ? this.db.remove(op.key) : this.db.put(op.key, op.value);
    if (last) await last;
  }

  async sync(): Promise<void> {
    await this.db.flushed;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
