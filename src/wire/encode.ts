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
import { bytesSize, headerSize, listSize, uintSize, writeBytes, writeHeader, writeUint } from './rlp';
import {
  DEFAULT_EXPIRATION_SEC,
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

const UINT64_MAX = (1n << 64n) - 1n;

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
export function expirationFromNow(nowMs: number = Date.now(), ttlSec: number = DEFAULT_EXPIRATION_SEC): number {
  return Math.floor(nowMs / 1000) + ttlSec;
}

function expirationOf(v: UnixSeconds | undefined): number | bigint {
  return v === undefined ? expirationFromNow() : checkUint('expiration', v);
}

/** An endpoint normalised for writing. */
interface Ep {
  ip: Uint8Array;
  udp: number;
  tcp: number;
  payload: number;
}

function ep(name: string, e: EndpointInput): Ep {
  if (e === null || typeof e !== 'object') throw new InvalidArgumentError(`${name} must be an endpoint object`);
  const ip = toIpBytes(e.ip);
  const udp = checkPort(`${name}.udpPort`, e.udpPort);
  const tcp = checkPort(`${name}.tcpPort`, e.tcpPort);
  return { ip, udp, tcp, payload: bytesSize(ip) + uintSize(udp) + uintSize(tcp) };
}

function writeEp(buf: Uint8Array, pos: number, e: Ep, asList: boolean): number {
  if (asList) pos = writeHeader(buf, pos, e.payload, 0xc0);
  pos = writeBytes(buf, pos, e.ip);
  pos = writeUint(buf, pos, e.udp);
  return writeUint(buf, pos, e.tcp);
}

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
  let pos = off + HEAD_SIZE;
  const room = Math.min(buf.length - off, MAX_PACKET_SIZE);
  const fits = (payload: number) => {
    const total = HEAD_SIZE + 1 + listSize(payload);
    if (total > room) {
      throw new InvalidArgumentError(
        `${PacketType[type] ?? type} packet of ${total} bytes exceeds ${total > MAX_PACKET_SIZE ? `the ${MAX_PACKET_SIZE}-byte limit` : 'the buffer'}`,
      );
    }
    buf[pos++] = type;
    pos = writeHeader(buf, pos, payload, 0xc0);
  };
  switch (type) {
    case PacketType.Ping: {
      const f = fields as PacketFieldsByType[PacketType.Ping];
      const version = checkUint('version', f.version ?? PING_VERSION);
      const from = ep('from', f.from);
      const to = ep('to', f.to);
      const exp = expirationOf(f.expiration);
      const seq = f.enrSeq === undefined ? undefined : checkUint('enrSeq', f.enrSeq);
      fits(uintSize(version) + listSize(from.payload) + listSize(to.payload) + uintSize(exp) + (seq === undefined ? 0 : uintSize(seq)));
      pos = writeUint(buf, pos, version);
      pos = writeEp(buf, pos, from, true);
      pos = writeEp(buf, pos, to, true);
      pos = writeUint(buf, pos, exp);
      if (seq !== undefined) pos = writeUint(buf, pos, seq);
      break;
    }
    case PacketType.Pong: {
      const f = fields as PacketFieldsByType[PacketType.Pong];
      const to = ep('to', f.to);
      const token = checkLen('replyToken', f.replyToken, HASH_SIZE);
      const exp = expirationOf(f.expiration);
      const seq = f.enrSeq === undefined ? undefined : checkUint('enrSeq', f.enrSeq);
      fits(listSize(to.payload) + 1 + HASH_SIZE + uintSize(exp) + (seq === undefined ? 0 : uintSize(seq)));
      pos = writeEp(buf, pos, to, true);
      pos = writeBytes(buf, pos, token);
      pos = writeUint(buf, pos, exp);
      if (seq !== undefined) pos = writeUint(buf, pos, seq);
      break;
    }
    case PacketType.Findnode: {
      const f = fields as PacketFieldsByType[PacketType.Findnode];
      const target = checkLen('target', f.target, NODE_ID_SIZE);
      const exp = expirationOf(f.expiration);
      fits(2 + NODE_ID_SIZE + uintSize(exp));
      pos = writeBytes(buf, pos, target);
      pos = writeUint(buf, pos, exp);
      break;
    }
    case PacketType.Neighbors: {
      const f = fields as PacketFieldsByType[PacketType.Neighbors];
      if (!Array.isArray(f.nodes)) throw new InvalidArgumentError('nodes must be an array');
      const nodes = f.nodes.map((n, i) => ({ e: ep(`nodes[${i}]`, n), id: checkLen(`nodes[${i}].id`, n.id, NODE_ID_SIZE) }));
      const exp = expirationOf(f.expiration);
      let nodesPayload = 0;
      for (const n of nodes) nodesPayload += listSize(n.e.payload + 2 + NODE_ID_SIZE);
      fits(listSize(nodesPayload) + uintSize(exp));
      pos = writeHeader(buf, pos, nodesPayload, 0xc0);
      for (const n of nodes) {
        pos = writeHeader(buf, pos, n.e.payload + 2 + NODE_ID_SIZE, 0xc0);
        pos = writeEp(buf, pos, n.e, false);
        pos = writeBytes(buf, pos, n.id);
      }
      pos = writeUint(buf, pos, exp);
      break;
    }
    case PacketType.EnrRequest: {
      const f = fields as PacketFieldsByType[PacketType.EnrRequest];
      const exp = expirationOf(f.expiration);
      fits(uintSize(exp));
      pos = writeUint(buf, pos, exp);
      break;
    }
    case PacketType.EnrResponse: {
      const f = fields as PacketFieldsByType[PacketType.EnrResponse];
      const token = checkLen('replyToken', f.replyToken, HASH_SIZE);
      const record = f.record;
      if (!(record instanceof Uint8Array) || record.length === 0 || record[0] < 0xc0) {
        throw new InvalidArgumentError('record must be the RLP encoding of a node record (an RLP list)');
      }
      fits(1 + HASH_SIZE + record.length);
      pos = writeBytes(buf, pos, token);
      buf.set(record, pos);
      pos += record.length;
      break;
    }
    default:
      throw new InvalidArgumentError(`unknown packet type ${String(type)}`);
  }
  return pos - off;
}

/** Size in bytes of the list header for `payload`; exported for size planning (neighbors batching). */
export const rlpListHeaderSize = headerSize;

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
