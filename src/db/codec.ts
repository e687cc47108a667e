/**
 * Binary encoding of node DB keys and values (layout documented in
 * nodedb.ts). Decoders return `undefined` for bytes they do not accept
 * instead of throwing: a scan over many entries counts bad ones and goes on.
 */
import { InvalidArgumentError } from '../errors';

export const NODE_ID_BYTES = 64;
/** EIP-778 caps a record at 300 bytes of RLP. */
export const MAX_RECORD_BYTES = 300;
const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;

export const VERSION_KEY = Buffer.from('version', 'latin1');
export const LOCAL_SEQ_KEY = Buffer.from('local:seq', 'latin1');
export const META_PREFIX = 'meta:';
/** LMDB's default key limit is 1978 bytes; meta keys stay far below it. */
export const MAX_META_KEY_BYTES = 256;

/** Node keys are NODE_PREFIX + id; ';' is ':' + 1, so [NODE_START, NODE_END) spans exactly them. */
export const NODE_PREFIX = Buffer.from('n:', 'latin1');
export const NODE_START = NODE_PREFIX;
export const NODE_END = Buffer.from('n;', 'latin1');
export const NODE_KEY_BYTES = NODE_PREFIX.length + NODE_ID_BYTES;

export interface StoredNode {
  /** 64-byte node id (public key). */
  id: Buffer;
  /** 4 or 16 bytes. */
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
  /** ENR sequence number when known. */
  seq?: bigint;
  /** The ENR's RLP when known (<= 300 bytes). */
  record?: Buffer;
  /** Wall-clock ms, 0 = never. */
  lastPingSentMs: number;
  lastPongReceivedMs: number;
  findFails: number;
}

export function nodeKey(id: Uint8Array): Buffer {
  if (id.length !== NODE_ID_BYTES) throw new InvalidArgumentError(`node id must be ${NODE_ID_BYTES} bytes, got ${id.length}`);
  const key = Buffer.allocUnsafe(NODE_KEY_BYTES);
  NODE_PREFIX.copy(key, 0);
  key.set(id, NODE_PREFIX.length);
  return key;
}

/** Whether `key` has the shape of a node key (NODE_PREFIX + a 64-byte id). */
export function isNodeKey(key: Uint8Array): boolean {
  return key.length === NODE_KEY_BYTES && key[0] === NODE_PREFIX[0] && key[1] === NODE_PREFIX[1];
}

export function metaKey(name: string): Buffer {
  const key = Buffer.from(META_PREFIX + name, 'utf8');
  if (name.length === 0 || key.length - META_PREFIX.length > MAX_META_KEY_BYTES) {
    throw new InvalidArgumentError(`meta key must be 1..${MAX_META_KEY_BYTES} bytes of UTF-8`);
  }
  return key;
}

// Node value, format 1. Fixed-size fields first, so lastPongReceivedMs sits
// at a fixed offset and the layout needs no field tags.
const FORMAT_1 = 1;
const FLAG_SEQ = 1;
const FLAG_RECORD = 2;
const OFF_FLAGS = 1;
const OFF_PONG = 2; // f64
const OFF_PING = 10; // f64
const OFF_FAILS = 18; // u32
const OFF_UDP = 22; // u16
const OFF_TCP = 24; // u16
const OFF_IPLEN = 26; // u8
const FIXED_BYTES = 27;

function checkPort(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new InvalidArgumentError(`${name} must be an integer in 0..65535, got ${v}`);
}

