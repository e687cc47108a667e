/**
 * Our own node record (geth p2p/enode/localnode.go): the pairs we
 * advertise, signed with our key. Its seq rises by one whenever the content
 * changes and is kept in the node DB together with a digest of the content,
 * so a restart with the same content keeps the seq and a restart with new
 * content (or a lost record) never reuses an old one.
 */
import { Crypto, keccak256, nativeCrypto, nodeIdFromPrivateKey } from '../crypto';
import { InvalidArgumentError } from '../errors';
import { encodeRlp, RlpInput } from '../wire/rlp';
import { EnrError } from './enr';
import { MAX_RECORD_SIZE, signRecord } from './record';

/** What LocalRecord needs from the node DB (NodeDB implements it). */
export interface LocalRecordStore {
  localSeq(): bigint;
  setLocalSeq(seq: bigint): Promise<void>;
  getMeta(key: string): Buffer | undefined;
  putMeta(key: string, value: Buffer): Promise<void>;
}

/** Meta key of the content digest the stored seq belongs to. */
export const LOCAL_RECORD_CONTENT_KEY = 'local-record-content';

/** Keys LocalRecord sets itself: `id` and `secp256k1` come from the key. */
const RESERVED = new Set(['id', 'secp256k1']);

export interface LocalEndpoint {
  /** 4 bytes (sets ip/udp/tcp) or 16 bytes (sets ip6/udp6/tcp6). */
  ip: Uint8Array;
  udpPort: number;
  /** 0: no TCP port in the record. */
  tcpPort?: number;
}

export class LocalRecord {
  readonly nodeId: Buffer;
  private readonly privateKey: Buffer;
  private readonly store?: LocalRecordStore;
  private readonly crypto: Crypto;
  private readonly pairs = new Map<string, RlpInput>();
  private seqValue: bigint;
  private recordValue: Buffer;
  private contentDigest: Buffer;
  /** Serializes updates so seq writes reach the DB in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: Array<(record: Buffer, seq: bigint) => void> = [];

  private constructor(privateKey: Buffer, store: LocalRecordStore | undefined, crypto: Crypto, pairs: Map<string, RlpInput>, seq: bigint) {
    this.privateKey = privateKey;
    this.store = store;
    this.crypto = crypto;
    this.nodeId = nodeIdFromPrivateKey(privateKey, crypto);
    for (const [k, v] of pairs) this.pairs.set(k, v);
    this.seqValue = seq;
    this.contentDigest = this.digest(this.pairs);
    this.recordValue = this.sign(this.pairs, seq);
  }

  /**
   * Our record with the given pairs. The seq is the stored one if the stored
   * content digest matches, else stored + 1 (persisted before this resolves).
   * Throws EnrError('ENR_TOO_BIG') if the pairs do not fit in 300 bytes.
   */
  static async create(
    privateKey: Uint8Array,
    pairs: Readonly<Record<string, RlpInput>> = {},
    opts: { store?: LocalRecordStore; crypto?: Crypto; /** Wall clock in ms for a first seq. Default Date.now. */ now?: () => number } = {},
  ): Promise<LocalRecord> {
    const crypto = opts.crypto ?? nativeCrypto;
    const map = new Map<string, RlpInput>();
    for (const [k, v] of Object.entries(pairs)) {
      checkKey(k);
      map.set(k, v);
    }
    const store = opts.store;
    let seq = store?.localSeq() ?? 0n;
    // Built at the stored seq (or 1) to get the content digest; re-signed below if the seq must rise.
    const probe = new LocalRecord(Buffer.from(privateKey), store, crypto, map, seq === 0n ? 1n : seq);
    const prev = store?.getMeta(LOCAL_RECORD_CONTENT_KEY);
    if (seq === 0n || prev === undefined || !prev.equals(probe.contentDigest)) {
      // No seq on file (a new or reset DB): start from the time in ms, as
      // geth does, so our new record is newer than any we published before
      // the DB was lost (peers only refetch a record whose seq went up).
      seq = seq === 0n ? BigInt((opts.now ?? Date.now)()) : seq + 1n;
      if (store !== undefined) {
        await store.setLocalSeq(seq);
        await store.putMeta(LOCAL_RECORD_CONTENT_KEY, probe.contentDigest);
      }
      return new LocalRecord(Buffer.from(privateKey), store, crypto, map, seq);
    }
    return probe;
  }

