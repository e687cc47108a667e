/**
 * discv4 packet encoding.
 *
 * {@link writePacket} writes `type || RLP(fields)` into a caller buffer
 * after 97 bytes of headroom and returns the packet length; the caller then
 * seals it in place (one native call: sign, write signature, write hash).
 * Sizes are computed first, so the RLP is written forward in one pass with
 * no temporary arrays. {@link encodePacket} is the allocating convenience.
 */
import { Crypto, nativeCrypto, NativeStatus } from '../crypto';
import { InvalidArgumentError } from '../errors';
import { toIpBytes } from './ip';
import { bytesSize, listSize, readItem, RlpItem, uintSize, writeBytes, writeHeader, writeUint } from './rlp';
import {
  EndpointInput,
  HASH_SIZE,
  HEAD_SIZE,
  MAX_PACKET_SIZE,
  NODE_ID_SIZE,
  PacketFieldsByType,
  PacketType,
  PING_VERSION,
  UnixSeconds,
} from './types';
import { EXPIRATION_SEC } from '../defaults';

const UINT64_MAX = (1n << 64n) - 1n;
const recordItem: RlpItem = { isList: false, start: 0, end: 0 };

function checkUint(name: string, v: number | bigint, max: bigint = UINT64_MAX): number | bigint {
  if (typeof v === 'bigint' ? v >= 0n && v <= max : Number.isSafeInteger(v) && v >= 0 && BigInt(v) <= max) return v;
  throw new InvalidArgumentError(`${name} must be an integer in 0..${max} (got ${String(v)})`);
}

function checkPort(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  throw new InvalidArgumentError(`${name} must be a port number 0..65535 (got ${String(v)})`);
}

function checkLen(name: string, v: Uint8Array, size: number): Uint8Array {
  if (v instanceof Uint8Array && v.length === size) return v;
  throw new InvalidArgumentError(`${name} must be ${size} bytes`);
}

/** Default expiration: now + 20 s, as geth. */
export function expirationFromNow(nowMs: number = Date.now(), ttlSec: number = EXPIRATION_SEC): number {
  return Math.floor(nowMs / 1000) + ttlSec;
}

function expirationOf(v: UnixSeconds | undefined): number | bigint {
  return v === undefined ? expirationFromNow() : checkUint('expiration', v);
}

/** An endpoint normalised for writing. */
interface Ep {
  ip: Uint8Array;
  udpPort: number;
  tcpPort: number;
}

function ep(name: string, e: EndpointInput): Ep {
  if (e === null || typeof e !== 'object') throw new InvalidArgumentError(`${name} must be an endpoint object`);
  return {
    ip: toIpBytes(e.ip),
    udpPort: checkPort(`${name}.udpPort`, e.udpPort),
    tcpPort: checkPort(`${name}.tcpPort`, e.tcpPort),
  };
}

// ---------------------------------------------------------------- raw writers
//
// The transport's hot path: arguments are already valid (ips 4/16 bytes,
// ports 0..65535, integers in range), nothing is allocated, and a packet
// that would not fit returns -1 instead of throwing. Each returns the full
// packet length from `off` (97 bytes of headroom included), ready for seal.

function endpointPayload(ip: Uint8Array, udp: number, tcp: number): number {
  return bytesSize(ip) + uintSize(udp) + uintSize(tcp);
}

function writeEndpointItems(buf: Uint8Array, pos: number, ip: Uint8Array, udp: number, tcp: number): number {
  pos = writeBytes(buf, pos, ip);
  pos = writeUint(buf, pos, udp);
  return writeUint(buf, pos, tcp);
}

/** Writes the type byte and list header if `payload` fits; returns the position after them or -1. */
function begin(buf: Uint8Array, off: number, type: PacketType, payload: number): number {
  if (HEAD_SIZE + 1 + listSize(payload) > Math.min(buf.length - off, MAX_PACKET_SIZE)) return -1;
  buf[off + HEAD_SIZE] = type;
  return writeHeader(buf, off + HEAD_SIZE + 1, payload, 0xc0);
}