function checkMs(name: string, v: number): void {
  // Doubles keep any ms value exactly; NaN or negatives would break the age comparisons.
  if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${name} must be a finite number >= 0, got ${v}`);
}

/** Throws InvalidArgumentError for a node that cannot be stored as given. */
export function validateNode(n: StoredNode): void {
  if (n.id.length !== NODE_ID_BYTES) throw new InvalidArgumentError(`node id must be ${NODE_ID_BYTES} bytes, got ${n.id.length}`);
  if (n.ip.length !== 4 && n.ip.length !== 16) throw new InvalidArgumentError(`ip must be 4 or 16 bytes, got ${n.ip.length}`);
  checkPort('udpPort', n.udpPort);
  checkPort('tcpPort', n.tcpPort);
  checkMs('lastPingSentMs', n.lastPingSentMs);
  checkMs('lastPongReceivedMs', n.lastPongReceivedMs);
  if (!Number.isInteger(n.findFails) || n.findFails < 0 || n.findFails > U32_MAX) {
    throw new InvalidArgumentError(`findFails must be an integer in 0..2^32-1, got ${n.findFails}`);
  }
  if (n.seq !== undefined && (typeof n.seq !== 'bigint' || n.seq < 0n || n.seq > U64_MAX)) {
    throw new InvalidArgumentError(`seq must be a bigint in 0..2^64-1, got ${String(n.seq)}`);
  }
  if (n.record !== undefined && n.record.length > MAX_RECORD_BYTES) {
    throw new InvalidArgumentError(`record must be at most ${MAX_RECORD_BYTES} bytes, got ${n.record.length}`);
  }
}

/** Encodes a validated node (the id is in the key, not the value). */
export function encodeNode(n: StoredNode): Buffer {
  const hasSeq = n.seq !== undefined;
  const rec = n.record;
  const size = FIXED_BYTES + n.ip.length + (hasSeq ? 8 : 0) + (rec ? 2 + rec.length : 0);
  const b = Buffer.allocUnsafe(size);
  b[0] = FORMAT_1;
  b[OFF_FLAGS] = (hasSeq ? FLAG_SEQ : 0) | (rec ? FLAG_RECORD : 0);
  b.writeDoubleBE(n.lastPongReceivedMs, OFF_PONG);
  b.writeDoubleBE(n.lastPingSentMs, OFF_PING);
  b.writeUInt32BE(n.findFails, OFF_FAILS);
  b.writeUInt16BE(n.udpPort, OFF_UDP);
  b.writeUInt16BE(n.tcpPort, OFF_TCP);
  b[OFF_IPLEN] = n.ip.length;
  let o = FIXED_BYTES;
  b.set(n.ip, o);
  o += n.ip.length;
  if (hasSeq) {
    b.writeBigUInt64BE(n.seq as bigint, o);
    o += 8;
  }
  if (rec) {
    b.writeUInt16BE(rec.length, o);
    b.set(rec, o + 2);
  }
  return b;
}

/**
 * Decodes a node value; `undefined` if it is not a well-formed format-1 value
 * (wrong tag, unknown flags, bad lengths, trailing bytes). Copies every byte
 * field: engines may hand out buffers they reuse.
 */
export function decodeNode(id: Uint8Array, b: Uint8Array): StoredNode | undefined {
  if (b.length < FIXED_BYTES || b[0] !== FORMAT_1) return undefined;
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  const flags = v[OFF_FLAGS];
  if ((flags & ~(FLAG_SEQ | FLAG_RECORD)) !== 0) return undefined;
  const ipLen = v[OFF_IPLEN];
  if (ipLen !== 4 && ipLen !== 16) return undefined;
  const lastPongReceivedMs = v.readDoubleBE(OFF_PONG);
  const lastPingSentMs = v.readDoubleBE(OFF_PING);
  if (!(lastPongReceivedMs >= 0) || !(lastPingSentMs >= 0) || !Number.isFinite(lastPongReceivedMs + lastPingSentMs)) return undefined;
  let o = FIXED_BYTES + ipLen;
  if (v.length < o) return undefined;
  const node: StoredNode = {
    id: Buffer.from(id),
    ip: Buffer.from(v.subarray(FIXED_BYTES, o)),
    udpPort: v.readUInt16BE(OFF_UDP),
    tcpPort: v.readUInt16BE(OFF_TCP),
    lastPingSentMs,
    lastPongReceivedMs,
    findFails: v.readUInt32BE(OFF_FAILS),
  };
  if (flags & FLAG_SEQ) {
    if (v.length < o + 8) return undefined;
    node.seq = v.readBigUInt64BE(o);
    o += 8;
  }
  if (flags & FLAG_RECORD) {
    if (v.length < o + 2) return undefined;
    const len = v.readUInt16BE(o);
    o += 2;
    if (len > MAX_RECORD_BYTES || v.length < o + len) return undefined;
    node.record = Buffer.from(v.subarray(o, o + len));
    o += len;
  }
  return o === v.length ? node : undefined;
}

export function encodeU64(v: bigint): Buffer {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new InvalidArgumentError(`expected a bigint in 0..2^64-1, got ${String(v)}`);
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(v, 0);
  return b;
}

export function encodeU32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v, 0);
  return b;
}
