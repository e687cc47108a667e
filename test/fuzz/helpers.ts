/**
 * Fuzzing helpers shared by the bounded property tests (test/fuzz/*.test.ts,
 * fast-check) and the long run (scripts/fuzz.ts, a seeded PRNG):
 *
 * - {@link Rng}: the one source of randomness every builder takes, so the same
 *   builders serve both: {@link fcRng} wraps fast-check's `fc.gen()` (values
 *   are recorded and shrink), {@link SeededRng} is a fast sfc32.
 * - Datagram builders for every hostile kind ({@link DATAGRAM_KINDS}): valid
 *   packets of all six types, raw mutations, bodies re-sealed after mutation
 *   (hash and signature pass, the garbage reaches the RLP parser), random
 *   bytes of 0..2000, RLP length prefixes claiming up to 2^64 bytes, deep list
 *   nesting, garbage signatures under a correct hash.
 * - {@link checkDecoder}: readPacket (in a sentinel-filled buffer, at an
 *   offset) against decodePacket; asserts the decoder's contract.
 * - {@link FuzzSocket} and {@link TransportFuzzer}: a real Transport on an
 *   in-memory PacketSocket whose handler is fed directly, with every
 *   datagram's outcome read off `stats()` and checked to be exactly one
 *   counted drop or one accepted packet.
 */
import * as assert from 'node:assert/strict';
import type fc from 'fast-check';
import {
  Crypto,
  DECODE_ERROR_CODES,
  DecodeError,
  DecodeStatus,
  DiscError,
  HEAD_SIZE,
  MAX_PACKET_SIZE,
  NODE_ID_SIZE,
  PacketType,
  PacketView,
  decodePacket,
  encodePacket,
  keccak256,
  nativeCrypto,
  nodeIdFromPrivateKey,
  packetFromView,
  readPacket,
  signRecord,
} from '../../src';
import { MemoryBondStore } from '../../src/transport/bonds';
import { FakeClock } from '../../src/transport/clock';
import type { DatagramHandler, PacketSocket, RemoteAddress, SocketAddress } from '../../src/transport/socket';
import { Transport, TransportStats, VerifiedNode } from '../../src/transport/transport';
import { encodeRlp, RlpInput } from '../../src/wire/rlp';
import type { NodeBytes } from '../../src/wire/encode';
import { AnyFields, rlpHeader, sealBody, testKey, typeAndData } from '../helpers/packets';

// ---------------------------------------------------------------- randomness

/** The randomness every builder takes. */
export interface Rng {
  /** An integer in [min, max] (both inclusive, max - min < 2^32). */
  int(min: number, max: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** A fast seeded PRNG (sfc32) for the long run: reproducible from its seed. */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** A uniform uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  int(min: number, max: number): number {
    return min + (this.next() % (max - min + 1));
  }

  bytes(n: number): Uint8Array {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next();
      out[i] = v;
      if (i + 1 < n) out[i + 1] = v >>> 8;
      if (i + 2 < n) out[i + 2] = v >>> 16;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
}

/**
 * An Rng over fast-check's `fc.gen()`: every value is drawn through
 * fast-check, so a failing run is reported with its seed and shrunk.
 */
export function fcRng(fcApi: typeof fc, g: fc.GeneratorValue): Rng {
  return {
    int: (min, max) => g(fcApi.integer, { min, max }),
    bytes: (n) => g(fcApi.uint8Array, { minLength: n, maxLength: n }),
  };
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)];
}

/** True with probability about num/den. */
export function chance(rng: Rng, num: number, den: number): boolean {
  return rng.int(1, den) <= num;
}

// ---------------------------------------------------------------- fixtures

/** The wall clock of every fuzz run (ms): fixed, so expirations are reproducible. */
export const FUZZ_WALL_MS = 1_900_000_000_000;
/** The fuzzed transport's key and address. */
export const TRANSPORT_KEY = testKey('fuzz-transport');
export const TRANSPORT_ADDRESS: SocketAddress = { address: '10.0.0.1', port: 30303, family: 4 };

export interface FuzzPeer {
  key: Buffer;
  id: Buffer;
  ip: Buffer;
  port: number;
}

/**
 * The senders of signed fuzz traffic: LAN, WAN, loopback and IPv6 addresses,
 * a few at low ports. A small fixed set keeps every per-node and per-IP table
 * of the transport bounded, so heap growth in the long run means a leak.
 */
const PEER_ADDRESSES: ReadonlyArray<[string, number]> = [
  ['10.0.0.2', 30303],
  ['10.0.0.3', 30304],
  ['192.168.1.9', 30303],
  ['203.0.113.7', 30303],
  ['198.51.100.1', 1024],
  ['127.0.0.1', 30305],
  ['2001:db8::1', 30303],
  ['fe80::1', 53],
];

function ipBytes(text: string): Buffer {
  if (text.includes(':')) {
    // Only the two IPv6 forms used above: "2001:db8::1" and "fe80::1".
    const [head, tail] = text.split('::');
    const out = Buffer.alloc(16);
    head.split(':').forEach((h, i) => out.writeUInt16BE(parseInt(h, 16), i * 2));
    out.writeUInt16BE(parseInt(tail, 16), 14);
    return out;
  }
  return Buffer.from(text.split('.').map(Number));
}

export const PEERS: readonly FuzzPeer[] = PEER_ADDRESSES.map(([ip, port], i) => {
  const key = testKey(`fuzz-peer-${i}`);
  return { key, id: nodeIdFromPrivateKey(key), ip: ipBytes(ip), port };
});

/** Source addresses of unsigned junk: the peers' plus a few strangers (bounded, see PEERS). */
export const STRANGER_ADDRESSES: ReadonlyArray<{ ip: Buffer; port: number }> = [
  { ip: ipBytes('10.9.9.9'), port: 30303 },
  { ip: ipBytes('203.0.113.200'), port: 40000 },
  { ip: ipBytes('8.8.4.4'), port: 1 },
  { ip: ipBytes('2001:db8::99'), port: 65535 },
];

/** What `closest` hands the transport for findnode answers: LAN, WAN, loopback, IPv6 and a peer itself. */
export const TABLE_NODES: readonly NodeBytes[] = [
  ...PEERS.map((p) => ({ ip: p.ip, udpPort: p.port, tcpPort: p.port, id: p.id })),
  ...Array.from({ length: 12 }, (_, i) => ({
    ip: Buffer.from([100, 64, i, 1]),
    udpPort: 30303 + i,
    tcpPort: 30303,
    id: nodeIdFromPrivateKey(testKey(`fuzz-table-${i}`)),
  })),
];

