/**
 * A minimal RLP reader and writer for the discv4 codec.
 *
 * Reader: walks items in place and reports their payload ranges through one
 * reused cursor object, so reading a packet allocates nothing. It is strict
 * where geth's `rlp` package is strict (canonical sizes and integers, no
 * item extending past its parent) because a packet that geth rejects must
 * not be accepted here either. Measured against the `rlp` package in
 * `npm run bench` (see README "RLP: hand-written vs the rlp package").
 *
 * Writer: callers compute sizes first (the *Size functions) and then write
 * forward into a caller buffer, so encoding needs no temporary arrays.
 */

/** The result of {@link readItem}: payload range of the item read. */
export interface RlpItem {
  isList: boolean;
  /** First payload byte. */
  start: number;
  /** One past the last payload byte (also where the next item starts). */
  end: number;
}

/**
 * Reads the item header at `pos` into `out`. The whole item must lie within
 * `limit`. Returns false for malformed or non-canonical encodings.
 */
export function readItem(buf: Uint8Array, pos: number, limit: number, out: RlpItem): boolean {
  if (pos >= limit) return false;
  const b = buf[pos];
  if (b < 0x80) {
    // A single byte is its own encoding.
    out.isList = false;
    out.start = pos;
    out.end = pos + 1;
    return true;
  }
  let isList: boolean;
  let len: number;
  let start: number;
  if (b < 0xb8) {
    isList = false;
    len = b - 0x80;
    start = pos + 1;
    // A single byte below 0x80 must be encoded as itself.
    if (len === 1 && (start >= limit || buf[start] < 0x80)) return false;
  } else if (b < 0xc0) {
    isList = false;
    const r = readLongLength(buf, pos + 1, b - 0xb7, limit);
    if (r < 0) return false;
    len = r;
    start = pos + 1 + (b - 0xb7);
  } else if (b < 0xf8) {
    isList = true;
    len = b - 0xc0;
    start = pos + 1;
  } else {
    isList = true;
    const r = readLongLength(buf, pos + 1, b - 0xf7, limit);
    if (r < 0) return false;
    len = r;
    start = pos + 1 + (b - 0xf7);
  }
  const end = start + len;
  if (end > limit) return false;
  out.isList = isList;
  out.start = start;
  out.end = end;
  return true;
}

/**
 * Big-endian length of `n` bytes at `pos`. -1 when it is not canonical (a
 * leading zero, or a value below 56 that fits the short form) or could never
 * fit in a datagram.
 */
function readLongLength(buf: Uint8Array, pos: number, n: number, limit: number): number {
  // A length needing more than 3 bytes is >= 16 MiB: never inside a
  // 1280-byte datagram, and this keeps the arithmetic exact.
  if (n > 3 || pos + n > limit || buf[pos] === 0) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i];
  return len < 56 ? -1 : len;
}

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Reads a canonical unsigned integer of at most `maxBytes` (<= 8) bytes
 * from the string payload [start, end). Returns -1 if it is not canonical
 * (leading zero) or too long. Values above 2^53 are rounded to the nearest
 * double, which is harmless for the comparisons (expiration, enr-seq order)
 * they are used in; exact values are available through {@link readBigUint}.
 */
export function readUint(buf: Uint8Array, start: number, end: number, maxBytes: number): number {
  const n = end - start;
  if (n > maxBytes || (n > 0 && buf[start] === 0)) return -1;
  let v = 0;
  if (n <= 6) {
    for (let i = start; i < end; i++) v = v * 256 + buf[i];
    return v;
  }
  // 7..8 bytes: combine two exact 32-bit halves.
  let hi = 0;
  for (let i = start; i < end - 4; i++) hi = hi * 256 + buf[i];
  const lo = ((buf[end - 4] << 24) | (buf[end - 3] << 16) | (buf[end - 2] << 8) | buf[end - 1]) >>> 0;
  v = hi * TWO_POW_32 + lo;
  return v;
}

/** Exact value of a (validated) integer payload as a bigint. */
export function readBigUint(buf: Uint8Array, start: number, end: number): bigint {
  let v = 0n;
  for (let i = start; i < end; i++) v = (v << 8n) | BigInt(buf[i]);
  return v;
}

// ---------------------------------------------------------------- writer

