/**
 * devp2p's DPT message codec (`encode`/`decode` of `@ethereumjs/devp2p`):
 * the same typenames, data shapes, bytes and error messages, over this
 * package's RLP and crypto.
 *
 * This is an API edge, not the hot path: it allocates and throws like the
 * code it replaces. The DPT's own traffic goes through src/wire.
 *
 * What devp2p does, and so does this:
 * - ports are written as exactly 2 bytes (or empty for null), timestamps as
 *   exactly 4, the ping version as minimal bytes (0 as a single 0x00);
 * - decode checks the hash, then the type, then the data, then recovers the
 *   sender; it reads the first RLP item and ignores any remainder and any
 *   extra list elements (EIP-8), and does not check expiry or size.
 */
import { Crypto, NativeStatus, nativeCrypto } from '../crypto';
import { DiscError, InvalidArgumentError } from '../errors';
import { RlpInput, RlpItem, encodeRlp, readItem } from '../wire/rlp';
import { CommonLike, cryptoFromCommon } from './crypto';
import { PeerInfo, bytesToHex, id2pk, ipToBytes, ipToString, isV4Format, isV6Format } from './util';

export type { CommonLike, CustomCrypto, EcsignResult } from './crypto';

/** An endpoint as decoded. */
export interface Endpoint {
  address: string;
  udpPort: number | null;
  tcpPort: number | null;
}

export interface PingData {
  version: number;
  from: Endpoint;
  to: Endpoint;
  timestamp: number;
}

export interface PongData {
  to: Endpoint;
  hash: Uint8Array;
  timestamp: number;
}

export interface FindNeighboursData {
  id: Uint8Array;
  timestamp: number;
}

export interface NeighboursData {
  peers: Array<{ endpoint: Endpoint; id: Uint8Array }>;
  timestamp: number;
}

/** What `encode` takes per typename; `timestamp` defaults to now + 60 s. */
export interface EncodeDataByType {
  ping: { version: number; from: PeerInfo; to: PeerInfo; timestamp?: number };
  pong: { to: PeerInfo; hash: Uint8Array; timestamp?: number };
  findneighbours: { id: Uint8Array; timestamp?: number };
  neighbours: { peers: PeerInfo[]; timestamp?: number };
}

export type MessageTypeName = keyof EncodeDataByType;

/**
 * A decoded message. `data` is typed `any` as in devp2p so code written
 * against it compiles unchanged; its shape per typename is {@link PingData},
 * {@link PongData}, {@link FindNeighboursData} or {@link NeighboursData}.
 */
export interface DecodedMessage {
  typename: MessageTypeName;
  data: any;
  /** The sender's 65-byte uncompressed public key (0x04 || node id). */
  publicKey: Uint8Array;
}

const TYPE_BY_NAME: Readonly<Record<MessageTypeName, number>> = {
  ping: 0x01,
  pong: 0x02,
  findneighbours: 0x03,
  neighbours: 0x04,
};
const NAME_BY_TYPE: ReadonlyArray<MessageTypeName | undefined> = [undefined, 'ping', 'pong', 'findneighbours', 'neighbours'];

// Packet layout: hash(32) || r || s || recid (65) || type || RLP.
const HASH = 32;
const HEAD = 97;

// ------------------------------------------------------------------ encode

/** Now + 60 s in Unix seconds: devp2p's default expiry. */
function defaultTimestamp(): number {
  return Math.floor(Date.now() / 1000) + 60;
}

function encodeTimestamp(value: number | undefined): Uint8Array {
  const out = new Uint8Array(4);
  // setUint32 wraps like devp2p's does (ToUint32), so odd inputs give the same bytes.
  new DataView(out.buffer).setUint32(0, value === undefined ? defaultTimestamp() : value);
  return out;
}

function encodeAddress(value: string | undefined): Uint8Array {
  if (typeof value === 'string' && (isV4Format(value) || isV6Format(value))) return ipToBytes(value);
  throw new DiscError('INVALID_ARGUMENT', `Invalid address: ${value}`);
}

function encodePort(value: number | null): Uint8Array {
  if (value === null) return new Uint8Array(0);
  // Unsigned shifts, as devp2p: anything that wraps to >= 2^16 is rejected.
  if (value >>> 16 > 0) throw new RangeError(`Invalid port: ${value}`);
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}

