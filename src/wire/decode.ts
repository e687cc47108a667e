/**
 * discv4 packet decoding, in two levels:
 *
 * - {@link readPacket} fills a reused {@link PacketView} with numbers and
 *   byte offsets into the datagram and returns a {@link DecodeStatus}. It
 *   allocates nothing; it is what the read loop calls.
 * - {@link decodePacket} is the friendly API: it throws a typed
 *   {@link DecodeError} or returns an object whose byte fields are views
 *   (subarrays) of the datagram.
 *
 * Checks run in the order geth's v4wire.Decode uses: size (98..1280), outer
 * hash, signature, packet type, RLP; then expiration. EIP-8: unknown ping
 * versions, extra list elements and trailing bytes after the list are
 * accepted. EIP-868: an enr-seq slot that does not hold a uint64 (as in the
 * EIP-8 vectors, where it holds a list) is read as "no enr-seq" rather than
 * rejecting the packet as geth does (README: "Tolerance choices").
 */
import { Crypto, nativeCrypto } from '../crypto';
import { DecodeError, DecodeStatus, InvalidArgumentError } from '../errors';
import { readBigUint, readItem, readUint, RlpItem } from './rlp';
import {
  Endpoint,
  HEAD_SIZE,
  HASH_SIZE,
  NODE_ID_SIZE,
  NeighborNode,
  Packet,
  PacketType,
} from './types';

/** Upper bound on nodes in one neighbors datagram: each takes >= 70 bytes
 * (list header 1 + ip 1 + udp 1 + tcp 1 + id 66), (1280 - 98) / 70 < 17. */
export const MAX_NEIGHBORS_PER_DATAGRAM = 17;
/** Per node in PacketView.nodes: ipStart, ipEnd, udpPort, tcpPort, idStart. */
const NODE_STRIDE = 5;

/**
 * A decoded packet as plain numbers and offsets into `buf`; reused across
 * datagrams. Fields not used by the current `type` hold stale values.
 */
export class PacketView {
  buf: Uint8Array = new Uint8Array(0);
  /** Datagram range in buf. The packet hash is buf[off, off+32). */
  off = 0;
  len = 0;
  /** Sender id, written by the native `open`. */
  readonly nodeId: Buffer = Buffer.alloc(NODE_ID_SIZE);
  type = 0;
  expiration = 0;
  /** ping */
  version = 0;
  fromIpStart = 0;
  fromIpEnd = 0;
  fromUdp = 0;
  fromTcp = 0;
  /** ping and pong */
  toIpStart = 0;
  toIpEnd = 0;
  toUdp = 0;
  toTcp = 0;
  /** EIP-868 enr-seq payload range; enrSeqStart < 0 when absent. */
  enrSeqStart = -1;
  enrSeqEnd = -1;
  /** `enrSeq` as a number (rounded above 2^53); -1 when absent. */
  enrSeq = -1;
  /** pong reply token / ENRResponse request hash: 32 bytes at tokenStart. */
  tokenStart = 0;
  /** findnode target: 64 bytes at targetStart. */
  targetStart = 0;
  /** ENRResponse record: full RLP of the record list. */
  recordStart = 0;
  recordEnd = 0;
  /** neighbors */
  nodeCount = 0;
  readonly nodes = new Int32Array(MAX_NEIGHBORS_PER_DATAGRAM * NODE_STRIDE);
  /** Extra (EIP-8) list elements: raw RLP in [restStart, restEnd). */
  restStart = 0;
  restEnd = 0;

  get hashStart(): number {
    return this.off;
  }
}

// One cursor serves the whole parse; JS is single-threaded per isolate.
const item: RlpItem = { isList: false, start: 0, end: 0 };

/**
 * Verifies and decodes one datagram into `view`: native open (size, hash,
 * signature; the sender id lands in view.nodeId), then type and RLP, then
 * expiration unless `nowSec` is negative. Returns a DecodeStatus.
 */
