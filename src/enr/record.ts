/**
 * Node records (EIP-778), "v4" identity scheme: the minimal signer the
 * transport needs to answer ENRRequest. Full record handling (decode,
 * verify, text form, the local record) builds on this in the ENR module.
 */
import { Crypto, keccak256, nativeCrypto, nodeIdFromPrivateKey, sign } from '../crypto';
import { InvalidArgumentError } from '../errors';
import { encodeRlp, readBigUint, readItem, RlpInput, RlpItem } from '../wire/rlp';

/** EIP-778: a record is at most 300 bytes. */
export const MAX_RECORD_SIZE = 300;

/** The 33-byte compressed form of a 64-byte node id (x || y). */
export function compressNodeId(nodeId: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(33);
  out[0] = 0x02 | (nodeId[63] & 1);
  out.set(nodeId.subarray(0, 32), 1);
  return out;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/**
 * Builds and signs a v4 record with the given seq and extra pairs (values
 * already RLP items: bytes or uints). `id` and `secp256k1` are added; keys
 * are sorted as EIP-778 requires.
 */
export function signRecord(
  privateKey: Uint8Array,
  seq: bigint,
  pairs: Readonly<Record<string, RlpInput>>,
  crypto: Crypto = nativeCrypto,
): Buffer {
  const all: Record<string, RlpInput> = {
    ...pairs,
    id: utf8('v4'),
    secp256k1: compressNodeId(nodeIdFromPrivateKey(privateKey, crypto)),
  };
  const keys = Object.keys(all).sort();
  const content: RlpInput[] = [seq];
  for (const k of keys) content.push(utf8(k), all[k]);
  const sig = sign(keccak256(encodeRlp(content), crypto), privateKey, crypto).subarray(0, 64);
  const record = encodeRlp([sig, ...content]);
  if (record.length > MAX_RECORD_SIZE) {
    throw new InvalidArgumentError(`record of ${record.length} bytes exceeds the ${MAX_RECORD_SIZE}-byte limit`);
  }
  return record;
}

/** A decoded, signature-verified v4 record. */
export interface DecodedRecord {
  seq: bigint;
  /** The 64-byte node id recovered and checked against the record's `secp256k1` key. */
  nodeId: Buffer;
  /** Pair values as raw RLP items, by key. */
  pairs: Map<string, Buffer>;
  /** The IPv4 (or, with preferV6, IPv6) UDP endpoint, when the record has one. */
  udpEndpoint(preferV6?: boolean): { ip: Buffer; udpPort: number } | undefined;
  tcpPort?: number;
}

/** Why a record was rejected (EIP-778); the ENR module maps these to typed errors. */
export type RecordError =
  | 'too-big'
  | 'rlp'
  | 'incomplete-list'
  | 'incomplete-pair'
  | 'not-sorted'
  | 'duplicate-key'
  | 'unknown-identity-scheme'
  | 'missing-or-bad-pubkey'
  | 'invalid-signature';

const recItem: RlpItem = { isList: false, start: 0, end: 0 };

/**
 * Decodes and verifies an EIP-778 "v4" record. Returns the record, or the
 * reason it is invalid. Values stay raw; the ENR module interprets them.
 */
export function parseRecord(rlp: Uint8Array, crypto: Crypto = nativeCrypto): DecodedRecord | RecordError {
  if (rlp.length > MAX_RECORD_SIZE) return 'too-big';
  const buf = Buffer.from(rlp.buffer, rlp.byteOffset, rlp.length);
  if (!readItem(buf, 0, buf.length, recItem)) return 'rlp';
  if (!recItem.isList) return 'rlp';
  if (recItem.end !== buf.length) return 'rlp';
  const end = recItem.end;
  const items: Array<{ start: number; end: number; rawStart: number; isList: boolean }> = [];
  for (let p = recItem.start; p < end; p = recItem.end) {
    if (!readItem(buf, p, end, recItem)) return 'rlp';
    items.push({ start: recItem.start, end: recItem.end, rawStart: p, isList: recItem.isList });
  }
  if (items.length < 2) return 'incomplete-list';
  if (items[0].isList || items[1].isList) return 'rlp';
  if ((items.length - 2) % 2 !== 0) return 'incomplete-pair';
  const sig = buf.subarray(items[0].start, items[0].end);
  const seqBytes = buf.subarray(items[1].start, items[1].end);
  if (seqBytes.length > 8 || (seqBytes.length > 0 && seqBytes[0] === 0)) return 'rlp';
  const seq = readBigUint(buf, items[1].start, items[1].end);
  const pairs = new Map<string, Buffer>();
  let prev: string | undefined;
  for (let i = 2; i < items.length; i += 2) {
    const k = items[i];
    if (k.isList) return 'rlp';
    const key = buf.toString('latin1', k.start, k.end);
    if (prev !== undefined) {
      if (key === prev) return 'duplicate-key';
      if (key < prev) return 'not-sorted';
    }
    prev = key;
    pairs.set(key, buf.subarray(items[i + 1].rawStart, items[i + 1].end));
  }
  const id = pairs.get('id');
  if (id === undefined || !id.equals(V4_ID_ITEM)) return 'unknown-identity-scheme';
  const keyItem = pairs.get('secp256k1');
  if (keyItem === undefined || keyItem.length !== 34 || keyItem[0] !== 0xa1) return 'missing-or-bad-pubkey';
  const compressed = keyItem.subarray(1);
  if (sig.length !== 64) return 'invalid-signature';
  // The signed content is [seq, k, v, ...]: the record's items after the signature.
  const contentStart = items[1].rawStart;
  const content = Buffer.concat([listHeader(end - contentStart), buf.subarray(contentStart, end)]);
  const hash = keccak256(content, crypto);
  let nodeId: Buffer | undefined;
  for (let recid = 0; recid < 2 && nodeId === undefined; recid++) {
    const out = Buffer.allocUnsafe(64);
    if (crypto.recoverInto(sig, 0, recid, hash, 0, out, 0) === 0 && compressNodeId(out).equals(compressed)) nodeId = out;
  }
  if (nodeId === undefined) return 'invalid-signature';
  // EIP-778 records carry low-S signatures; a high-S twin of a valid one is rejected.
  if (!isLowS(sig)) return 'invalid-signature';
  const str = (k: string): Buffer | undefined => {
    const v = pairs.get(k);
    if (v === undefined || !readItem(v, 0, v.length, recItem) || recItem.isList) return undefined;
    return v.subarray(recItem.start, recItem.end);
  };
  const port = (k: string): number | undefined => {
    const v = str(k);
    if (v === undefined || v.length > 2 || (v.length > 0 && v[0] === 0)) return undefined;
    return v.length === 0 ? 0 : v.length === 1 ? v[0] : (v[0] << 8) | v[1];
  };
  const ip4 = str('ip');
  const ip6 = str('ip6');
  return {
    seq,
    nodeId,
    pairs,
    tcpPort: port('tcp'),
    udpEndpoint(preferV6 = false) {
      const v4 = ip4?.length === 4 && port('udp') !== undefined ? { ip: Buffer.from(ip4), udpPort: port('udp')! } : undefined;
      const u6 = port('udp6') ?? port('udp');
      const v6 = ip6?.length === 16 && u6 !== undefined ? { ip: Buffer.from(ip6), udpPort: u6 } : undefined;
      return preferV6 ? (v6 ?? v4) : (v4 ?? v6);
    },
  };
}

/** parseRecord, with `undefined` for any invalid record. */
export function decodeRecord(rlp: Uint8Array, crypto: Crypto = nativeCrypto): DecodedRecord | undefined {
  const r = parseRecord(rlp, crypto);
  return typeof r === 'string' ? undefined : r;
}

const V4_ID_ITEM = Buffer.from([0x82, 0x76, 0x34]); // RLP of "v4"
const HALF_ORDER = Buffer.from('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 'hex');

function isLowS(sig: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(sig.buffer, sig.byteOffset + 32, 32), HALF_ORDER) <= 0;
}

function listHeader(len: number): Buffer {
  if (len < 56) return Buffer.from([0xc0 + len]);
  if (len < 0x100) return Buffer.from([0xf8, len]);
  return Buffer.from([0xf9, len >> 8, len & 0xff]);
}