/** Bytes of the header for a payload of `len` bytes (string or list). */
export function headerSize(len: number): number {
  if (len < 56) return 1;
  if (len < 0x100) return 2;
  if (len < 0x10000) return 3;
  return 4;
}

/** Encoded size of a byte string. */
export function bytesSize(data: Uint8Array): number {
  const n = data.length;
  if (n === 1 && data[0] < 0x80) return 1;
  return headerSize(n) + n;
}

/** Encoded size of a uint (a safe-integer number or a bigint up to 2^64-1). */
export function uintSize(v: number | bigint): number {
  const n = uintByteLength(v);
  if (n === 0) return 1; // 0x80
  if (n === 1 && Number(v) < 0x80) return 1;
  return 1 + n;
}

/** Encoded size of a list whose items take `payload` bytes. */
export function listSize(payload: number): number {
  return headerSize(payload) + payload;
}

function uintByteLength(v: number | bigint): number {
  if (typeof v === 'bigint') {
    let n = 0;
    for (let x = v; x > 0n; x >>= 8n) n++;
    return n;
  }
  let n = 0;
  for (let x = v; x >= 1; x = Math.floor(x / 256)) n++;
  return n;
}

/** Writes a header with `base` 0x80 (string) or 0xc0 (list). Returns the new position. */
export function writeHeader(buf: Uint8Array, pos: number, len: number, base: 0x80 | 0xc0): number {
  if (len < 56) {
    buf[pos] = base + len;
    return pos + 1;
  }
  const n = len < 0x100 ? 1 : len < 0x10000 ? 2 : 3;
  buf[pos++] = base + 55 + n;
  for (let i = n - 1; i >= 0; i--) buf[pos++] = (len >>> (8 * i)) & 0xff;
  return pos;
}

export function writeBytes(buf: Uint8Array, pos: number, data: Uint8Array): number {
  if (data.length === 1 && data[0] < 0x80) {
    buf[pos] = data[0];
    return pos + 1;
  }
  pos = writeHeader(buf, pos, data.length, 0x80);
  buf.set(data, pos);
  return pos + data.length;
}

export function writeUint(buf: Uint8Array, pos: number, v: number | bigint): number {
  const n = uintByteLength(v);
  if (n === 0) {
    buf[pos] = 0x80;
    return pos + 1;
  }
  if (typeof v === 'bigint') {
    if (n === 1 && v < 0x80n) {
      buf[pos] = Number(v);
      return pos + 1;
    }
    buf[pos++] = 0x80 + n;
    for (let i = n - 1; i >= 0; i--) buf[pos++] = Number((v >> BigInt(8 * i)) & 0xffn);
    return pos;
  }
  if (n === 1 && v < 0x80) {
    buf[pos] = v;
    return pos + 1;
  }
  buf[pos++] = 0x80 + n;
  // Fill from the least significant byte backwards; division keeps it exact
  // for all safe integers (bit operators would truncate to 32 bits).
  let x = v;
  for (let i = pos + n - 1; i >= pos; i--) {
    buf[i] = x % 256;
    x = Math.floor(x / 256);
  }
  return pos + n;
}

/** An item for {@link encodeRlp}: bytes, a uint, or a nested list. */
export type RlpInput = Uint8Array | number | bigint | readonly RlpInput[];

function inputSize(x: RlpInput): number {
  if (x instanceof Uint8Array) return bytesSize(x);
  if (typeof x === 'number' || typeof x === 'bigint') return uintSize(x);
  let payload = 0;
  for (const y of x) payload += inputSize(y);
  return listSize(payload);
}

function writeInput(buf: Uint8Array, pos: number, x: RlpInput): number {
  if (x instanceof Uint8Array) return writeBytes(buf, pos, x);
  if (typeof x === 'number' || typeof x === 'bigint') return writeUint(buf, pos, x);
  let payload = 0;
  for (const y of x) payload += inputSize(y);
  pos = writeHeader(buf, pos, payload, 0xc0);
  for (const y of x) pos = writeInput(buf, pos, y);
  return pos;
}

/** Encodes a value into a new Buffer (records, tests; not the packet hot path). */
export function encodeRlp(x: RlpInput): Buffer {
  const out = Buffer.allocUnsafe(inputSize(x));
  writeInput(out, 0, x);
  return out;
}