function encodeEndpoint(peer: PeerInfo): Uint8Array[] {
  return [encodeAddress(peer.address), encodePort(peer.udpPort ?? null), encodePort(peer.tcpPort ?? null)];
}

/** Minimal big-endian bytes of a non-negative safe integer, 0 as one 0x00 byte (devp2p intToBytes). */
function intToBytes(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new DiscError('INVALID_ARGUMENT', `Received an invalid integer type: ${value}`);
  }
  const bytes: number[] = [];
  for (let x = value; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Uint8Array.from(bytes.length === 0 ? [0] : bytes);
}

/** devp2p's RLP writes null/undefined as the empty string; bytes go as they are. */
function rawBytes(value: Uint8Array | null | undefined, what: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  throw new InvalidArgumentError(`${what} must be a Uint8Array`);
}

function encodeBody(typename: MessageTypeName, data: unknown): RlpInput {
  switch (typename) {
    case 'ping': {
      const d = data as EncodeDataByType['ping'];
      return [intToBytes(d.version), encodeEndpoint(d.from), encodeEndpoint(d.to), encodeTimestamp(d.timestamp)];
    }
    case 'pong': {
      const d = data as EncodeDataByType['pong'];
      return [encodeEndpoint(d.to), rawBytes(d.hash, 'pong hash'), encodeTimestamp(d.timestamp)];
    }
    case 'findneighbours': {
      const d = data as EncodeDataByType['findneighbours'];
      return [rawBytes(d.id, 'findneighbours id'), encodeTimestamp(d.timestamp)];
    }
    case 'neighbours': {
      const d = data as EncodeDataByType['neighbours'];
      const peers = d.peers.map((peer) => [...encodeEndpoint(peer), rawBytes(peer.id, 'peer id')]);
      return [peers, encodeTimestamp(d.timestamp)];
    }
  }
}

/**
 * A signed discv4 packet, byte-identical to devp2p's `encode` (RFC6979,
 * low-S). `common.customCrypto` hooks, when present, do the hashing and
 * signing.
 */
export function encode<T>(typename: string, data: T, privateKey: Uint8Array, common?: CommonLike): Uint8Array {
  if (!Object.prototype.hasOwnProperty.call(TYPE_BY_NAME, typename)) {
    throw new DiscError('INVALID_ARGUMENT', `Invalid typename: ${typename}`);
  }
  const name = typename as MessageTypeName;
  // Data errors come before key errors, in devp2p's order.
  const body = encodeRlp(encodeBody(name, data));
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
    throw new InvalidArgumentError('privateKey must be a 32-byte Uint8Array');
  }
  const packet = new Uint8Array(HEAD + 1 + body.length);
  packet[HEAD] = TYPE_BY_NAME[name];
  packet.set(body, HEAD + 1);
  const crypto = cryptoFromCommon(common) ?? nativeCrypto;
  if (crypto.seal(packet, 0, packet.length, privateKey) !== NativeStatus.Ok) {
    throw new InvalidArgumentError('privateKey is not a valid secp256k1 key (zero or >= curve order)');
  }
  return packet;
}

// ------------------------------------------------------------------ decode

/** A decoded RLP value: a byte string or a list. */
type RlpValue = Uint8Array | RlpValue[];

function badRlp(detail: string): DiscError {
  return new DiscError('BAD_RLP', `invalid RLP: ${detail}`);
}

/** Decodes the item at `pos` (within `limit`) into copies, recursively. */
function readValue(buf: Uint8Array, pos: number, limit: number, item: RlpItem): RlpValue {
  if (!readItem(buf, pos, limit, item)) throw badRlp('malformed or non-canonical item');
  // Copies, as devp2p's decoder gives: the caller may reuse the datagram.
  if (!item.isList) return new Uint8Array(buf.subarray(item.start, item.end));
  const list: RlpValue[] = [];
  const end = item.end;
  for (let p = item.start; p < end; ) {
    list.push(readValue(buf, p, end, item));
    p = item.end;
  }
  return list;
}

function list(v: RlpValue | undefined, what: string): RlpValue[] {
  if (Array.isArray(v)) return v;
  throw badRlp(`${what} must be a list`);
}

