/**
 * Persistent node database: nodes we have talked to, so a restart can seed
 * the table from live peers instead of only the bootnodes, plus our own
 * record's sequence number (which must never go backwards, EIP-778) and
 * small values for other modules. Modelled on go-ethereum
 * p2p/enode/nodedb.go: this file is the schema (keys, values, per-node
 * fields, seeds, expiry); the write-behind cache under it is
 * write-behind.ts, the engine LMDB (lmdb-store.ts) or memory (store.ts).
 *
 * Key layout (keys are bytes; <id> is the raw 64-byte node id):
 *
 *   version        -> u32 BE schema version (SCHEMA_VERSION)
 *   local:seq      -> u64 BE sequence number of our own ENR
 *   meta:<name>    -> opaque bytes of other modules (name is UTF-8)
 *   n:<id>         -> node value, below
 *
 * geth keeps one key per field and endpoint (n:<id>:v4:<ip16>:findfail,
 * :lastping, :lastpong, ...). We keep ONE record per node id holding its
 * latest endpoint: a node that moves overwrites its old address, reads and
 * writes touch one key, and expiry examines one entry per node. 'n;' is the
 * first key after every 'n:' key, so [n:, n;) spans exactly the nodes.
 *
 * Node value (format 1, big-endian; fixed fields first so no tags are needed):
 *
 *   0  u8   format = 1
 *   1  u8   flags: 1 = seq present, 2 = record present
 *   2  f64  lastPongReceivedMs
 *  10  f64  lastPingSentMs
 *  18  u32  findFails
 *  22  u16  udpPort
 *  24  u16  tcpPort
 *  26  u8   ip length (4 | 16), then the ip
 *   .. u64  seq                      (flag 1)
 *   .. u16  record length, record    (flag 2, <= 300 bytes)
 *
 * 27 + 4 bytes for an IPv4 node without a record; ~330 with one.
 *
 * Versioning: `version` is written when the DB is created and checked on
 * open. A mismatch rejects with DB_VERSION instead of wiping the files as
 * geth does: the caller decides, and the message says how to reset.
 *
 * Write queue: writes go through a write-behind cache (write-behind.ts):
 * getNode sees them at once, the engine gets them in batches, one batch
 * in flight at a time, and writes to one key coalesce while they wait. If
 * the engine is slow and more than `maxPendingWrites` keys wait, the least
 * recently written NODE entry is dropped (stats().droppedWrites): its key
 * then reads as whatever is committed or in flight. Node entries are a
 * cache that the protocol re-learns, so losing some beats unbounded
 * memory. Meta and local-seq writes are never dropped; their promises
 * resolve once the batch holding them is durable. A batch the engine
 * fails to write is lost (stats().writeErrors) and reported by the next
 * flush() as DB_IO.
 *
 * Corruption: files whose header is garbage, an empty (truncated) file,
 * and B-tree pages that are not what the tree says (garbage, or cut off)
 * reject open() with DB_CORRUPT (checked before LMDB sees them, see
 * lmdb-store.ts); engine errors while
 * opening or reading become DB_CORRUPT (or DB_IO for file-system errors).
 * A node VALUE that does not decode (written by something else) is treated
 * as absent: skipped and counted in stats().corruptEntries (each time one
 * is skipped), never deleted behind the caller's back; the next putNode of
 * that id overwrites it and deleteNode removes it. A malformed `version`
 * or `local:seq` entry rejects open() with DB_CORRUPT. Nothing is ever
 * wiped automatically. LMDB has no page checksums: damage inside the
 * B-tree behind a valid header can still crash the process in native code
 * (SIGSEGV or an LMDB assertion's abort()). `verifyInChild` reads the DB
 * in a throwaway process first and turns that into DB_CORRUPT too.
 *
 * Sharing: LMDB lets several processes share a DB (MVCC readers, one
 * writer at a time through its lock file) without corrupting it, so a
 * second PROCESS may open the directory; its committed writes become
 * visible here from our next event turn on (lmdb-js renews its read
 * snapshot per turn), but our `size` is not updated by them. Within ONE
 * process a second open() of a directory that is open rejects with
 * DB_LOCKED: two lmdb-js handles on one file in one process renew their
 * read snapshots at unpredictable points (in our trials a reader missed
 * the other handle's committed write, one event turn later, in 73 of 120
 * checks, and one test run hung), and two overlays over one DB would
 * disagree anyway; share the NodeDB instance instead. Two live nodes sharing one DB would also
 * share `local:seq`: give each node its own directory.
 */