// ---------------------------------------------------------------- fields of valid packets

const UINT64_MAX = (1n << 64n) - 1n;
export const PACKET_TYPES: readonly PacketType[] = [
  PacketType.Ping,
  PacketType.Pong,
  PacketType.Findnode,
  PacketType.Neighbors,
  PacketType.EnrRequest,
  PacketType.EnrResponse,
];

function randomIp(rng: Rng): Uint8Array {
  return rng.bytes(chance(rng, 2, 3) ? 4 : 16);
}

function randomEndpoint(rng: Rng): { ip: Uint8Array; udpPort: number; tcpPort: number } {
  return { ip: randomIp(rng), udpPort: rng.int(0, 0xffff), tcpPort: rng.int(0, 0xffff) };
}

function randomUint64(rng: Rng): bigint {
  return BigInt.asUintN(64, BigInt(`0x${Buffer.from(rng.bytes(8)).toString('hex')}`));
}

/**
 * An expiration: mostly in the future (accepted), sometimes past (EXPIRED),
 * 0, 2^32, or the uint64 extremes (decoded as rounded numbers above 2^53).
 * `exact` keeps it a safe integer, for byte-exact round trips.
 */
export function randomExpiration(rng: Rng, nowSec: number, exact = false): number | bigint {
  switch (rng.int(0, exact ? 3 : 5)) {
    case 0:
    case 1:
      return nowSec + rng.int(1, 86_400);
    case 2:
      return Math.max(0, nowSec - rng.int(1, 1_000_000));
    case 3:
      return rng.int(0, 1) === 0 ? 0 : 2 ** 32 + rng.int(0, 1000);
    case 4:
      return UINT64_MAX;
    default:
      return randomUint64(rng);
  }
}

/** An RLP list for ENRResponse.record: a real signed record, or a random list of up to ~300 bytes. */
function randomRecord(rng: Rng): Uint8Array {
  if (chance(rng, 1, 2)) {
    const peer = pick(rng, PEERS);
    return signRecord(peer.key, BigInt(rng.int(0, 1000)), peer.ip.length === 4 ? { ip: peer.ip, udp: peer.port } : { ip6: peer.ip, udp6: peer.port });
  }
  return encodeRlp(randomRlpList(rng, 2, 280));
}

/** A random RLP structure (bytes, uints, nested lists) of roughly at most `budget` encoded bytes. */
export function randomRlpList(rng: Rng, depth: number, budget: number): RlpInput[] {
  const out: RlpInput[] = [];
  let left = budget;
  const n = rng.int(0, 6);
  for (let i = 0; i < n && left > 2; i++) {
    const k = depth > 0 ? rng.int(0, 3) : rng.int(0, 2);
    if (k === 0) {
      const len = rng.int(0, Math.min(left - 2, 70));
      out.push(rng.bytes(len));
      left -= len + 2;
    } else if (k === 1) {
      out.push(rng.int(0, 0xffffffff));
      left -= 5;
    } else if (k === 2) {
      out.push(randomUint64(rng));
      left -= 9;
    } else {
      const sub = randomRlpList(rng, depth - 1, Math.floor(left / 2));
      out.push(sub);
      left -= encodeRlp(sub).length;
    }
  }
  return out;
}

/**
 * Valid encoder fields for `type` (random when undefined). `exact` keeps
 * every number a safe integer, so decode -> fieldsOf -> encode is byte-exact.
 */
export function randomFields(rng: Rng, nowSec: number, type?: PacketType, exact = false): AnyFields {
  const t = type ?? pick(rng, PACKET_TYPES);
  const seq = (): number | bigint | undefined => {
    const k = rng.int(0, exact ? 1 : 2);
    return k === 0 ? undefined : k === 1 ? rng.int(0, 2 ** 31) : randomUint64(rng);
  };
  const withSeq = <T extends object>(f: T): T => {
    const s = seq();
    return s === undefined ? f : { ...f, enrSeq: s };
  };
  switch (t) {
    case PacketType.Ping:
      return {
        type: t,
        fields: withSeq({
          version: chance(rng, 3, 4) ? 4 : rng.int(0, 0xffff),
          from: randomEndpoint(rng),
          to: randomEndpoint(rng),
          expiration: randomExpiration(rng, nowSec, exact),
        }),
      };
    case PacketType.Pong:
      return {
        type: t,
        fields: withSeq({ to: randomEndpoint(rng), replyToken: rng.bytes(32), expiration: randomExpiration(rng, nowSec, exact) }),
      };
    case PacketType.Findnode:
      return { type: t, fields: { target: rng.bytes(NODE_ID_SIZE), expiration: randomExpiration(rng, nowSec, exact) } };
    case PacketType.Neighbors: {
      // 12 nodes fit even when all are IPv6 (MAX_NEIGHBORS_PER_PACKET).
      const nodes = Array.from({ length: rng.int(0, 12) }, () => ({ ...randomEndpoint(rng), id: rng.bytes(NODE_ID_SIZE) }));
      return { type: t, fields: { nodes, expiration: randomExpiration(rng, nowSec, exact) } };
    }
    case PacketType.EnrRequest:
      return { type: t, fields: { expiration: randomExpiration(rng, nowSec, exact) } };
    default:
      return { type: PacketType.EnrResponse, fields: { replyToken: rng.bytes(32), record: randomRecord(rng) } };
  }
}

/** type || RLP of random valid fields, sometimes with EIP-8 extra list elements and trailing bytes. */
export function randomBody(rng: Rng, nowSec: number, type?: PacketType): Buffer {
  const f = randomFields(rng, nowSec, type);
  if (chance(rng, 3, 4)) return typeAndData(f);
  const rest = Array.from({ length: rng.int(0, 3) }, () => encodeRlp(randomRlpList(rng, 1, 40)));
  return typeAndData(f, rest, rng.bytes(rng.int(0, 8)));
}

// ---------------------------------------------------------------- hostile datagrams

/** RLP header bytes worth trying at any position. */
const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xb9, 0xbf, 0xc0, 0xc1, 0xf7, 0xf8, 0xf9, 0xff];

/**
 * 1..4 random edits of `buf` at positions >= `from`: bit flips, interesting
 * bytes, inserts, deletes, duplicated ranges, truncation, appended bytes,
 * or an RLP header claiming a huge length. The result stays <= 2000 bytes.
 */