export function readPacket(
  view: PacketView,
  buf: Uint8Array,
  off: number,
  len: number,
  nowSec: number,
  crypto: Crypto = nativeCrypto,
): DecodeStatus {
  // A range outside the buffer is the caller's bug, not a bad datagram:
  // say so instead of letting the native range status pass for a decode result.
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new InvalidArgumentError(`readPacket: range [${off}, ${off + len}) is outside the ${buf.length}-byte buffer`);
  }
  const st = crypto.open(buf, off, len, view.nodeId, 0);
  if (st !== DecodeStatus.Ok) return st;
  return decodeVerified(view, buf, off, len, nowSec);
}

/**
 * readPacket for a datagram something else already opened (the native
 * socket's crypto threads): `openStatus` is that open's result and
 * `nodeId` the sender it recovered (copied into view.nodeId).
 */
export function readOpenedPacket(
  view: PacketView,
  buf: Uint8Array,
  off: number,
  len: number,
  openStatus: number,
  nodeId: Uint8Array,
  nowSec: number,
): DecodeStatus {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new InvalidArgumentError(`readOpenedPacket: range [${off}, ${off + len}) is outside the ${buf.length}-byte buffer`);
  }
  if (openStatus !== DecodeStatus.Ok) return openStatus;
  view.nodeId.set(nodeId);
  return decodeVerified(view, buf, off, len, nowSec);
}

/** The part of readPacket after the signature: body, then expiration. */
function decodeVerified(view: PacketView, buf: Uint8Array, off: number, len: number, nowSec: number): DecodeStatus {
  const body = parseBody(view, buf, off, len);
  if (body !== DecodeStatus.Ok) return body;
  if (nowSec >= 0 && view.type !== PacketType.EnrResponse && view.expiration < nowSec) {
    return DecodeStatus.Expired;
  }
  return DecodeStatus.Ok;
}

/**
 * Decodes type || RLP of an already verified datagram buf[off, off+len)
 * into `view`. Separate from readPacket so it can be fuzzed without valid
 * signatures and used as a cheap pre-check.
 */
export function parseBody(view: PacketView, buf: Uint8Array, off: number, len: number): DecodeStatus {
  view.buf = buf;
  view.off = off;
  view.len = len;
  if (len <= HEAD_SIZE) return DecodeStatus.TooSmall;
  const type = buf[off + HEAD_SIZE];
  view.type = type;
  if (type < PacketType.Ping || type > PacketType.EnrResponse) return DecodeStatus.UnknownType;
  const limit = off + len;
  // The packet data is one list; bytes after it are ignored (EIP-8).
  if (!readItem(buf, off + HEAD_SIZE + 1, limit, item) || !item.isList) return DecodeStatus.BadRlp;
  const listEnd = item.end;
  let pos = item.start;
  // The view is reused: fields of the previous packet must not leak into this one.
  view.enrSeqStart = -1;
  view.enrSeqEnd = -1;
  view.enrSeq = -1;
  view.nodeCount = 0;
  switch (type) {
    case PacketType.Ping:
      pos = readPing(view, buf, pos, listEnd);
      break;
    case PacketType.Pong:
      pos = readPong(view, buf, pos, listEnd);
      break;
    case PacketType.Findnode:
      pos = readFindnode(view, buf, pos, listEnd);
      break;
    case PacketType.Neighbors:
      pos = readNeighbors(view, buf, pos, listEnd);
      break;
    case PacketType.EnrRequest:
      pos = readExpiration(view, buf, pos, listEnd);
      break;
    default:
      pos = readEnrResponse(view, buf, pos, listEnd);
      break;
  }
  // Whatever follows the known fields is ignored (EIP-8) but must parse.
  if (pos < 0 || !skipItems(buf, pos, listEnd)) return DecodeStatus.BadRlp;
  view.restStart = pos;
  view.restEnd = listEnd;
  return DecodeStatus.Ok;
}

// Each reader returns the position after what it read, or -1.

/** True if [pos, end) is a sequence of well-formed items. */
function skipItems(buf: Uint8Array, pos: number, end: number): boolean {
  while (pos < end) {
    if (!readItem(buf, pos, end, item)) return false;
    pos = item.end;
  }
  return true;
}