import { randomFillSync, randomInt } from 'node:crypto';
import { lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  LOCAL_SEQ_KEY,
  NODE_END,
  NODE_KEY_BYTES,
  NODE_PREFIX,
  NODE_START,
  VERSION_KEY,
  decodeNode,
  encodeNode,
  encodeU32,
  encodeU64,
  isNodeKey,
  metaKey,
  nodeKey,
  validateNode,
  type StoredNode,
} from './codec';
import { DbError, RESET_ADVICE, type DbErrorCode } from './errors';
import { osExplain } from '../errors';
import { LmdbStore, checkLmdbHeader, checkLmdbTrees, probeLmdbFile } from './lmdb-store';
import { MemoryStore, mapStoreErrors, type KVStore } from './store';
import { WriteBehindStore } from './write-behind';
import { systemClock, type Clock } from '../transport/clock';
import { Periodic } from '../transport/periodic';
import { DB_EXPIRY_INTERVAL_MS, DB_MAX_PENDING_WRITES, DB_NODE_EXPIRY_MS } from '../defaults';

export type { StoredNode } from './codec';

/** Bump on any incompatible change of the key layout or value format. */
export const SCHEMA_VERSION = 1;
/**
 * Entries one expire() run examines. At one run per hour this sweeps
 * 24 x 10,000 = 240,000 nodes per expiry window, far more than a discv4
 * node meets, while one run stays short (~25 ms of event-loop time for
 * 10,000 entries on LMDB, measured).
 */
export const DEFAULT_EXPIRE_MAX_WORK = 10_000;
/** The LMDB file inside the DB directory (LMDB adds `nodes.mdb-lock`). */
export const DATA_FILE = 'nodes.mdb';
/** LMDB's lock file beside {@link DATA_FILE} (noSubdir: `<file>-lock`). */
const LOCK_FILE = `${DATA_FILE}-lock`;
const MEMORY_LABEL = ':memory:';

/** Real paths of the DB directories open (or opening) in this process (see "Sharing"). */
const openDirs = new Set<string>();

export interface NodeDBOptions {
  /** Nodes whose lastPongReceivedMs is older than this are deleted by expire(). Default 24 h. */
  expiryMs?: number;
  /** Wall clock, default Date.now (tests inject). */
  now?: () => number;
  /** Monotonic clock for the write-behind batch timer and the expiry job. Default systemClock. */
  clock?: Clock;
  /**
   * Distinct keys that may wait for the engine before the oldest node
   * write is dropped (see "Write queue" above). Default 20,000; Infinity
   * disables dropping (e.g. a simulation loading many nodes in one turn).
   */
  maxPendingWrites?: number;
  /**
   * Before opening an existing DB, read it whole in a child process
   * (process.execPath), so damage that would crash LMDB's native code
   * rejects with DB_CORRUPT instead (see "Corruption"). Costs one process
   * start, ~100 ms, per open. Default true: a node must never crash on a
   * damaged DB; pass false only where the DB is known sound. Ignored in memory.
   */
  verifyInChild?: boolean;
}

export interface NodeDBStats {
  /** Stored nodes, as seen by this instance. */
  nodes: number;
  /** Keys waiting for or being committed. */
  pendingWrites: number;
  /** Node writes dropped because the queue was full. */
  droppedWrites: number;
  /** Nodes deleted by expire(), all runs. */
  expired: number;
  /** Undecodable node entries skipped (counted each time one is met). */
  corruptEntries: number;
  /** Writes lost because the engine failed to commit them. */
  writeErrors: number;
}