export function mutate(rng: Rng, buf: Uint8Array, from = 0): Buffer {
  let b = Buffer.from(buf);
  const edits = rng.int(1, 4);
  for (let e = 0; e < edits; e++) {
    const span = b.length - from;
    const at = span > 0 ? from + rng.int(0, span - 1) : b.length;
    switch (rng.int(0, 8)) {
      case 0:
        if (span > 0) b[at] ^= 1 << rng.int(0, 7);
        break;
      case 1:
        if (span > 0) b[at] = pick(rng, INTERESTING_BYTES);
        break;
      case 2:
        if (span > 0) b[at] = rng.int(0, 255);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 16)), b.subarray(at)]);
        break;
      case 4:
        if (span > 0) b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 16)))]);
        break;
      case 5: {
        const end = Math.min(b.length, at + rng.int(1, 64));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
      case 6:
        b = b.subarray(0, Math.max(from, at));
        break;
      case 7:
        b = Buffer.concat([b, rng.bytes(rng.int(1, 32))]);
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), hugeHeader(rng, b.length - at), b.subarray(at)]);
        break;
    }
  }
  return b.length > 2000 ? b.subarray(0, 2000) : b;
}

/**
 * A long-form RLP header (0xb8..0xbf strings, 0xf8..0xff lists: 1..8 length
 * bytes) claiming a length chosen around `available` (what actually follows)
 * or far beyond it: 2^56 behind 0xff, all-ones, powers of two, and the
 * non-canonical forms (leading zero byte, a value below 56).
 */
export function hugeHeader(rng: Rng, available: number): Buffer {
  const n = rng.int(1, 8);
  const prefix = (chance(rng, 1, 2) ? 0xb7 : 0xf7) + n;
  const len = Buffer.alloc(n);
  switch (rng.int(0, 6)) {
    case 0: // 2^(8n-8): "0x01 00 00 ..", for n = 8 the 2^56 of a 0xbf/0xff prefix
      len[0] = 1;
      break;
    case 1:
      len.fill(0xff);
      break;
    case 2: // a leading zero: never canonical
      len[n - 1] = rng.int(0, 255);
      break;
    case 3: // below 56: should have used the short form
      len[n - 1] = rng.int(0, 55);
      break;
    default: {
      // Just about what follows: one more, exactly, one less.
      let v = Math.max(0, available + rng.int(-1, 1));
      for (let i = n - 1; i >= 0; i--, v = Math.floor(v / 256)) len[i] = v % 256;
      break;
    }
  }
  return Buffer.concat([Buffer.from([prefix]), len]);
}

/** Largest body (type || RLP) that still fits a datagram: 1280 - 97. */
export const MAX_BODY = MAX_PACKET_SIZE - HEAD_SIZE;

/**
 * type || data whose packet-data is built around huge declared lengths: at
 * the top, as the first list element, or inside a valid body (the outer
 * list header re-computed so the parser walks into it).
 */
export function hugeLengthBody(rng: Rng, nowSec: number): Buffer {
  const type = chance(rng, 7, 8) ? pick(rng, PACKET_TYPES) : rng.int(0, 255);
  const tail = rng.bytes(rng.int(0, 64));
  switch (rng.int(0, 2)) {
    case 0:
      return Buffer.concat([Buffer.from([type]), hugeHeader(rng, tail.length), tail]);
    case 1: {
      const inner = Buffer.concat([hugeHeader(rng, tail.length), tail]);
      return Buffer.concat([Buffer.from([type]), rlpHeader(inner.length), inner]);
    }
    default: {
      const body = randomBody(rng, nowSec);
      const payloadStart = body[1] < 0xf8 ? 2 : 2 + (body[1] - 0xf7);
      const payload = body.subarray(payloadStart);
      const at = rng.int(0, payload.length);
      const h = hugeHeader(rng, payload.length - at);
      const inner = Buffer.concat([payload.subarray(0, at), h, payload.subarray(at)]);
      return Buffer.concat([body.subarray(0, 1), rlpHeader(inner.length), inner]).subarray(0, MAX_BODY);
    }
  }
}

/**
 * `depth` nested lists as a correct encoding (each header the exact size of
 * what it holds) around `core`; with `sibling`, every level also holds that
 * one-byte item after its inner list: [[[core, s], s], s]. Built in one
 * pass (no copies per level), so depths in the tens of thousands are cheap.
 */
export function nestedLists(depth: number, core: Uint8Array = Buffer.alloc(0), sibling?: number): Buffer {
  const extra = sibling === undefined ? 0 : 1;
  const headers: Buffer[] = [];
  let itemSize = core.length;
  let headerBytes = 0;
  for (let i = 0; i < depth; i++) {
    const h = rlpHeader(itemSize + extra);
    headers.push(h);
    headerBytes += h.length;
    itemSize += h.length + extra;
  }
  // Layout: H_depth .. H_1, core, then `depth` siblings (level 1's first).
  const out = Buffer.alloc(headerBytes + core.length + depth * extra, sibling ?? 0);
  let pos = 0;
  for (let i = depth - 1; i >= 0; i--) {
    out.set(headers[i], pos);
    pos += headers[i].length;
  }
  out.set(core, pos);
  return out;
}

/**
 * type || data made of list headers: honest nesting (depth up to what fits),
 * lying nesting (the same header byte repeated: each claims more than the
 * next), or nested lists in the place of a field of a valid packet.
 * `maxBody` bounds the size: MAX_BODY for datagrams, far more for parseBody.
 */
export function deepNestingBody(rng: Rng, maxBody: number, nowSec: number): Buffer {
  const type = pick(rng, PACKET_TYPES);
  switch (rng.int(0, 3)) {
    case 0: {
      // Honest: 1-byte headers while the payload is < 56, then 2 and 3 bytes.
      const body = nestedLists(rng.int(1, Math.max(1, Math.floor((maxBody - 1) / 3))));
      return Buffer.concat([Buffer.from([type]), body]).subarray(0, maxBody);
    }
    case 1: {
      // Lying: thousands of one header byte, each claiming up to 55 bytes (or a long form).
      const h = chance(rng, 1, 2) ? rng.int(0xc1, 0xf7) : 0xf8;
      const n = rng.int(1, maxBody - 1);
      const body = Buffer.alloc(n, h);
      if (h === 0xf8) for (let i = 1; i < n; i += 2) body[i] = 0xf8; // 0xf8 0xf8: "a list of 248 bytes", repeated
      return Buffer.concat([Buffer.from([type]), body]);
    }
    case 2: {
      // Honest nesting in a packet's first field: [ [[[...]]], expiration ].
      const inner = Buffer.concat([nestedLists(rng.int(1, Math.floor((maxBody - 16) / 3))), encodeRlp(nowSec + 20)]);
      return Buffer.concat([Buffer.from([type]), rlpHeader(inner.length), inner]).subarray(0, maxBody);
    }
    default: {
      // Nesting of two-element lists: [[[..], 1], 1]: every level has a sibling to skip.
      const depth = rng.int(1, Math.max(1, Math.floor((maxBody - 1) / 4)));
      return Buffer.concat([Buffer.from([type]), nestedLists(depth, Buffer.from([0xc0]), 0x01)]).subarray(0, maxBody);
    }
  }
}