/** A byte string of exactly `size` bytes. */
function readFixed(buf: Uint8Array, pos: number, limit: number, size: number): number {
  if (!readItem(buf, pos, limit, item) || item.isList || item.end - item.start !== size) return -1;
  return item.end;
}

/** A canonical uint of at most `maxBytes` bytes; -1 or the value via `uintOut`. */
let uintOut = 0;
function readUintItem(buf: Uint8Array, pos: number, limit: number, maxBytes: number): number {
  if (!readItem(buf, pos, limit, item) || item.isList) return -1;
  uintOut = readUint(buf, item.start, item.end, maxBytes);
  return uintOut < 0 ? -1 : item.end;
}

/**
 * The expiration as geth reads it: `time.Unix(int64(ts))`, so a uint64 of
 * 2^63 or more is a negative time, long past (geth's v4test sends
 * 2^64 - (now + 20) and expects no reply). It is kept as that negative
 * number of seconds.
 */
function readExpiration(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  const start = pos;
  pos = readUintItem(buf, pos, limit, 8);
  // A canonical 8-byte uint whose top bit is set (0x88, then a first byte
  // >= 0x80): two's complement from its 32-bit halves, exact near zero.
  if (pos >= 0 && buf[start] === 0x88 && buf[start + 1] >= 0x80) {
    const hi = (buf[start + 1] << 24) | (buf[start + 2] << 16) | (buf[start + 3] << 8) | buf[start + 4];
    const lo = ((buf[start + 5] << 24) | (buf[start + 6] << 16) | (buf[start + 7] << 8) | buf[start + 8]) >>> 0;
    view.expiration = hi * 4294967296 + lo;
  } else view.expiration = uintOut;
  return pos;
}

/** EIP-868 enr-seq, optional and tolerant: anything but a canonical uint64 counts as absent. */
function readEnrSeq(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  view.enrSeqStart = -1;
  view.enrSeqEnd = -1;
  view.enrSeq = -1;
  if (pos >= limit || !readItem(buf, pos, limit, item) || item.isList) return pos;
  const v = readUint(buf, item.start, item.end, 8);
  if (v < 0) return pos; // left for the rest
  view.enrSeqStart = item.start;
  view.enrSeqEnd = item.end;
  view.enrSeq = v;
  return item.end;
}

// Endpoint readers store into these, then the caller copies to from/to.
let epIpStart = 0;
let epIpEnd = 0;
let epUdp = 0;
let epTcp = 0;

/** [ip, udp-port, tcp-port, ...ignored]. */
function readEndpoint(buf: Uint8Array, pos: number, limit: number): number {
  if (!readItem(buf, pos, limit, item) || !item.isList) return -1;
  const end = item.end;
  const p = readEndpointFields(buf, item.start, end);
  return p >= 0 && skipItems(buf, p, end) ? end : -1;
}

/** ip, udp-port, tcp-port as consecutive items; any ip length is accepted here. */
function readEndpointFields(buf: Uint8Array, pos: number, end: number): number {
  if (!readItem(buf, pos, end, item) || item.isList) return -1;
  epIpStart = item.start;
  epIpEnd = item.end;
  let p = readUintItem(buf, item.end, end, 2);
  if (p < 0) return -1;
  epUdp = uintOut;
  p = readUintItem(buf, p, end, 2);
  if (p < 0) return -1;
  epTcp = uintOut;
  return p;
}

/** [version, from, to, expiration, enr-seq?, ...]. */
function readPing(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  // Any version is accepted (EIP-8); it only has to be an integer.
  if ((pos = readUintItem(buf, pos, limit, 8)) < 0) return -1;
  view.version = uintOut;
  if ((pos = readEndpoint(buf, pos, limit)) < 0) return -1;
  view.fromIpStart = epIpStart;
  view.fromIpEnd = epIpEnd;
  view.fromUdp = epUdp;
  view.fromTcp = epTcp;
  if ((pos = readEndpoint(buf, pos, limit)) < 0) return -1;
  view.toIpStart = epIpStart;
  view.toIpEnd = epIpEnd;
  view.toUdp = epUdp;
  view.toTcp = epTcp;
  if ((pos = readExpiration(view, buf, pos, limit)) < 0) return -1;
  return readEnrSeq(view, buf, pos, limit);
}

