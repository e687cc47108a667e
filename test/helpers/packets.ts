/**
 * Packet helpers shared by the wire tests: the two crypto backends, raw
 * packet building (any type byte, any body, validly sealed), turning a
 * decoded packet back into encoder fields, and comparing a decoded packet
 * with the JSON form used by the vector files.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Crypto,
  DecodeError,
  DecodeErrorCode,
  HEAD_SIZE,
  nativeCrypto,
  Packet,
  PacketFieldsByType,
  PacketType,
  writePacket,
} from '../../src';
import { nobleCrypto } from './noble-crypto';
import { DecodedJson, EndpointJson, toHex } from './vectors';

/** Every backend the vector tests run on. */
export const BACKENDS: readonly Crypto[] = [nativeCrypto, nobleCrypto];

/** Any packet type with its fields, for data-driven encoding. */
export interface AnyFields {
  type: PacketType;
  fields: PacketFieldsByType[PacketType];
}

/** Header of an RLP list (or, with base 0x80, a string) of `len` payload bytes. */
export function rlpHeader(len: number, base: 0x80 | 0xc0 = 0xc0): Buffer {
  if (len < 56) return Buffer.from([base + len]);
  const bytes: number[] = [];
  for (let x = len; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Buffer.from([base + 55 + bytes.length, ...bytes]);
}

/** Payload range of the RLP list starting at buf[pos]; throws if it is not one. */
export function listRange(buf: Uint8Array, pos: number): { start: number; end: number } {
  const b = buf[pos];
  if (b >= 0xc0 && b < 0xf8) return { start: pos + 1, end: pos + 1 + (b - 0xc0) };
  if (b >= 0xf8) {
    const n = b - 0xf7;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 1 + i];
    return { start: pos + 1 + n, end: pos + 1 + n + len };
  }
  throw new Error(`no RLP list at ${pos}`);
}

/**
 * type || RLP(fields) as our encoder writes it (packet[97:]), optionally
 * with raw extra list elements appended inside the list and trailing bytes
 * after it (EIP-8 forms our encoder does not produce itself).
 */
export function typeAndData(
  f: AnyFields,
  rest: readonly Uint8Array[] = [],
  trailing: Uint8Array = Buffer.alloc(0),
): Buffer {
  const scratch = Buffer.alloc(HEAD_SIZE + 1280);
  const len = writePacket(scratch, 0, f.type, f.fields);
  const body = scratch.subarray(HEAD_SIZE, len);
  if (rest.length === 0 && trailing.length === 0) return Buffer.from(body);
  const { start, end } = listRange(body, 1);
  const payload = Buffer.concat([body.subarray(start, end), ...rest]);
  return Buffer.concat([body.subarray(0, 1), rlpHeader(payload.length), payload, trailing]);
}

/** A datagram hash || sig || body, sealed in place with `key` (body = type || data). */
export function sealBody(body: Uint8Array, key: Uint8Array, crypto: Crypto = nativeCrypto): Buffer {
  const buf = Buffer.alloc(HEAD_SIZE + body.length);
  buf.set(body, HEAD_SIZE);
  const st = crypto.seal(buf, 0, buf.length, key);
  assert.equal(st, 0, `seal failed with status ${st}`);
  return buf;
}

/** A sealed datagram with an arbitrary type byte and raw packet-data. */
export function rawPacket(type: number, data: Uint8Array, key: Uint8Array, crypto: Crypto = nativeCrypto): Buffer {
  return sealBody(Buffer.concat([Buffer.from([type]), data]), key, crypto);
}

/** The encoder fields that reproduce a decoded packet's known fields. */
export function fieldsOf(p: Packet): AnyFields {
  switch (p.type) {
    case PacketType.Ping:
      return {
        type: p.type,
        fields: {
          version: p.version,
          from: { ip: p.from.ip, udpPort: p.from.udpPort, tcpPort: p.from.tcpPort },
          to: { ip: p.to.ip, udpPort: p.to.udpPort, tcpPort: p.to.tcpPort },
          expiration: p.expiration,
          ...(p.enrSeq === undefined ? {} : { enrSeq: p.enrSeq }),
        },
      };
    case PacketType.Pong:
      return {
        type: p.type,
        fields: {
          to: { ip: p.to.ip, udpPort: p.to.udpPort, tcpPort: p.to.tcpPort },
          replyToken: p.replyToken,
          expiration: p.expiration,
          ...(p.enrSeq === undefined ? {} : { enrSeq: p.enrSeq }),
        },
      };
    case PacketType.Findnode:
      return { type: p.type, fields: { target: p.target, expiration: p.expiration } };
    case PacketType.Neighbors:
      return {
        type: p.type,
        fields: {
          nodes: p.nodes.map((n) => ({ ip: n.ip, udpPort: n.udpPort, tcpPort: n.tcpPort, id: n.id })),
          expiration: p.expiration,
        },
      };
    case PacketType.EnrRequest:
      return { type: p.type, fields: { expiration: p.expiration } };
    case PacketType.EnrResponse:
      return { type: p.type, fields: { replyToken: p.replyToken, record: p.record } };
  }
}