async function fileHasData(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What went wrong in plain words, with the fix, for file-system errors; the engine's text otherwise. */
function explain(err: unknown): string {
  return osExplain(err, '--datadir');
}

/**
 * Why `name` in the DB directory `dir` (the data file or the lock file)
 * cannot be handed to LMDB, with the fix; undefined if it is a regular
 * file or absent (LMDB creates it). LMDB does not fail on anything else (a
 * directory, a symlink to nowhere): its native code crashes the process
 * (SIGSEGV), ours or the probe's, which would read as a corrupt DB.
 * Throws the fs error if `dir` cannot be read.
 */
async function fileKindProblem(dir: string, name: string): Promise<string | undefined> {
  const file = join(dir, name);
  const what = name === LOCK_FILE ? "LMDB's lock file" : 'the data file';
  const remedy = name === LOCK_FILE ? 'LMDB makes a new lock file' : 'the node DB starts afresh; its nodes will be re-learned';
  let st;
  try {
    st = await lstat(file);
    if (st.isSymbolicLink()) st = await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (st === undefined) return undefined; // absent
    return `${what} ${file} is a symbolic link to nothing; remove the link (${remedy}), or choose another --datadir`;
  }
  if (st.isFile()) return undefined;
  const kind = st.isDirectory() ? 'a directory' : 'not a regular file';
  return `${what} ${file} is ${kind}; move it away (${remedy}), or choose another --datadir`;
}

/** File-system errors (errno names) are DB_IO; anything else from the engine means bad data. */
function classify(err: unknown): DbErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 'DB_IO';
  if (/\bE(ACCES|PERM|ROFS|NOSPC|IO|NOENT|NOTDIR|ISDIR|MFILE|NFILE|NOMEM|AGAIN)\b|permission denied|no space/i.test(errText(err))) return 'DB_IO';
  return 'DB_CORRUPT';
}

export class NodeDB {
  /** The DB directory, or null for the in-memory DB. */
  readonly path: string | null;
  private readonly label: string;
  /** The engine, its read and close errors mapped to DbError. */
  private readonly store: KVStore;
  /** Every read and write after load() goes through it. */
  private readonly cache: WriteBehindStore;
  private readonly expiryMs: number;
  private readonly now: () => number;

  private expiry: Periodic | undefined;
  private readonly clock: Clock;
  /** First node key the next expire() run examines (undefined: the first node). */
  private expireCursor: Buffer | undefined;
  private nodeCount = 0;
  private expiredTotal = 0;
  private corruptEntries = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Our entry in openDirs, released by close(). */
  private realDir: string | undefined;

  private constructor(engine: KVStore, path: string | null, opts: NodeDBOptions) {
    this.path = path;
    this.label = path ?? MEMORY_LABEL;
    this.expiryMs = opts.expiryMs ?? DB_NODE_EXPIRY_MS;
    this.now = opts.now ?? Date.now;
    this.clock = opts.clock ?? systemClock;
    this.store = mapStoreErrors(engine, {
      read: (err) => NodeDB.engineError(this.label, 'cannot read', err),
      close: (err) => NodeDB.engineError(this.label, 'cannot close', err),
    });
    this.cache = new WriteBehindStore(this.store, {
      maxPending: opts.maxPendingWrites ?? DB_MAX_PENDING_WRITES,
      // Only node entries: meta and local-seq writes are never dropped.
      evictable: isNodeKey,
      commitError: (err, writes) => new DbError('DB_IO', this.label, `node DB at ${this.label}: ${writes} writes failed: ${errText(err)}`, { cause: err }),
      // The key now reads as what is in flight or committed: recount it.
      onDropped: (key, dropped) => this.recount(this.cache.get(key), dropped),
      onReverted: (key, failed) => {
        if (!isNodeKey(key)) return;
        let now: Buffer | undefined;
        try {
          now = this.store.get(key);
        } catch {
          now = undefined;
        }
        this.recount(now, failed);
      },
    });
  }