/**
 * Replaces the signature of `datagram` by junk and recomputes the outer
 * hash, so `open` gets past the hash check and runs recovery on r/s out of
 * range, r = 0, recovery ids 2..255, random points, or a flipped bit.
 */
export function garbageSignature(rng: Rng, datagram: Uint8Array): Buffer {
  const b = Buffer.from(datagram);
  if (b.length < HEAD_SIZE) return b;
  const sig = b.subarray(32, HEAD_SIZE);
  switch (rng.int(0, 5)) {
    case 0:
      sig.set(rng.bytes(65));
      break;
    case 1:
      sig.fill(0, 0, 32); // r = 0
      break;
    case 2:
      sig.fill(0xff, 0, 64); // r, s >= n
      break;
    case 3:
      sig[64] = rng.int(2, 255);
      break;
    case 4:
      sig[rng.int(0, 63)] ^= 1 << rng.int(0, 7);
      break;
    default:
      sig.fill(0, 32, 64); // s = 0
      break;
  }
  b.set(keccak256(b.subarray(32)), 0);
  return b;
}

/** Recomputes the outer hash of a datagram in place (the signature stays as it is). */
export function rehash(b: Buffer): Buffer {
  if (b.length >= 32) b.set(keccak256(b.subarray(32)), 0);
  return b;
}

export const DATAGRAM_KINDS = [
  /** A valid packet of a random type (EIP-8 extras sometimes; may be expired or > 1280 bytes). */
  'valid',
  /** A valid packet with raw edits anywhere, not re-hashed: mostly BAD_HASH. */
  'mutated',
  /** Edits after the hash, hash recomputed: the old signature over a new body. */
  'rehashed',
  /** A valid body edited, then sealed: hash and signature pass, the body is garbage. */
  'resealed',
  /** Random bytes of 0..2000. */
  'random',
  /** A type byte and random bytes, sealed. */
  'randomSealed',
  /** Sealed bodies with RLP headers claiming up to 2^64 bytes. */
  'hugeLength',
  /** Sealed bodies of nested list headers. */
  'deepNesting',
  /** A correct outer hash over a junk signature. */
  'garbageSignature',
] as const;
export type DatagramKind = (typeof DATAGRAM_KINDS)[number];

/**
 * One datagram of `kind`, signed (where it is signed) by one of `keys`.
 * Sealing uses `crypto` (native by default).
 */
export function makeDatagram(rng: Rng, kind: DatagramKind, keys: readonly Buffer[], nowSec: number, crypto: Crypto = nativeCrypto): Buffer {
  const key = pick(rng, keys);
  // seal needs the type byte at least; an edit may have removed everything.
  const sealed = (body: Uint8Array) => sealBody(body.length > 0 ? body : Buffer.from([PacketType.Ping]), key, crypto);
  switch (kind) {
    case 'valid':
      return sealed(randomBody(rng, nowSec));
    case 'mutated':
      return mutate(rng, sealed(randomBody(rng, nowSec)));
    case 'rehashed':
      return rehash(mutate(rng, sealed(randomBody(rng, nowSec)), 32));
    case 'resealed': {
      const body = mutate(rng, randomBody(rng, nowSec), 1);
      if (chance(rng, 1, 8) && body.length > 0) body[0] = rng.int(0, 255);
      return sealed(body.subarray(0, MAX_BODY + (chance(rng, 1, 16) ? 64 : 0)));
    }
    case 'random':
      return Buffer.from(rng.bytes(chance(rng, 1, 2) ? rng.int(0, 200) : rng.int(0, 2000)));
    case 'randomSealed': {
      const type = chance(rng, 7, 8) ? rng.int(1, 6) : rng.int(0, 255);
      return sealed(Buffer.concat([Buffer.from([type]), rng.bytes(rng.int(0, MAX_BODY - 1))]));
    }
    case 'hugeLength':
      return sealed(hugeLengthBody(rng, nowSec));
    case 'deepNesting':
      return sealed(deepNestingBody(rng, MAX_BODY, nowSec));
    case 'garbageSignature':
      return garbageSignature(rng, sealed(chance(rng, 3, 4) ? randomBody(rng, nowSec) : rng.bytes(rng.int(1, 300))));
  }
}

// ---------------------------------------------------------------- the decoder's contract

/** The statuses a decode can end in: DecodeStatus 0..7. */
const MAX_STATUS = DECODE_ERROR_CODES.length - 1;

/** Byte ranges the view points at for its type, as [name, start, end). */
export function viewRanges(v: PacketView): Array<[string, number, number]> {
  const r: Array<[string, number, number]> = [['rest', v.restStart, v.restEnd]];
  const seq = (): void => {
    if (v.enrSeqStart >= 0) r.push(['enrSeq', v.enrSeqStart, v.enrSeqEnd]);
  };
  switch (v.type as PacketType) {
    case PacketType.Ping:
      r.push(['from.ip', v.fromIpStart, v.fromIpEnd], ['to.ip', v.toIpStart, v.toIpEnd]);
      seq();
      break;
    case PacketType.Pong:
      r.push(['to.ip', v.toIpStart, v.toIpEnd], ['replyToken', v.tokenStart, v.tokenStart + 32]);
      seq();
      break;
    case PacketType.Findnode:
      r.push(['target', v.targetStart, v.targetStart + NODE_ID_SIZE]);
      break;
    case PacketType.Neighbors:
      for (let i = 0; i < v.nodeCount; i++) {
        const o = i * 5;
        r.push([`nodes[${i}].ip`, v.nodes[o], v.nodes[o + 1]], [`nodes[${i}].id`, v.nodes[o + 4], v.nodes[o + 4] + NODE_ID_SIZE]);
      }
      break;
    case PacketType.EnrResponse:
      r.push(['replyToken', v.tokenStart, v.tokenStart + 32], ['record', v.recordStart, v.recordEnd]);
      break;
  }
  return r;
}

/** JSON of a decoded packet with bytes as hex and bigints as text: comparable across buffers. */
export function packetJson(p: unknown): string {
  return JSON.stringify(p, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') {
      return Buffer.from((v as { data: number[] }).data).toString('hex');
    }
    return v;
  });
}

