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
 * for callers that cannot afford that (NodeDBOptions.verifyInChild).
 */
import { execFile } from 'node:child_process';
import { open as openFile } from 'node:fs/promises';
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
 * binding, or undefined if its header is sound (or the file is new/empty:
 * LMDB initialises those). Throws the fs error if the file is unreadable.
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
    if (size === 0) return undefined;
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