  /**
   * Opens (creating if missing) the DB in directory `dir`; `null` gives an
   * in-memory DB with the same behaviour. Rejects with DbError: DB_VERSION
   * (another schema version), DB_CORRUPT (garbage files or entries),
   * DB_LOCKED (already open in this process), DB_IO (file system). The
   * message names the path and, where resetting helps, how.
   */
  static async open(dir: string | null, opts: NodeDBOptions = {}): Promise<NodeDB> {
    if (dir === null) return NodeDB.start(new MemoryStore(), null, opts);
    const path = resolve(dir);
    try {
      await mkdir(path, { recursive: true });
    } catch (err) {
      throw new DbError('DB_IO', path, `cannot create node DB directory ${path}: ${explain(err)}`, { cause: err });
    }
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      throw new DbError('DB_IO', path, `cannot resolve node DB directory ${path}: ${explain(err)}`, { cause: err });
    }
    if (openDirs.has(real)) {
      throw new DbError('DB_LOCKED', path, `node DB at ${path} is already open in this process; close it first or share that NodeDB`);
    }
    // Claimed before the first await below, so two concurrent opens cannot both pass.
    openDirs.add(real);
    try {
      const file = join(path, DATA_FILE);
      let bad: string | undefined;
      let notFile: string | undefined;
      try {
        notFile = (await fileKindProblem(path, DATA_FILE)) ?? (await fileKindProblem(path, LOCK_FILE));
        if (notFile === undefined) {
          bad = await checkLmdbHeader(file);
          if (!bad && (opts.verifyInChild ?? true) && (await fileHasData(file))) bad = await probeLmdbFile(file);
          // Garbage pages LMDB reads without complaint (see checkLmdbTrees).
          bad ??= await checkLmdbTrees(file);
        }
      } catch (err) {
        throw new DbError('DB_IO', path, `cannot read node DB at ${path}: ${explain(err)}`, { cause: err });
      }
      if (notFile) throw new DbError('DB_IO', path, `cannot open node DB at ${path}: ${notFile}`);
      if (bad) throw new DbError('DB_CORRUPT', path, `node DB at ${path} is corrupt (${DATA_FILE}: ${bad}); ${RESET_ADVICE}`);
      let store: LmdbStore;
      try {
        store = LmdbStore.open(file);
      } catch (err) {
        throw NodeDB.engineError(path, 'cannot open', err);
      }
      const db = await NodeDB.start(store, path, opts);
      db.realDir = real;
      return db;
    } catch (err) {
      openDirs.delete(real);
      throw err;
    }
  }

  private static async start(store: KVStore, path: string | null, opts: NodeDBOptions): Promise<NodeDB> {
    const db = new NodeDB(store, path, opts);
    try {
      await db.load();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err instanceof DbError ? err : NodeDB.engineError(db.label, 'cannot open', err);
    }
    return db;
  }

  private static engineError(label: string, what: string, err: unknown): DbError {
    const code = classify(err);
    const tail = code === 'DB_CORRUPT' ? `; ${RESET_ADVICE}` : '';
    return new DbError(code, label, `${what} node DB at ${label}: ${code === 'DB_IO' ? explain(err) : errText(err)}${tail}`, { cause: err });
  }

  /** Checks the schema version (writing it into a new DB) and counts the nodes. */
  private async load(): Promise<void> {
    const version = this.store.get(VERSION_KEY);
    if (version === undefined) {
      if (!this.storeIsEmpty()) {
        throw new DbError('DB_VERSION', this.label, `node DB at ${this.label} holds data but no schema version (this build expects ${SCHEMA_VERSION}); ${RESET_ADVICE}`);
      }
      await this.store.write([{ key: VERSION_KEY, value: encodeU32(SCHEMA_VERSION) }]);
      await this.store.sync();
    } else if (version.length !== 4) {
      throw new DbError('DB_CORRUPT', this.label, `node DB at ${this.label} has a malformed version entry (${version.length} bytes); ${RESET_ADVICE}`);
    } else if (version.readUInt32BE(0) !== SCHEMA_VERSION) {
      throw new DbError(
        'DB_VERSION',
        this.label,
        `node DB at ${this.label} has schema version ${version.readUInt32BE(0)}, this build expects ${SCHEMA_VERSION}; ${RESET_ADVICE}`,
      );
    }
    const seq = this.store.get(LOCAL_SEQ_KEY);
    if (seq !== undefined && seq.length !== 8) {
      // Guessing a sequence number could reuse one: refuse instead.
      throw new DbError('DB_CORRUPT', this.label, `node DB at ${this.label} has a malformed local:seq entry (${seq.length} bytes); ${RESET_ADVICE}`);
    }
    // Reading every node once also surfaces damaged pages now, as
    // DB_CORRUPT, rather than in the middle of a later call.
    for (const [key, value] of this.store.range(NODE_START, NODE_END)) {
      if (key.length === NODE_KEY_BYTES && decodeNode(key.subarray(NODE_PREFIX.length), value)) this.nodeCount++;
      else this.corruptEntries++;
    }
  }

  /** Scans only the store (before the cache holds anything): whether it holds no key at all. */
  private storeIsEmpty(): boolean {
    for (const _ of this.store.range(Buffer.from([0]))) return false;
    return true;
  }

  // ---- reads and writes of single nodes ----

  getNode(id: Uint8Array): StoredNode | undefined {
    this.checkOpen();
    const key = nodeKey(id);
    const v = this.cache.get(key);
    return v ? this.decode(key, v) : undefined;
  }

  /** Stores (replacing) the node; getNode sees it at once, the disk a little later. */
  putNode(n: StoredNode): void {
    this.checkOpen();
    validateNode(n);
    const key = nodeKey(n.id);
    if (!this.isNodeValue(this.cache.get(key))) this.nodeCount++;
    this.cache.put(key, encodeNode(n));
  }

  /** Applies `patch` to a stored node; false if the node is unknown. `seq: undefined` / `record: undefined` clear those fields. */
  updateNode(id: Uint8Array, patch: Partial<Omit<StoredNode, 'id'>>): boolean {
    this.checkOpen();
    const cur = this.getNode(id);
    if (!cur) return false;
    const next: StoredNode = { ...cur, ...patch, id: cur.id };
    if ('seq' in patch && patch.seq === undefined) delete next.seq;
    if ('record' in patch && patch.record === undefined) delete next.record;
    validateNode(next);
    this.cache.put(nodeKey(id), encodeNode(next));
    return true;
  }

  deleteNode(id: Uint8Array): void {
    this.checkOpen();
    const key = nodeKey(id);
    const prev = this.cache.get(key);
    // Nothing visible: no write. An undecodable entry is deleted too: the caller asked.
    if (!prev) return;
    if (this.isNodeValue(prev)) this.nodeCount--;
    this.cache.delete(key);
  }

  get size(): number {
    return this.nodeCount;
  }

  stats(): NodeDBStats {
    const cache = this.cache.stats();
    return {
      nodes: this.nodeCount,
      pendingWrites: cache.pendingWrites,
      droppedWrites: cache.droppedWrites,
      expired: this.expiredTotal,
      corruptEntries: this.corruptEntries,
      writeErrors: cache.writeErrors,
    };
  }

  // ---- scans ----

  /**
   * Up to n random nodes whose lastPongReceivedMs is within maxAgeMs of
   * now (geth's QuerySeeds): at most 5n random seeks, each taking the first
   * node at or after a random id. Fewer than n come back when few nodes
   * are recent.
   */
  seedNodes(n: number, maxAgeMs: number): StoredNode[] {
    this.checkOpen();
    const out: StoredNode[] = [];
    if (!(n > 0)) return out;
    const now = this.now();
    const nodes = this.cache.scan(NODE_START, NODE_END);
    const seen = new Set<string>();
    const seek = Buffer.alloc(NODE_KEY_BYTES);
    NODE_PREFIX.copy(seek, 0);
    let first = 0;
    for (let seeks = 0; out.length < n && seeks < n * 5; seeks++) {
      randomFillSync(seek, NODE_PREFIX.length);
      // As geth: the first id byte advances by a random 0..15 per seek, so
      // successive seeks sweep the key space and a small DB gets all its
      // nodes visited rather than the ones after the largest gaps.
      first = (first + (seek[NODE_PREFIX.length] % 16)) & 0xff;
      seek[NODE_PREFIX.length] = first;
      let hit: { ks: string; node: StoredNode } | undefined;
      for (const e of nodes.from(seek)) {
        const node = this.decode(e.key, e.value);
        if (node) {
          hit = { ks: e.key.toString('latin1'), node };
          break;
        }
      }
      if (!hit) {
        first = 0; // past the last node: wrap around
        continue;
      }
      if (now - hit.node.lastPongReceivedMs > maxAgeMs || seen.has(hit.ks)) continue;
      seen.add(hit.ks);
      out.push(hit.node);
    }
    // The sweep above returns ids in ascending runs; callers get no order.
    for (let i = out.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /**
   * Every node whose lastPongReceivedMs is within maxAgeMs of now, most
   * recently answered first, at most `limit`: one pass over the nodes (the
   * known-node set is loaded from it at start; 100,000 nodes read in well
   * under a second).
   */
  recentNodes(maxAgeMs: number, limit = Infinity): StoredNode[] {
    this.checkOpen();
    const cutoff = this.now() - maxAgeMs;
    const out: StoredNode[] = [];
    for (const e of this.cache.scan(NODE_START, NODE_END).from(NODE_START)) {
      const node = this.decode(e.key, e.value);
      if (node && node.lastPongReceivedMs >= cutoff) out.push(node);
    }
    out.sort((a, b) => b.lastPongReceivedMs - a.lastPongReceivedMs);
    return out.length > limit ? out.slice(0, limit) : out;
  }

  /**
   * Deletes nodes whose lastPongReceivedMs (0 = never) is older than
   * expiryMs, examining at most maxWork entries and resuming where the
   * previous call stopped; after the last node the next call starts over
   * (a run never wraps within itself). Returns the number deleted.
   */
  expire(maxWork = DEFAULT_EXPIRE_MAX_WORK): number {
    this.checkOpen();
    const threshold = this.now() - this.expiryMs;
    let examined = 0;
    let deleted = 0;
    let next: Buffer | undefined;
    for (const e of this.cache.scan(NODE_START, NODE_END).from(this.expireCursor ?? NODE_START)) {
      if (examined >= maxWork) {
        // Resume AT the first entry not examined (copied: engines may reuse
        // key buffers); if it is deleted meanwhile the scan just moves on.
        next = Buffer.from(e.key);
        break;
      }
      examined++;
      const node = this.decode(e.key, e.value);
      // Undecodable entries are left alone (see "Corruption"), only counted.
      if (node && node.lastPongReceivedMs < threshold) {
        this.cache.delete(e.key);
        this.nodeCount--;
        deleted++;
      }
    }
    this.expireCursor = next;
    this.expiredTotal += deleted;
    return deleted;
  }

  /** Runs expire() every intervalMs (default 1 h) on a timer that does not keep the process alive. */
  startExpiry(intervalMs = DB_EXPIRY_INTERVAL_MS): void {
    this.checkOpen();
    this.expiry?.stop();
    this.expiry = new Periodic(this.clock, intervalMs, () => {
      try {
        this.expire();
      } catch (err) {
        // No caller to throw to: keep it for the next flush().
        this.cache.deferError(err instanceof DbError ? err : NodeDB.engineError(this.label, 'expiry failed in', err));
      }
    });
  }

  // ---- local sequence number and meta values ----

  /** Our own record's sequence number (0n if never set). */
  localSeq(): bigint {
    this.checkOpen();
    const v = this.cache.get(LOCAL_SEQ_KEY);
    if (!v) return 0n;
    if (v.length !== 8) throw new DbError('DB_CORRUPT', this.label, `node DB at ${this.label} has a malformed local:seq entry; ${RESET_ADVICE}`);
    return v.readBigUInt64BE(0);
  }

  /** Durable when the promise resolves. */
  async setLocalSeq(seq: bigint): Promise<void> {
    this.checkOpen();
    await this.cache.putDurable(LOCAL_SEQ_KEY, encodeU64(seq));
  }

  getMeta(key: string): Buffer | undefined {
    this.checkOpen();
    const v = this.cache.get(metaKey(key));
    return v ? Buffer.from(v) : undefined;
  }

  /** Durable when the promise resolves. */
  async putMeta(key: string, value: Buffer): Promise<void> {
    this.checkOpen();
    // Copied: the caller may reuse its buffer before the write commits.
    await this.cache.putDurable(metaKey(key), Buffer.from(value));
  }

  // ---- durability and shutdown ----

  /** Resolves when every write made so far is durable; rejects with DB_IO if a background write failed since the last flush. */
  async flush(): Promise<void> {
    this.checkOpen();
    await this.cache.flush();
  }

  /** Flushes and closes; idempotent. Later calls throw DbError DB_IO. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.expiry?.stop();
    this.expiry = undefined;
    try {
      await this.cache.close();
    } finally {
      if (this.realDir) openDirs.delete(this.realDir);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new DbError('DB_IO', this.label, `node DB at ${this.label} is closed`);
  }

  // ---- node values ----

  private decode(key: Buffer, value: Buffer): StoredNode | undefined {
    const node = decodeNode(key.subarray(NODE_PREFIX.length), value);
    if (!node) this.corruptEntries++;
    return node;
  }

  private isNodeValue(v: Buffer | null | undefined): boolean {
    return !!v && decodeNode(NODE_PREFIX, v) !== undefined;
  }

  /** A node key's write was dropped or failed: it reads `now` instead of `instead` (null: a delete). */
  private recount(now: Buffer | undefined, instead: Buffer | null): void {
    this.nodeCount += Number(this.isNodeValue(now)) - Number(this.isNodeValue(instead));
  }
}