/**
 * What readPacket made of a datagram, independent of where it sat: the
 * status, the sender once `open` passed, the type once read, and every
 * decoded field when it decoded.
 */
function verdict(view: PacketView, st: number): string {
  if (st <= DecodeStatus.BadSignature && st !== DecodeStatus.Ok) return `${st}`;
  const id = view.nodeId.toString('hex');
  if (st !== DecodeStatus.Ok) return `${st}:${id}:${view.type}`;
  return `${st}:${id}:${packetJson(packetFromView(view))}`;
}

export interface DecoderCheck {
  status: DecodeStatus;
  /** The sender, when `open` verified the datagram. */
  nodeId?: string;
}

const sentinelView = new PacketView();
const scratchViews = [new PacketView(), new PacketView()];

/**
 * Runs a datagram through the decoder and asserts its contract:
 *
 * 1. readPacket returns a DecodeStatus (0..7) and throws nothing.
 * 2. readPacket reads nothing outside [off, off+len): the datagram is put at
 *    `offset` in a larger buffer filled with sentinel bytes (`fills`, one read
 *    each), and the verdict (status, sender, every field) is the same for
 *    each fill and for the exact-size buffer; every range the view reports
 *    lies inside the datagram, after the head and type byte; the buffer is
 *    not written to.
 * 3. decodePacket throws only DecodeError, with `code` from
 *    DECODE_ERROR_CODES and the same status; when it decodes, its fields are
 *    readPacket's.
 */
export function checkDecoder(
  datagram: Uint8Array,
  nowSec: number,
  offset: number,
  fills: readonly number[],
  crypto: Crypto = nativeCrypto,
): DecoderCheck {
  const len = datagram.length;
  let first: string | undefined;
  let status = 0;
  let nodeId: string | undefined;
  for (let f = 0; f < fills.length; f++) {
    const buf = Buffer.alloc(offset + len + 64, fills[f]);
    buf.set(datagram, offset);
    const copy = Buffer.from(buf);
    const view = sentinelView;
    const st = readPacket(view, buf, offset, len, nowSec, crypto);
    assert.ok(Number.isInteger(st) && st >= 0 && st <= MAX_STATUS, `readPacket returned ${String(st)}`);
    assert.ok(buf.equals(copy), 'readPacket wrote into the datagram buffer');
    // Offsets are meaningful once the body parsed (OK, EXPIRED); after a
    // failed parse the view holds stale values by contract (PacketView).
    if (st === DecodeStatus.Ok || st === DecodeStatus.Expired) {
      assert.equal(view.off, offset);
      assert.equal(view.len, len);
      for (const [name, start, end] of viewRanges(view)) {
        assert.ok(
          start >= offset + HEAD_SIZE + 1 && start <= end && end <= offset + len,
          `${name} = [${start}, ${end}) lies outside the datagram's packet-data [${offset + HEAD_SIZE + 1}, ${offset + len})`,
        );
      }
    }
    const v = verdict(view, st);
    if (first === undefined) {
      first = v;
      status = st;
      if (st === DecodeStatus.Ok || st > DecodeStatus.BadSignature) nodeId = view.nodeId.toString('hex');
    } else {
      assert.equal(v, first, `the verdict changed with the bytes around the datagram (fill 0x${fills[f].toString(16)})`);
    }
  }
  // The exact-size buffer, through the friendly API.
  const exact = Buffer.from(datagram);
  let packet: unknown;
  let thrown: unknown;
  try {
    packet = decodePacket(exact, { now: nowSec * 1000, crypto });
  } catch (err) {
    thrown = err;
  }
  if (thrown !== undefined) {
    assert.ok(thrown instanceof DecodeError, `decodePacket threw ${String(thrown)} (${(thrown as Error)?.constructor?.name}), not a DecodeError`);
    assert.ok((DECODE_ERROR_CODES as readonly string[]).includes(thrown.code) && (thrown.code as string) !== 'OK', `unknown DecodeError code ${thrown.code}`);
    assert.equal(thrown.code, DECODE_ERROR_CODES[thrown.status], 'code and status disagree');
    assert.equal(thrown.status, status, `decodePacket says ${thrown.code}, readPacket ${DECODE_ERROR_CODES[status]}`);
  } else {
    assert.equal(status, DecodeStatus.Ok, `decodePacket decoded what readPacket rejected as ${DECODE_ERROR_CODES[status]}`);
    const v = scratchViews[0];
    assert.equal(readPacket(v, exact, 0, len, nowSec, crypto), DecodeStatus.Ok);
    assert.equal(packetJson(packet), packetJson(packetFromView(v)), 'decodePacket and readPacket disagree on the fields');
  }
  return nodeId === undefined ? { status } : { status, nodeId };
}

/** A DecodeError, InvalidArgumentError or any DiscError: the errors our API may throw on purpose. */
export function isDiscError(err: unknown): err is DiscError {
  return err instanceof DiscError && typeof err.code === 'string';
}

// ---------------------------------------------------------------- an in-memory socket

export interface SentDatagram {
  bytes: Buffer;
  ip: Buffer;
  port: number;
}

/**
 * A PacketSocket for fuzzing: `deliver` calls the transport's handler
 * synchronously (the test is the network); `send` copies what the transport
 * sends into a small ring (to craft replies from) and completes at once.
 */
export class FuzzSocket implements PacketSocket {
  readonly kind = 'fuzz';
  /** Datagrams sent, and their bytes. */
  sent = 0;
  sentBytes = 0;
  private handler: DatagramHandler | undefined;
  private closed = false;
  private readonly ring: SentDatagram[] = [];
  private ringNext = 0;

  constructor(
    private readonly addr: SocketAddress = TRANSPORT_ADDRESS,
    /** Recent sent datagrams kept (copies). */
    private readonly ringSize = 64,
  ) {}

  start(handler: DatagramHandler): void {
    if (this.handler !== undefined) throw new Error('FuzzSocket: started twice');
    this.handler = handler;
  }

  /** Hands buf[off, off+len) from `from` to the handler, as a socket's receive path would. */
  deliver(buf: Uint8Array, off: number, len: number, from: RemoteAddress): void {
    const handler = this.handler;
    if (handler === undefined || this.closed) return;
    handler(buf, off, len, from);
  }

  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void): void {
    if (this.closed) {
      done(new DiscError('CLOSED', 'socket closed'));
      return;
    }
    this.sent++;
    this.sentBytes += len;
    const entry: SentDatagram = { bytes: Buffer.from(buf.subarray(off, off + len)), ip: Buffer.from(ip), port };
    if (this.ring.length < this.ringSize) this.ring.push(entry);
    else this.ring[this.ringNext] = entry;
    this.ringNext = (this.ringNext + 1) % this.ringSize;
    done();
  }

  /** The most recent sent datagrams (at most ringSize). */
  recent(): readonly SentDatagram[] {
    return this.ring;
  }

  address(): SocketAddress {
    return this.addr;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  stats(): Record<string, number> {
    return { sent: this.sent };
  }
}