export function writePingRaw(
  buf: Uint8Array,
  off: number,
  version: number | bigint,
  fromIp: Uint8Array,
  fromUdp: number,
  fromTcp: number,
  toIp: Uint8Array,
  toUdp: number,
  toTcp: number,
  expiration: number | bigint,
  enrSeq: number | bigint | undefined,
): number {
  const fromLen = endpointPayload(fromIp, fromUdp, fromTcp);
  const toLen = endpointPayload(toIp, toUdp, toTcp);
  let pos = begin(
    buf,
    off,
    PacketType.Ping,
    uintSize(version) + listSize(fromLen) + listSize(toLen) + uintSize(expiration) + (enrSeq === undefined ? 0 : uintSize(enrSeq)),
  );
  if (pos < 0) return -1;
  pos = writeUint(buf, pos, version);
  pos = writeHeader(buf, pos, fromLen, 0xc0);
  pos = writeEndpointItems(buf, pos, fromIp, fromUdp, fromTcp);
  pos = writeHeader(buf, pos, toLen, 0xc0);
  pos = writeEndpointItems(buf, pos, toIp, toUdp, toTcp);
  pos = writeUint(buf, pos, expiration);
  if (enrSeq !== undefined) pos = writeUint(buf, pos, enrSeq);
  return pos - off;
}

/** `token` is read from tokenBuf[tokenOff, tokenOff+32): the ping's hash, in place in its datagram. */
export function writePongRaw(
  buf: Uint8Array,
  off: number,
  toIp: Uint8Array,
  toUdp: number,
  toTcp: number,
  tokenBuf: Uint8Array,
  tokenOff: number,
  expiration: number | bigint,
  enrSeq: number | bigint | undefined,
): number {
  const toLen = endpointPayload(toIp, toUdp, toTcp);
  let pos = begin(buf, off, PacketType.Pong, listSize(toLen) + 1 + HASH_SIZE + uintSize(expiration) + (enrSeq === undefined ? 0 : uintSize(enrSeq)));
  if (pos < 0) return -1;
  pos = writeHeader(buf, pos, toLen, 0xc0);
  pos = writeEndpointItems(buf, pos, toIp, toUdp, toTcp);
  pos = writeHeader(buf, pos, HASH_SIZE, 0x80);
  buf.set(tokenBuf.subarray(tokenOff, tokenOff + HASH_SIZE), pos);
  pos = writeUint(buf, pos + HASH_SIZE, expiration);
  if (enrSeq !== undefined) pos = writeUint(buf, pos, enrSeq);
  return pos - off;
}

export function writeFindnodeRaw(buf: Uint8Array, off: number, target: Uint8Array, expiration: number | bigint): number {
  let pos = begin(buf, off, PacketType.Findnode, 2 + NODE_ID_SIZE + uintSize(expiration));
  if (pos < 0) return -1;
  pos = writeBytes(buf, pos, target);
  return writeUint(buf, pos, expiration) - off;
}

/** A node as the neighbors writer reads it (ip 4/16 bytes, id 64 bytes). */
export interface NodeBytes {
  ip: Uint8Array;
  udpPort: number;
  tcpPort: number;
  id: Uint8Array;
}

/** Writes nodes[start, end) into one neighbors packet. */
export function writeNeighborsRaw(
  buf: Uint8Array,
  off: number,
  nodes: readonly NodeBytes[],
  start: number,
  end: number,
  expiration: number | bigint,
): number {
  let nodesLen = 0;
  for (let i = start; i < end; i++) {
    const n = nodes[i];
    nodesLen += listSize(endpointPayload(n.ip, n.udpPort, n.tcpPort) + 2 + NODE_ID_SIZE);
  }
  let pos = begin(buf, off, PacketType.Neighbors, listSize(nodesLen) + uintSize(expiration));
  if (pos < 0) return -1;
  pos = writeHeader(buf, pos, nodesLen, 0xc0);
  for (let i = start; i < end; i++) {
    const n = nodes[i];
    pos = writeHeader(buf, pos, endpointPayload(n.ip, n.udpPort, n.tcpPort) + 2 + NODE_ID_SIZE, 0xc0);
    pos = writeEndpointItems(buf, pos, n.ip, n.udpPort, n.tcpPort);
    pos = writeBytes(buf, pos, n.id);
  }
  return writeUint(buf, pos, expiration) - off;
}

export function writeEnrRequestRaw(buf: Uint8Array, off: number, expiration: number | bigint): number {
  const pos = begin(buf, off, PacketType.EnrRequest, uintSize(expiration));
  return pos < 0 ? -1 : writeUint(buf, pos, expiration) - off;
}

export function writeEnrResponseRaw(buf: Uint8Array, off: number, tokenBuf: Uint8Array, tokenOff: number, record: Uint8Array): number {
  let pos = begin(buf, off, PacketType.EnrResponse, 1 + HASH_SIZE + record.length);
  if (pos < 0) return -1;
  pos = writeHeader(buf, pos, HASH_SIZE, 0x80);
  buf.set(tokenBuf.subarray(tokenOff, tokenOff + HASH_SIZE), pos);
  buf.set(record, pos + HASH_SIZE);
  return pos + HASH_SIZE + record.length - off;
}