function bytes(v: RlpValue | undefined, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw badRlp(`${what} must be a byte string`);
}

/** Big-endian integer of any length that fits a safe integer (devp2p bytesToInt). */
function bytesToInt(b: Uint8Array): number {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new DiscError('BAD_RLP', 'Number exceeds 53 bits');
  return n;
}

function decodeTimestamp(v: RlpValue | undefined): number {
  const b = bytes(v, 'timestamp');
  if (b.length !== 4) throw new RangeError(`Invalid timestamp bytes :${bytesToHex(b)}`);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
}

function decodeAddress(v: RlpValue | undefined): string {
  const b = bytes(v, 'address');
  if (b.length === 4 || b.length === 16) return ipToString(b);
  // Old clients sent the address as text; devp2p still accepts that.
  const text = new TextDecoder().decode(b);
  if (isV4Format(text) || isV6Format(text)) return text;
  throw new DiscError('BAD_ADDRESS', `Invalid address bytes: ${bytesToHex(b)}`);
}

function decodePort(v: RlpValue | undefined): number | null {
  const b = bytes(v, 'port');
  return b.length === 0 ? null : bytesToInt(b);
}

function decodeEndpoint(v: RlpValue | undefined): Endpoint {
  const l = list(v, 'endpoint');
  return { address: decodeAddress(l[0]), udpPort: decodePort(l[1]), tcpPort: decodePort(l[2]) };
}

function decodeBody(typename: MessageTypeName, body: RlpValue[]): PingData | PongData | FindNeighboursData | NeighboursData {
  switch (typename) {
    case 'ping':
      return {
        version: bytesToInt(bytes(body[0], 'version')),
        from: decodeEndpoint(body[1]),
        to: decodeEndpoint(body[2]),
        timestamp: decodeTimestamp(body[3]),
      };
    case 'pong':
      return { to: decodeEndpoint(body[0]), hash: bytes(body[1], 'hash'), timestamp: decodeTimestamp(body[2]) };
    case 'findneighbours':
      return { id: bytes(body[0], 'id'), timestamp: decodeTimestamp(body[1]) };
    case 'neighbours':
      return {
        peers: list(body[0], 'peers').map((node) => ({
          endpoint: decodeEndpoint(node),
          id: bytes(list(node, 'peer')[3], 'peer id'),
        })),
        timestamp: decodeTimestamp(body[1]),
      };
  }
}

/**
 * Verifies and decodes a packet as devp2p's `decode`, with its error
 * messages: `Hash verification failed: 0x<packet[0:32]> / 0x<keccak(packet[32:])>`,
 * `Invalid type: <n>`, `Invalid address bytes: 0x..`, `Invalid timestamp bytes :0x..`.
 */
export function decode(packet: Uint8Array, common?: CommonLike): DecodedMessage {
  const crypto: Crypto = cryptoFromCommon(common) ?? nativeCrypto;
  const expected = packet.subarray(0, HASH);
  const actual = new Uint8Array(32);
  crypto.keccak256Into(packet, Math.min(HASH, packet.length), Math.max(0, packet.length - HASH), actual, 0);
  if (expected.length !== HASH || Buffer.compare(expected, actual) !== 0) {
    throw new DiscError('BAD_HASH', `Hash verification failed: ${bytesToHex(expected)} / ${bytesToHex(actual)}`);
  }
  const type = packet[HEAD];
  const typename = NAME_BY_TYPE[type];
  if (typename === undefined) throw new DiscError('UNKNOWN_TYPE', `Invalid type: ${type}`);
  const body = list(readValue(packet, HEAD + 1, packet.length, { isList: false, start: 0, end: 0 }), 'packet data');
  const data = decodeBody(typename, body);

  const sighash = new Uint8Array(32);
  crypto.keccak256Into(packet, HEAD, packet.length - HEAD, sighash, 0);
  const id = new Uint8Array(64);
  if (crypto.recoverInto(packet, HASH, packet[HEAD - 1], sighash, 0, id, 0) !== NativeStatus.Ok) {
    throw new DiscError('BAD_SIGNATURE', 'Invalid signature: the sender key cannot be recovered');
  }
  return { typename, data, publicKey: id2pk(id) };
}
