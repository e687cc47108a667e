/**
 * The helpers `@ethereumjs/devp2p` exports from its util module, with the
 * same names and results, built on this package's crypto and IP code.
 *
 * Where devp2p's behaviour is odd but observable (isV6Format accepting
 * dotted IPv4, ipToString compressing the leftmost zero run rather than the
 * longest), it is kept, because applications compare these strings.
 */
import { isIPv6 } from 'node:net';
import { generatePrivateKey } from '../crypto';
import { InvalidArgumentError } from '../errors';
import { ipToBytes as wireIpToBytes } from '../wire/ip';

/** A peer as devp2p's DPT, KBucket and BanList pass it around (devp2p `PeerInfo`). */
export interface PeerInfo {
  id?: Uint8Array;
  address?: string;
  udpPort?: number | null;
  tcpPort?: number | null;
  vectorClock?: number;
}

/** Lowercase hex without `0x`: the form devp2p keys peers by. */
export function bytesToUnprefixedHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** `0x`-prefixed lowercase hex, as devp2p formats bytes in error messages. */
export function bytesToHex(bytes: Uint8Array): string {
  return `0x${bytesToUnprefixedHex(bytes)}`;
}

/** A fresh random secp256k1 private key (plain Uint8Array, as devp2p returns). */
export function genPrivateKey(): Uint8Array {
  return new Uint8Array(generatePrivateKey());
}

// secp256k1: y^2 = x^3 + 7 over F_p.
const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
// p = 3 (mod 4), so a square root of a is a^((p+1)/4) when one exists.
const SQRT_EXP = (P + 1n) / 4n;

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
  }
  return result;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytesToUnprefixedHex(bytes)}`);
}

/** 64-byte X || Y of a 33-byte SEC1 compressed public key. */
function decompress(pk: Uint8Array): Uint8Array {
  const prefix = pk[0];
  if (prefix !== 0x02 && prefix !== 0x03) {
    throw new InvalidArgumentError('compressed public key must start with 0x02 or 0x03');
  }
  const x = bytesToBigInt(pk.subarray(1));
  if (x >= P) throw new InvalidArgumentError('compressed public key: x is not a field element');
  const y2 = (((x * x) % P) * x + 7n) % P;
  let y = modPow(y2, SQRT_EXP, P);
  if ((y * y) % P !== y2) throw new InvalidArgumentError('compressed public key is not on the curve');
  // The prefix carries the parity of y: 0x02 even, 0x03 odd.
  if ((y & 1n) !== BigInt(prefix & 1)) y = P - y;
  const out = new Uint8Array(64);
  out.set(pk.subarray(1), 0);
  const yHex = y.toString(16).padStart(64, '0');
  out.set(Buffer.from(yHex, 'hex'), 32);
  return out;
}

/**
 * Node id (64 bytes, no 0x04) of a public key. A 33-byte key is
 * decompressed; anything else loses its first byte, as in devp2p (which
 * does not check that the first byte of a 65-byte key is 0x04).
 */
export function pk2id(pk: Uint8Array): Uint8Array {
  if (pk.length === 33) return decompress(pk);
  return pk.subarray(1);
}

/** 0x04 || id: the uncompressed public key of a node id. */
export function id2pk(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(id.length + 1);
  out[0] = 0x04;
  out.set(id, 1);
  return out;
}

/** Pads `bytes` with zeros to `size` (on the left unless `leftpad` is false); longer input is returned as is. */
export function zfill(bytes: Uint8Array, size: number, leftpad = true): Uint8Array {
  if (bytes.length >= size) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes, leftpad ? size - bytes.length : 0);
  return out;
}

/** Bytewise a ^ b over the shorter length. */
export function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = a[i] ^ b[i];
  return out;
}

/**
 * Text form of an IP: dotted for 4 bytes; for 16, hex groups without
 * leading zeros with the *leftmost* run of two or more zero groups written
 * `::` (devp2p's form, which differs from RFC 5952 when a later run is
 * longer, and which does not keep a dotted tail for ::ffff:a.b.c.d). Any
 * other length gives '' as in devp2p.
 */
export function ipToString(bytes: Uint8Array, offset?: number, length?: number): string {
  const off = offset !== undefined ? Math.trunc(offset) || 0 : 0;
  const len = length ?? bytes.length - off;
  if (len === 4) return `${bytes[off]}.${bytes[off + 1]}.${bytes[off + 2]}.${bytes[off + 3]}`;
  if (len !== 16) return '';
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[off + i] << 8) | bytes[off + i + 1]).toString(16));
  let start = -1;
  let end = -1;
  for (let i = 0; i < 8 && start < 0; i++) {
    if (groups[i] !== '0') continue;
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i >= 2) {
      start = i;
      end = j;
    }
    i = j;
  }
  if (start < 0) return groups.join(':');
  return `${groups.slice(0, start).join(':')}::${groups.slice(end).join(':')}`;
}

/** Four dot-separated groups of 1-3 digits (devp2p's test: '999.1.1.1' passes, bytes are taken mod 256). */
export function isV4Format(ip: string): boolean {
  if (typeof ip !== 'string') return false;
  const parts = ip.split('.');
  return parts.length === 4 && parts.every((p) => p.length >= 1 && p.length <= 3 && /^[0-9]+$/.test(p));
}

/**
 * True for IPv6 text without a zone index, and, as devp2p's pattern does,
 * for dotted IPv4 too. Unlike devp2p's pattern it rejects strings that are
 * no address at all ('', 'abc').
 */
export function isV6Format(ip: string): boolean {
  if (typeof ip !== 'string') return false;
  if (isV4Format(ip)) return true;
  return !ip.includes('%') && isIPv6(ip);
}

/**
 * Bytes of an IP into `bytes` at `offset` (a new array of offset+4 or
 * offset+16 bytes when none is given), as devp2p's ipToBytes. Text that is
 * neither form throws `Invalid ip format: <ip>`. devp2p mis-parses a few
 * valid IPv6 forms ('::2:3:4:5:6:7:8' loses its last group); this does not.
 */
export function ipToBytes(ip: string, bytes?: Uint8Array, offset = 0): Uint8Array {
  let off = Math.trunc(offset) || 0;
  if (isV4Format(ip)) {
    const out = bytes ?? new Uint8Array(off + 4);
    for (const part of ip.split('.')) out[off++] = Number(part) & 0xff;
    return out;
  }
  if (isV6Format(ip)) {
    const out = bytes ?? new Uint8Array(off + 16);
    out.set(wireIpToBytes(ip), off);
    return out;
  }
  throw new InvalidArgumentError(`Invalid ip format: ${ip}`);
}