// ---------------------------------------------------------------- the transport under fuzz

/** Drops the read loop counts before or instead of handling a datagram. */
const DECODE_DROPS = DECODE_ERROR_CODES.slice(1).map((c) => c.toLowerCase()) as Array<keyof TransportStats['drops']>;
const ADMIT_DROPS: Array<keyof TransportStats['drops']> = ['netrestrict', 'rate_global', 'rate_ip', 'rate_type'];
/** Drops of an accepted (decoded, counted in packetsIn) packet. */
const PACKET_DROPS: Array<keyof TransportStats['drops']> = ['self', 'unsolicited', 'unbonded'];
/** Replies not sent (the packet itself was handled). */
const REPLY_DROPS: Array<keyof TransportStats['drops']> = ['amplification', 'send_pool_exhausted'];
const TYPE_NAMES = ['ping', 'pong', 'findnode', 'neighbors', 'enrRequest', 'enrResponse'];

export interface FuzzTransportOptions {
  /** Default ingress rate limits on (true) or off (false, default): off lets every datagram reach the decoder. */
  rateLimits?: boolean;
  /** Bond store bound. Default 1,024 (small, so it fills early in a long run). */
  maxBonds?: number;
  /** Pending-queue bound. Default 1,024. */
  maxPending?: number;
  crypto?: Crypto;
}

/** The outcome of one datagram, as read off the transport's counters. */
export interface Outcome {
  /** 'drop:<reason>' for a datagram dropped before handling, 'accepted:<type>' else. */
  verdict: string;
  /** For an accepted packet dropped by its handler: 'self', 'unsolicited' or 'unbonded'. */
  packetDrop?: string;
  /** Replies the handler did not send ('amplification', 'send_pool_exhausted'). */
  replyDrops: string[];
}

/** Errors a request may legitimately end with; anything else is a bug. */
export const REQUEST_ERROR_CODES = new Set(['TIMEOUT', 'CLOSED', 'QUEUE_FULL', 'BAD_RECORD', 'AMPLIFICATION', 'SEND_POOL_EXHAUSTED']);

/**
 * A real Transport on a FuzzSocket, fed datagrams through its handler. Each
 * `feed` asserts that the handler did not throw, that exactly one of
 * {a decode drop, an admit drop, packetsIn[type]} moved, by one, that
 * bytesIn moved by the datagram's length, that no counter went down and
 * that no handler error was counted; it returns the outcome.
 */
export class TransportFuzzer {
  readonly socket: FuzzSocket;
  readonly clock = new FakeClock(0);
  readonly t: Transport;
  readonly maxBonds: number;
  readonly maxPending: number;
  /** Datagrams fed, by outcome: 'drop:<reason>', 'accepted:<type> -> drop:<reason>' or 'handled:<type>'. */
  readonly outcomes = new Map<string, number>();
  /** Replies a handled packet did not get, by reason (amplification, send_pool_exhausted). */
  readonly replyDrops = new Map<string, number>();
  /** Requests made and how they ended ('ok' or the error code). */
  readonly requests = new Map<string, number>();
  /** Errors that must not happen (handler errors, requests ending with an unexpected error). */
  readonly failures: string[] = [];
  datagrams = 0;
  private before: TransportStats;
  private readonly slab = Buffer.alloc(4096);
  private readonly from: RemoteAddress = { family: 4, ip: new Uint8Array(4), port: 0 };
  private readonly inFlight = new Set<string>();

  constructor(opts: FuzzTransportOptions = {}) {
    this.socket = new FuzzSocket();
    this.maxBonds = opts.maxBonds ?? 1024;
    this.maxPending = opts.maxPending ?? 1024;
    this.t = new Transport({
      privateKey: TRANSPORT_KEY,
      socket: this.socket,
      clock: this.clock,
      now: () => FUZZ_WALL_MS + this.clock.now(),
      rateLimits: opts.rateLimits === true ? {} : false,
      bonds: new MemoryBondStore(this.maxBonds),
      maxPending: this.maxPending,
      closest: () => TABLE_NODES,
      crypto: opts.crypto,
    });
    // Listeners on every event, so emitPacket builds (and copies) each packet too.
    for (const name of [...TYPE_NAMES, 'inboundNode']) this.t.on(name as 'ping', () => undefined);
    this.t.on('handlerError', (err: unknown) => this.failures.push(`handlerError: ${String((err as Error)?.stack ?? err)}`));
    this.before = this.t.stats();
  }

  /** The transport's wall time in seconds, exactly as its read loop passes it to readPacket. */
  get nowSecExact(): number {
    return (FUZZ_WALL_MS + this.clock.now()) / 1000;
  }

  /** Wall time of the transport in whole seconds (for building expirations). */
  get nowSec(): number {
    return Math.floor((FUZZ_WALL_MS + this.clock.now()) / 1000);
  }

  /**
   * Delivers `datagram` from ip:port at `offset` in the receive slab (the
   * rest of the slab holds junk, and the bytes are overwritten right after
   * the handler returns, as a reused receive buffer would be).
   */
  feed(datagram: Uint8Array, ip: Uint8Array, port: number, offset = 0): Outcome {
    const len = datagram.length;
    const off = Math.min(offset, this.slab.length - len);
    this.slab.set(datagram, off);
    const from = this.from;
    from.family = ip.length === 4 ? 4 : 6;
    from.ip = ip;
    from.port = port;
    this.socket.deliver(this.slab, off, len, from);
    this.slab.fill(0xa5, off, off + len);
    this.datagrams++;
    const after = this.t.stats();
    const outcome = classify(this.before, after, len);
    this.before = after;
    // One key per datagram: 'drop:<reason>', 'accepted:<type> -> drop:<reason>' or 'handled:<type>'.
    if (outcome.packetDrop !== undefined) this.count(`${outcome.verdict} -> drop:${outcome.packetDrop}`);
    else this.count(outcome.verdict.replace(/^accepted:/, 'handled:'));
    for (const r of outcome.replyDrops) this.replyDrops.set(r, (this.replyDrops.get(r) ?? 0) + 1);
    if (this.failures.length > 0) throw new Error(this.failures[0]);
    return outcome;
  }