/** [to, reply-token, expiration, enr-seq?, ...]. */
function readPong(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  if ((pos = readEndpoint(buf, pos, limit)) < 0) return -1;
  view.toIpStart = epIpStart;
  view.toIpEnd = epIpEnd;
  view.toUdp = epUdp;
  view.toTcp = epTcp;
  if ((pos = readFixed(buf, pos, limit, HASH_SIZE)) < 0) return -1;
  view.tokenStart = pos - HASH_SIZE;
  if ((pos = readExpiration(view, buf, pos, limit)) < 0) return -1;
  return readEnrSeq(view, buf, pos, limit);
}

/** [target, expiration, ...]. */
function readFindnode(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  if ((pos = readFixed(buf, pos, limit, NODE_ID_SIZE)) < 0) return -1;
  view.targetStart = pos - NODE_ID_SIZE;
  return readExpiration(view, buf, pos, limit);
}

/** [request-hash, record, ...]; the record must be an RLP list. */
function readEnrResponse(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  if ((pos = readFixed(buf, pos, limit, HASH_SIZE)) < 0) return -1;
  view.tokenStart = pos - HASH_SIZE;
  if (!readItem(buf, pos, limit, item) || !item.isList) return -1;
  view.recordStart = pos;
  view.recordEnd = item.end;
  return item.end;
}

/** [[node, ...], expiration, ...]; node = [ip, udp, tcp, id, ...ignored]. */
function readNeighbors(view: PacketView, buf: Uint8Array, pos: number, limit: number): number {
  if (!readItem(buf, pos, limit, item) || !item.isList) return -1;
  const nodesEnd = item.end;
  let p = item.start;
  let n = 0;
  const nodes = view.nodes;
  while (p < nodesEnd) {
    if (n === MAX_NEIGHBORS_PER_DATAGRAM) return -1;
    if (!readItem(buf, p, nodesEnd, item) || !item.isList) return -1;
    const nodeEnd = item.end;
    const q = readEndpointFields(buf, item.start, nodeEnd);
    const idEnd = q < 0 ? -1 : readFixed(buf, q, nodeEnd, NODE_ID_SIZE);
    if (idEnd < 0 || !skipItems(buf, idEnd, nodeEnd)) return -1;
    const base = n * NODE_STRIDE;
    nodes[base] = epIpStart;
    nodes[base + 1] = epIpEnd;
    nodes[base + 2] = epUdp;
    nodes[base + 3] = epTcp;
    nodes[base + 4] = idEnd - NODE_ID_SIZE;
    n++;
    p = nodeEnd;
  }
  view.nodeCount = n;
  return readExpiration(view, buf, nodesEnd, limit);
}

// ---------------------------------------------------------------- friendly API

export interface DecodeOptions {
  /** The current time in milliseconds since the epoch (as Date.now()); defaults to the clock. */
  now?: number | Date;
  /** Skip the expiration check (for inspecting captured packets). */
  ignoreExpiration?: boolean;
  crypto?: Crypto;
}

/**
 * Verifies and decodes a datagram. Throws {@link DecodeError} with a stable
 * `code`. Byte fields of the result are views into `datagram`.
 */
export function decodePacket(datagram: Uint8Array, opts: DecodeOptions = {}): Packet {
  if (!(datagram instanceof Uint8Array)) throw new DecodeError(DecodeStatus.TooSmall, 'datagram must be a Uint8Array');
  const view = new PacketView();
  const nowMs = opts.now === undefined ? Date.now() : +opts.now;
  // NaN would compare false against every expiration and silently turn the check off.
  if (!Number.isFinite(nowMs)) throw new InvalidArgumentError('decodePacket: `now` must be a finite time in ms (or a valid Date)');
  const st = readPacket(view, datagram, 0, datagram.length, opts.ignoreExpiration ? -1 : nowMs / 1000, opts.crypto);
  if (st !== DecodeStatus.Ok) {
    throw new DecodeError(st, st === DecodeStatus.UnknownType ? `0x${view.type.toString(16).padStart(2, '0')}` : undefined);
  }
  return packetFromView(view);
}