  get seq(): bigint {
    return this.seqValue;
  }

  /** The signed record (RLP). */
  get record(): Buffer {
    return this.recordValue;
  }

  /** A pair's value as set (undefined if absent). */
  get(key: string): RlpInput | undefined {
    return this.pairs.get(key);
  }

  keys(): string[] {
    return [...this.pairs.keys()].sort();
  }

  /** Called after each content change with the new record and seq. */
  onChange(fn: (record: Buffer, seq: bigint) => void): void {
    this.listeners.push(fn);
  }

  /** Sets (or, with undefined, deletes) one pair. Resolves true if the record changed. */
  set(key: string, value: RlpInput | undefined): Promise<boolean> {
    return this.update({ [key]: value });
  }

  /** Sets ip/udp/tcp (IPv4) or ip6/udp6/tcp6 (IPv6); a tcpPort of 0 removes the TCP key. */
  setEndpoint(ep: LocalEndpoint): Promise<boolean> {
    if (ep.ip.length !== 4 && ep.ip.length !== 16) throw new InvalidArgumentError('endpoint IP must be 4 or 16 bytes');
    if (!Number.isInteger(ep.udpPort) || ep.udpPort < 0 || ep.udpPort > 0xffff) throw new InvalidArgumentError('bad UDP port');
    const tcp = ep.tcpPort ?? 0;
    if (!Number.isInteger(tcp) || tcp < 0 || tcp > 0xffff) throw new InvalidArgumentError('bad TCP port');
    const v6 = ep.ip.length === 16;
    return this.update({
      [v6 ? 'ip6' : 'ip']: Buffer.from(ep.ip),
      [v6 ? 'udp6' : 'udp']: ep.udpPort,
      [v6 ? 'tcp6' : 'tcp']: tcp === 0 ? undefined : tcp,
    });
  }

  /**
   * Applies several changes as one: seq + 1 once if the content differs,
   * persisted before the new record is published. Resolves true if it
   * changed. Throws EnrError('ENR_TOO_BIG') (and changes nothing) if the
   * result exceeds 300 bytes.
   */
  update(changes: Readonly<Record<string, RlpInput | undefined>>): Promise<boolean> {
    for (const k of Object.keys(changes)) checkKey(k);
    const run = this.queue.then(() => this.apply(changes));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(changes: Readonly<Record<string, RlpInput | undefined>>): Promise<boolean> {
    const next = new Map(this.pairs);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) next.delete(k);
      else next.set(k, v);
    }
    const digest = this.digest(next);
    if (digest.equals(this.contentDigest)) return false;
    const seq = this.seqValue + 1n;
    const record = this.sign(next, seq); // throws before anything is stored
    if (this.store !== undefined) {
      await this.store.setLocalSeq(seq);
      await this.store.putMeta(LOCAL_RECORD_CONTENT_KEY, digest);
    }
    this.pairs.clear();
    for (const [k, v] of next) this.pairs.set(k, v);
    this.seqValue = seq;
    this.recordValue = record;
    this.contentDigest = digest;
    for (const fn of this.listeners) fn(record, seq);
    return true;
  }

  /** keccak256 of the sorted pairs' RLP: what "the content changed" compares. */
  private digest(pairs: ReadonlyMap<string, RlpInput>): Buffer {
    const keys = [...pairs.keys()].sort();
    return keccak256(encodeRlp(keys.map((k) => [Buffer.from(k, 'utf8'), pairs.get(k)!])), this.crypto);
  }

  private sign(pairs: ReadonlyMap<string, RlpInput>, seq: bigint): Buffer {
    try {
      return signRecord(this.privateKey, seq, Object.fromEntries(pairs), this.crypto);
    } catch (err) {
      if (err instanceof InvalidArgumentError) {
        throw new EnrError('ENR_TOO_BIG', `local record exceeds ${MAX_RECORD_SIZE} bytes: ${err.message}`, 'too-big');
      }
      throw err;
    }
  }
}

function checkKey(k: string): void {
  if (RESERVED.has(k)) throw new InvalidArgumentError(`the ${k} key is derived from the private key and cannot be set`);
  if (k.length === 0) throw new InvalidArgumentError('empty record key');
}