  private count(key: string): void {
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  /**
   * Starts a request of ours to `peer` (ping, findnode or requestENR), at
   * most one per kind and peer at a time; its ending is counted and checked.
   */
  request(kind: 'ping' | 'findnode' | 'requestENR', peer: FuzzPeer, target?: Uint8Array): void {
    const key = `${kind}:${peer.id.toString('hex', 0, 4)}`;
    if (this.inFlight.has(key)) {
      this.requests.set(`${kind}: not made (one in flight)`, (this.requests.get(`${kind}: not made (one in flight)`) ?? 0) + 1);
      return;
    }
    this.inFlight.add(key);
    const node = { id: peer.id, ip: peer.ip, udpPort: peer.port };
    const p: Promise<unknown> =
      kind === 'ping' ? this.t.ping(node) : kind === 'findnode' ? this.t.findnode(node, target ?? peer.id) : this.t.requestENR(node);
    // What the request sent (a ping now, or later after its bond) is not a datagram's doing.
    this.before = this.t.stats();
    p.then(
      (res) => {
        this.inFlight.delete(key);
        if (kind === 'findnode') checkFoundNodes(res as VerifiedNode[], peer, this.failures);
        this.requests.set(`${kind}: ok`, (this.requests.get(`${kind}: ok`) ?? 0) + 1);
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        const code = isDiscError(err) ? err.code : undefined;
        if (code === undefined || !REQUEST_ERROR_CODES.has(code)) this.failures.push(`${kind} rejected with ${String((err as Error)?.stack ?? err)}`);
        this.requests.set(`${kind}: ${code ?? 'non-DiscError'}`, (this.requests.get(`${kind}: ${code ?? 'non-DiscError'}`) ?? 0) + 1);
      },
    );
  }

  /** Requests of ours not yet ended. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Moves the fake clock (running timeouts), lets promise callbacks run, and re-reads the counters. */
  async settle(ms: number): Promise<void> {
    // A few turns: a ping-back's settlement releases a held findnode, whose
    // answer settles another promise, and so on.
    for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    this.clock.advance(ms);
    for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    const s = this.t.stats();
    assertMonotonic(this.before, s);
    this.before = s;
    this.checkBounds(s);
    if (this.failures.length > 0) throw new Error(this.failures[0]);
  }

  /** The invariants of the counters that hold at any time. */
  checkBounds(s: TransportStats = this.t.stats()): void {
    let inTotal = 0;
    for (const n of TYPE_NAMES) inTotal += s.packetsIn[n];
    let dropsBefore = 0;
    for (const r of [...DECODE_DROPS, ...ADMIT_DROPS]) dropsBefore += s.drops[r];
    assert.equal(inTotal + dropsBefore, this.datagrams, 'every datagram is counted once: packetsIn + decode/admit drops');
    let packetDrops = 0;
    for (const r of PACKET_DROPS) packetDrops += s.drops[r];
    // A held findnode is dropped as unbonded later, so this is <=, not ==.
    assert.ok(packetDrops <= inTotal, `packet drops (${packetDrops}) exceed accepted packets (${inTotal})`);
    assert.equal(s.drops.handler_error, 0, 'no handler error');
    assert.ok(s.pending >= 0 && s.pending <= this.maxPending, `pending ${s.pending} outside 0..${this.maxPending}`);
    assert.ok(s.bonds >= 0 && s.bonds <= this.maxBonds, `bonds ${s.bonds} outside 0..${this.maxBonds}`);
    assert.ok(s.deferredFindnodes <= s.packetsIn.findnode, 'more deferred findnodes answered than findnodes received');
  }

  close(): Promise<void> {
    return this.t.close();
  }
}

/** Nodes a findnode returned must pass the transport's own relay rules (checked loosely: port > 1024, ids of 64 bytes). */
function checkFoundNodes(nodes: VerifiedNode[], peer: FuzzPeer, failures: string[]): void {
  for (const n of nodes) {
    if (n.udpPort <= 1024) failures.push(`findnode(${peer.port}) returned a node at low port ${n.udpPort}`);
    if (n.id.length !== NODE_ID_SIZE) failures.push(`findnode returned a ${n.id.length}-byte id`);
  }
}

function assertMonotonic(a: TransportStats, b: TransportStats): void {
  for (const k of Object.keys(a.drops) as Array<keyof TransportStats['drops']>) {
    assert.ok(b.drops[k] >= a.drops[k], `drops.${k} went down (${a.drops[k]} -> ${b.drops[k]})`);
  }
  for (const n of TYPE_NAMES) {
    assert.ok(b.packetsIn[n] >= a.packetsIn[n], `packetsIn.${n} went down`);
    assert.ok(b.packetsOut[n] >= a.packetsOut[n], `packetsOut.${n} went down`);
  }
  assert.ok(b.bytesIn >= a.bytesIn && b.bytesOut >= a.bytesOut, 'byte counters went down');
}

/**
 * Reads one datagram's outcome off the counters before and after it: exactly
 * one of the decode drops, admit drops and packetsIn moved, by exactly one.
 */
export function classify(before: TransportStats, after: TransportStats, len: number): Outcome {
  assertMonotonic(before, after);
  assert.equal(after.bytesIn - before.bytesIn, len, 'bytesIn moved by the datagram length');
  assert.equal(after.drops.handler_error, before.drops.handler_error, 'handler_error counted');
  const moved: string[] = [];
  for (const r of [...DECODE_DROPS, ...ADMIT_DROPS]) {
    const d = after.drops[r] - before.drops[r];
    if (d !== 0) moved.push(`drop:${r}${d === 1 ? '' : ` x${d}`}`);
  }
  for (const n of TYPE_NAMES) {
    const d = after.packetsIn[n] - before.packetsIn[n];
    if (d !== 0) moved.push(`accepted:${n}${d === 1 ? '' : ` x${d}`}`);
  }
  assert.equal(moved.length, 1, `one datagram moved ${moved.length === 0 ? 'no counter' : moved.join(', ')}`);
  const verdict = moved[0];
  assert.ok(!verdict.includes(' x'), `one datagram counted more than once: ${verdict}`);
  const outcome: Outcome = { verdict, replyDrops: [] };
  if (verdict.startsWith('accepted:')) {
    const packetDrops = PACKET_DROPS.filter((r) => after.drops[r] !== before.drops[r]);
    assert.ok(packetDrops.length <= 1, `one packet dropped as ${packetDrops.join(' and ')}`);
    if (packetDrops.length === 1) {
      assert.equal(after.drops[packetDrops[0]] - before.drops[packetDrops[0]], 1, `drops.${packetDrops[0]} moved by more than one`);
      outcome.packetDrop = packetDrops[0];
    }
  } else {
    for (const r of [...PACKET_DROPS, ...REPLY_DROPS]) assert.equal(after.drops[r], before.drops[r], `a dropped datagram also moved drops.${r}`);
    for (const n of TYPE_NAMES) assert.equal(after.packetsOut[n], before.packetsOut[n], `a dropped datagram made us send a ${n}`);
  }
  for (const r of REPLY_DROPS) if (after.drops[r] !== before.drops[r]) outcome.replyDrops.push(r);
  return outcome;
}

// ---------------------------------------------------------------- conversations

/**
 * A reply from the peer a recent datagram of ours went to: a pong to our
 * ping, neighbors to our findnode, an ENRResponse (a valid record, someone
 * else's, or junk) to our ENRRequest, or after our pong/neighbors/ENRResponse
 * a findnode or ENRRequest (now perhaps bonded). Undefined when nothing we
 * sent went to a peer.
 */
export function replyDatagram(rng: Rng, f: TransportFuzzer): { datagram: Buffer; peer: FuzzPeer } | undefined {
  const recent = f.socket.recent();
  if (recent.length === 0) return undefined;
  const sent = pick(rng, recent);
  const peer = PEERS.find((p) => p.port === sent.port && p.ip.equals(sent.ip));
  if (peer === undefined) return undefined;
  const ours = decodePacket(sent.bytes, { ignoreExpiration: true });
  const exp = f.nowSec + 20;
  const me = { ip: TRANSPORT_ADDRESS.address, udpPort: TRANSPORT_ADDRESS.port };
  let datagram: Buffer;
  switch (ours.type) {
    case PacketType.Ping:
      datagram = encodePacket(PacketType.Pong, { to: me, replyToken: ours.hash, expiration: exp, enrSeq: rng.int(0, 5) }, peer.key);
      break;
    case PacketType.Findnode: {
      const nodes = Array.from({ length: rng.int(0, 12) }, () => {
        const e = chance(rng, 1, 2) ? pick(rng, TABLE_NODES) : { ...randomEndpoint(rng), id: rng.bytes(NODE_ID_SIZE) };
        return { ip: e.ip, udpPort: e.udpPort, tcpPort: e.tcpPort, id: e.id };
      });
      datagram = encodePacket(PacketType.Neighbors, { nodes, expiration: exp }, peer.key);
      break;
    }
    case PacketType.EnrRequest: {
      const signer = chance(rng, 3, 4) ? peer : pick(rng, PEERS);
      const record = chance(rng, 3, 4)
        ? signRecord(signer.key, BigInt(rng.int(1, 9)), signer.ip.length === 4 ? { ip: signer.ip, udp: signer.port } : { ip6: signer.ip, udp6: signer.port })
        : encodeRlp(randomRlpList(rng, 2, 250));
      datagram = encodePacket(PacketType.EnrResponse, { replyToken: ours.hash, record }, peer.key);
      break;
    }
    default:
      datagram = chance(rng, 1, 2)
        ? encodePacket(PacketType.Findnode, { target: rng.bytes(NODE_ID_SIZE), expiration: exp }, peer.key)
        : encodePacket(PacketType.EnrRequest, { expiration: exp }, peer.key);
      break;
  }
  return { datagram, peer };
}

/** The source address of a datagram: its signer's own (mostly) or anyone's (spoofed). */
export function sourceOf(rng: Rng, signer: FuzzPeer | undefined): { ip: Buffer; port: number } {
  if (signer !== undefined && chance(rng, 7, 8)) return { ip: signer.ip, port: signer.port };
  return chance(rng, 1, 2) ? pick(rng, PEERS) : pick(rng, STRANGER_ADDRESSES);
}

/** Every key that signs fuzz traffic: the peers', and (rarely picked) the transport's own. */
export const SIGNING_KEYS: readonly Buffer[] = [...PEERS.map((p) => p.key), TRANSPORT_KEY];

/** One input to the transport: a datagram from an address, or a request of ours. */
export type FuzzInput =
  | { kind: string; datagram: Buffer; ip: Buffer; port: number; offset: number }
  | { kind: string; request: 'ping' | 'findnode' | 'requestENR'; peer: FuzzPeer; target?: Uint8Array };

/**
 * The next input of a conversation with the transport `f`: a hostile
 * datagram of any kind (6 in 10), a possibly mutated reply to something it
 * sent (3 in 10), or a request of ours (ping, findnode, ENRRequest).
 * `requestPercent` sets how often the last happens (default 6).
 */
export function fuzzInput(rng: Rng, f: TransportFuzzer, requestPercent = 6): FuzzInput {
  const roll = rng.int(0, 99);
  const offset = rng.int(0, 1500);
  if (roll < requestPercent) {
    const peer = pick(rng, PEERS);
    const request = pick(rng, ['ping', 'findnode', 'requestENR'] as const);
    return { kind: `request:${request}`, request, peer, target: chance(rng, 1, 2) ? rng.bytes(NODE_ID_SIZE) : undefined };
  }
  if (roll < requestPercent + 30) {
    const r = replyDatagram(rng, f);
    if (r !== undefined) {
      let datagram = r.datagram;
      let kind = 'reply';
      const m = rng.int(0, 9);
      if (m === 0) {
        datagram = sealBody(mutate(rng, datagram.subarray(HEAD_SIZE), 1), r.peer.key);
        kind = 'reply:resealed';
      } else if (m === 1) {
        datagram = mutate(rng, datagram);
        kind = 'reply:mutated';
      }
      return { kind, datagram, ...sourceOf(rng, r.peer), offset };
    }
  }
  const kind = pick(rng, DATAGRAM_KINDS);
  // The transport's own key signs rarely (drops.self); the peers sign the rest.
  const keyIndex = chance(rng, 1, 40) ? PEERS.length : rng.int(0, PEERS.length - 1);
  const datagram = makeDatagram(rng, kind, [SIGNING_KEYS[keyIndex]], f.nowSec);
  return { kind, datagram, ...sourceOf(rng, PEERS[keyIndex]), offset };
}

/** Feeds an input to `f` (a datagram through its handler, or a request); the datagram's outcome. */
export function applyInput(f: TransportFuzzer, input: FuzzInput): Outcome | undefined {
  if ('request' in input) {
    f.request(input.request, input.peer, input.target);
    return undefined;
  }
  return f.feed(input.datagram, input.ip, input.port, input.offset);
}