// ---------------------------------------------------------------- validated API

/**
 * Writes packet `type` with `fields` at buf[off+97 ...] and returns the
 * full packet length (headroom included), ready for `seal(buf, off, len)`.
 * Throws InvalidArgumentError for bad fields or a packet over 1280 bytes.
 */
export function writePacket<T extends PacketType>(
  buf: Uint8Array,
  off: number,
  type: T,
  fields: PacketFieldsByType[T],
): number {
  if (fields === null || typeof fields !== 'object') throw new InvalidArgumentError('fields must be an object');
  let len: number;
  switch (type) {
    case PacketType.Ping: {
      const f = fields as PacketFieldsByType[PacketType.Ping];
      const version = checkUint('version', f.version ?? PING_VERSION);
      const from = ep('from', f.from);
      const to = ep('to', f.to);
      const seq = f.enrSeq === undefined ? undefined : checkUint('enrSeq', f.enrSeq);
      len = writePingRaw(buf, off, version, from.ip, from.udpPort, from.tcpPort, to.ip, to.udpPort, to.tcpPort, expirationOf(f.expiration), seq);
      break;
    }
    case PacketType.Pong: {
      const f = fields as PacketFieldsByType[PacketType.Pong];
      const to = ep('to', f.to);
      const token = checkLen('replyToken', f.replyToken, HASH_SIZE);
      const exp = expirationOf(f.expiration);
      const seq = f.enrSeq === undefined ? undefined : checkUint('enrSeq', f.enrSeq);
      len = writePongRaw(buf, off, to.ip, to.udpPort, to.tcpPort, token, 0, exp, seq);
      break;
    }
    case PacketType.Findnode: {
      const f = fields as PacketFieldsByType[PacketType.Findnode];
      const target = checkLen('target', f.target, NODE_ID_SIZE);
      len = writeFindnodeRaw(buf, off, target, expirationOf(f.expiration));
      break;
    }
    case PacketType.Neighbors: {
      const f = fields as PacketFieldsByType[PacketType.Neighbors];
      if (!Array.isArray(f.nodes)) throw new InvalidArgumentError('nodes must be an array');
      const nodes: NodeBytes[] = f.nodes.map((n, i) => ({ ...ep(`nodes[${i}]`, n), id: checkLen(`nodes[${i}].id`, n.id, NODE_ID_SIZE) }));
      len = writeNeighborsRaw(buf, off, nodes, 0, nodes.length, expirationOf(f.expiration));
      break;
    }
    case PacketType.EnrRequest: {
      const f = fields as PacketFieldsByType[PacketType.EnrRequest];
      len = writeEnrRequestRaw(buf, off, expirationOf(f.expiration));
      break;
    }
    case PacketType.EnrResponse: {
      const f = fields as PacketFieldsByType[PacketType.EnrResponse];
      const token = checkLen('replyToken', f.replyToken, HASH_SIZE);
      const record = f.record;
      if (!(record instanceof Uint8Array) || !readItem(record, 0, record.length, recordItem) || !recordItem.isList || recordItem.end !== record.length) {
        throw new InvalidArgumentError('record must be the RLP encoding of a node record (an RLP list)');
      }
      len = writeEnrResponseRaw(buf, off, token, 0, record);
      break;
    }
    default:
      throw new InvalidArgumentError(`unknown packet type ${String(type)}`);
  }
  if (len < 0) {
    throw new InvalidArgumentError(
      `${PacketType[type]} packet does not fit in ${buf.length - off < MAX_PACKET_SIZE ? 'the buffer' : `the ${MAX_PACKET_SIZE}-byte limit`}`,
    );
  }
  return len;
}

/**
 * Encodes and signs a packet. Returns a new Buffer holding exactly the
 * datagram: hash || signature || type || RLP.
 */
export function encodePacket<T extends PacketType>(
  type: T,
  fields: PacketFieldsByType[T],
  privateKey: Uint8Array,
  crypto: Crypto = nativeCrypto,
): Buffer {
  checkLen('privateKey', privateKey, 32);
  const scratch = Buffer.allocUnsafe(MAX_PACKET_SIZE);
  const len = writePacket(scratch, 0, type, fields);
  if (crypto.seal(scratch, 0, len, privateKey) !== NativeStatus.Ok) {
    throw new InvalidArgumentError('privateKey is not a valid secp256k1 key (zero or >= curve order)');
  }
  return Buffer.from(scratch.subarray(0, len));
}