function bytes(view: PacketView, start: number, end: number): Buffer {
  const b = view.buf;
  return Buffer.from(b.buffer, b.byteOffset + start, end - start);
}

function endpoint(view: PacketView, ipStart: number, ipEnd: number, udpPort: number, tcpPort: number): Endpoint {
  return { ip: bytes(view, ipStart, ipEnd), udpPort, tcpPort };
}

/** Builds the friendly object from a view (allocates; not for the hot path). */
export function packetFromView(v: PacketView): Packet {
  const base = {
    hash: bytes(v, v.off, v.off + HASH_SIZE),
    nodeId: Buffer.from(v.nodeId),
    rest: restItems(v),
  };
  const enrSeq =
    (v.type === PacketType.Ping || v.type === PacketType.Pong) && v.enrSeqStart >= 0
      ? readBigUint(v.buf, v.enrSeqStart, v.enrSeqEnd)
      : undefined;
  switch (v.type as PacketType) {
    case PacketType.Ping:
      return {
        type: PacketType.Ping,
        ...base,
        version: v.version,
        from: endpoint(v, v.fromIpStart, v.fromIpEnd, v.fromUdp, v.fromTcp),
        to: endpoint(v, v.toIpStart, v.toIpEnd, v.toUdp, v.toTcp),
        expiration: v.expiration,
        ...(enrSeq === undefined ? {} : { enrSeq }),
      };
    case PacketType.Pong:
      return {
        type: PacketType.Pong,
        ...base,
        to: endpoint(v, v.toIpStart, v.toIpEnd, v.toUdp, v.toTcp),
        replyToken: bytes(v, v.tokenStart, v.tokenStart + HASH_SIZE),
        expiration: v.expiration,
        ...(enrSeq === undefined ? {} : { enrSeq }),
      };
    case PacketType.Findnode:
      return { type: PacketType.Findnode, ...base, target: bytes(v, v.targetStart, v.targetStart + NODE_ID_SIZE), expiration: v.expiration };
    case PacketType.Neighbors: {
      const nodes: NeighborNode[] = [];
      for (let i = 0; i < v.nodeCount; i++) {
        const o = i * NODE_STRIDE;
        const n = v.nodes;
        nodes.push({
          ip: bytes(v, n[o], n[o + 1]),
          udpPort: n[o + 2],
          tcpPort: n[o + 3],
          id: bytes(v, n[o + 4], n[o + 4] + NODE_ID_SIZE),
        });
      }
      return { type: PacketType.Neighbors, ...base, nodes, expiration: v.expiration };
    }
    case PacketType.EnrRequest:
      return { type: PacketType.EnrRequest, ...base, expiration: v.expiration };
    case PacketType.EnrResponse:
      return {
        type: PacketType.EnrResponse,
        ...base,
        replyToken: bytes(v, v.tokenStart, v.tokenStart + HASH_SIZE),
        record: bytes(v, v.recordStart, v.recordEnd),
      };
  }
  throw new DecodeError(DecodeStatus.UnknownType);
}

function restItems(v: PacketView): Buffer[] {
  const out: Buffer[] = [];
  const it: RlpItem = { isList: false, start: 0, end: 0 };
  for (let p = v.restStart; p < v.restEnd; p = it.end) {
    readItem(v.buf, p, v.restEnd, it);
    out.push(bytes(v, p, it.end));
  }
  return out;
}

/** Node ids start at nodes[i*5+4]; exported for the transport's neighbors handler. */
export function neighborIdStart(view: PacketView, i: number): number {
  return view.nodes[i * NODE_STRIDE + 4];
}