function assertEndpoint(actual: { ip: Buffer; udpPort: number; tcpPort: number }, exp: EndpointJson, what: string) {
  assert.equal(toHex(actual.ip), exp.ipHex, `${what}.ip`);
  assert.equal(actual.udpPort, exp.udp, `${what}.udpPort`);
  assert.equal(actual.tcpPort, exp.tcp, `${what}.tcpPort`);
}

/**
 * Asserts that a decoded packet has the type, hash, sender and every field
 * of a vector's JSON description (`decoded`, plus hash/nodeId when given).
 */
export function assertPacketMatches(
  p: Packet,
  exp: { type: number; hash?: string; nodeId?: string; decoded: DecodedJson },
): void {
  assert.equal(p.type, exp.type, 'type');
  if (exp.hash !== undefined) assert.equal(toHex(p.hash), exp.hash, 'hash');
  if (exp.nodeId !== undefined) assert.equal(toHex(p.nodeId), exp.nodeId, 'nodeId');
  const d = exp.decoded;
  assert.deepEqual(p.rest.map(toHex), d.extraElements, 'rest (extra list elements)');
  const enrSeqOf = (v: bigint | undefined) => {
    const want = d.enrSeq === null || d.enrSeq === undefined ? undefined : BigInt(d.enrSeq);
    assert.equal(v, want, 'enrSeq');
  };
  switch (p.type) {
    case PacketType.Ping:
      assert.equal(p.version, d.version, 'version');
      assertEndpoint(p.from, d.from!, 'from');
      assertEndpoint(p.to, d.to!, 'to');
      assert.equal(p.expiration, d.expiration, 'expiration');
      enrSeqOf(p.enrSeq);
      break;
    case PacketType.Pong:
      assertEndpoint(p.to, d.to!, 'to');
      assert.equal(toHex(p.replyToken), d.replyToken, 'replyToken');
      assert.equal(p.expiration, d.expiration, 'expiration');
      enrSeqOf(p.enrSeq);
      break;
    case PacketType.Findnode:
      assert.equal(toHex(p.target), d.target, 'target');
      assert.equal(p.expiration, d.expiration, 'expiration');
      break;
    case PacketType.Neighbors:
      assert.equal(p.nodes.length, d.nodes!.length, 'node count');
      p.nodes.forEach((n, i) => {
        assertEndpoint(n, d.nodes![i], `nodes[${i}]`);
        assert.equal(toHex(n.id), d.nodes![i].id, `nodes[${i}].id`);
      });
      assert.equal(p.expiration, d.expiration, 'expiration');
      break;
    case PacketType.EnrRequest:
      assert.equal(p.expiration, d.expiration, 'expiration');
      break;
    case PacketType.EnrResponse:
      assert.equal(toHex(p.replyToken), d.requestHash ?? d.replyToken, 'replyToken (request-hash)');
      assert.equal(toHex(p.record), d.enr, 'record');
      break;
  }
}

/** Runs `fn` and asserts it throws a DecodeError with `code` (and the matching status). */
export function assertDecodeError(fn: () => unknown, code: DecodeErrorCode, message?: string): DecodeError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown !== undefined, `${message ?? 'decode'}: expected DecodeError ${code}, but nothing was thrown`);
  assert.ok(thrown instanceof DecodeError, `${message ?? 'decode'}: expected DecodeError, got ${String(thrown)}`);
  assert.equal(thrown.code, code, message);
  return thrown;
}

/** Flips bits of one byte: a copy of `buf` with buf[i] ^= mask. */
export function flipped(buf: Uint8Array, i: number, mask = 0x01): Buffer {
  const out = Buffer.from(buf);
  out[i] ^= mask;
  return out;
}

/** A fixed signing key for crafted packets: sha256 of a label (valid: far below n). */
export function testKey(label: string): Buffer {
  return createHash('sha256').update(label).digest();
}

/** An expiration as geth reads it (int64 seconds): a uint64 of 2^63 or more is negative. */
export function int64Seconds(v: number | bigint): number {
  return Number(BigInt.asIntN(64, BigInt(v)));
}
