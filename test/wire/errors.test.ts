import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import * as rlp from 'rlp';
import {
  DECODE_ERROR_CODES,
  DecodeError,
  DecodeStatus,
  DiscError,
  PacketType,
  PacketView,
  decodePacket,
  encodePacket,
  ipToString,
  keccak256,
  nativeCrypto,
  nodeIdFromPrivateKey,
  parseBody,
  readPacket,
  writePacket,
} from '../../src';
import { nobleCrypto } from '../helpers/noble-crypto';
import { assertDecodeError, flipped, rawPacket, rlpHeader, sealBody, testKey } from '../helpers/packets';
import { toHex } from '../helpers/vectors';

const KEY = testKey('errors.test');
const ID = nodeIdFromPrivateKey(KEY);
/** 2100-01-01: far enough in the future for the real clock. */
const FUTURE = 4102444800;

// ------------------------------------------------- RLP building blocks
const raw = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
/** A byte string item. */
const B = (b: Uint8Array | string): Buffer => Buffer.from(rlp.encode(typeof b === 'string' ? Buffer.from(b) : b));
/** A canonical unsigned integer item. */
const U = (n: number | bigint): Buffer => Buffer.from(rlp.encode(BigInt(n)));
/** A list of already encoded items. */
const L = (...items: Buffer[]): Buffer => {
  const payload = Buffer.concat(items);
  return Buffer.concat([rlpHeader(payload.length), payload]);
};
const bytes = (n: number, fill = 0x11): Buffer => Buffer.alloc(n, fill);

const IP4 = B(Buffer.from([10, 0, 0, 1]));
const EP = L(IP4, U(30303), U(30303));
const TOKEN = B(bytes(32));
const ID64 = B(bytes(64));
const NODE = L(IP4, U(30303), U(30303), ID64);

function reference(): Buffer {
  return encodePacket(
    PacketType.Ping,
    { from: { ip: '10.0.0.1', udpPort: 30303, tcpPort: 30303 }, to: { ip: '10.0.0.2', udpPort: 30301 }, expiration: FUTURE, enrSeq: 7 },
    KEY,
  );
}

/** Re-hashes a datagram after its bytes 32.. were edited (keeps the outer hash valid). */
function rehash(buf: Buffer): Buffer {
  keccak256(buf.subarray(32)).copy(buf, 0);
  return buf;
}

describe('DecodeError codes from malformed datagrams', () => {
  describe('TOO_SMALL', () => {
    it('rejects every truncation of a valid packet to 0..97 bytes with TOO_SMALL', () => {
      const p = reference();
      for (let n = 0; n <= 97; n++) {
        const err = assertDecodeError(() => decodePacket(p.subarray(0, n)), 'TOO_SMALL', `${n} bytes`);
        assert.equal(err.status, DecodeStatus.TooSmall);
      }
    });

    it('rejects 97 bytes whose hash field is correct with TOO_SMALL (size is checked first)', () => {
      const p = rehash(Buffer.from(reference().subarray(0, 97)));
      assertDecodeError(() => decodePacket(p), 'TOO_SMALL');
      assert.equal(nativeCrypto.open(p, 0, 97, Buffer.alloc(64), 0), DecodeStatus.TooSmall);
    });

    it('accepts the smallest packets: an ENRRequest with a one-byte expiration is 100 bytes', () => {
      const p = encodePacket(PacketType.EnrRequest, { expiration: 0 }, KEY);
      assert.equal(p.length, 100);
      assert.equal(decodePacket(p, { now: 0 }).type, PacketType.EnrRequest);
    });
  });

  describe('TOO_LARGE', () => {
    for (const size of [1281, 1282, 1500, 2048, 9000]) {
      it(`rejects a validly hashed and signed ${size}-byte datagram with TOO_LARGE`, () => {
        const buf = Buffer.alloc(size);
        const len = writePacket(buf, 0, PacketType.EnrRequest, { expiration: FUTURE });
        assert.ok(len < 1280);
        // The rest is trailing data, which EIP-8 would ignore: only the size is wrong.
        assert.equal(nativeCrypto.seal(buf, 0, size, KEY), 0);
        const err = assertDecodeError(() => decodePacket(buf), 'TOO_LARGE');
        assert.equal(err.status, DecodeStatus.TooLarge);
        assertDecodeError(() => decodePacket(buf, { crypto: nobleCrypto }), 'TOO_LARGE');
      });
    }

    it('accepts the same kind of datagram at exactly 1280 bytes', () => {
      const buf = Buffer.alloc(1280);
      writePacket(buf, 0, PacketType.EnrRequest, { expiration: FUTURE });
      assert.equal(nativeCrypto.seal(buf, 0, 1280, KEY), 0);
      const p = decodePacket(buf);
      assert.equal(p.type, PacketType.EnrRequest);
      assert.ok(p.nodeId.equals(ID));
    });
  });

  describe('BAD_HASH', () => {
    it('rejects a flip of any single bit of the hash field with BAD_HASH', () => {
      const p = reference();
      for (let i = 0; i < 32; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const err = assertDecodeError(() => decodePacket(flipped(p, i, 1 << bit)), 'BAD_HASH', `byte ${i} bit ${bit}`);
          assert.equal(err.status, DecodeStatus.BadHash);
        }
      }
    });

    it('rejects a change of any byte after the hash field with BAD_HASH when the hash is not recomputed', () => {
      const p = reference();
      for (let i = 32; i < p.length; i++) {
        assertDecodeError(() => decodePacket(flipped(p, i, 0x80)), 'BAD_HASH', `byte ${i}`);
      }
    });

    it('rejects appended or removed bytes with BAD_HASH', () => {
      const p = reference();
      assertDecodeError(() => decodePacket(Buffer.concat([p, Buffer.from([0])])), 'BAD_HASH');
      assertDecodeError(() => decodePacket(p.subarray(0, p.length - 1)), 'BAD_HASH');
    });
  });

  describe('BAD_SIGNATURE', () => {
    it('rejects r = 0, s = 0, r = s = 0xff…ff and recovery ids 2..255 with BAD_SIGNATURE', () => {
      const p = reference();
      const edits: [string, (b: Buffer) => void][] = [
        ['r = 0', (b) => b.fill(0, 32, 64)],
        ['s = 0', (b) => b.fill(0, 64, 96)],
        ['r = 2^256-1', (b) => b.fill(0xff, 32, 64)],
        ['s = 2^256-1', (b) => b.fill(0xff, 64, 96)],
      ];
      // recid 2/3 need r + n < p: impossible for a real r (about 2^-128).
      for (const recid of [2, 3, 4, 5, 27, 28, 0x80, 0xff]) edits.push([`recid ${recid}`, (b) => (b[96] = recid)]);
      for (const [name, edit] of edits) {
        const b = Buffer.from(p);
        edit(b);
        const err = assertDecodeError(() => decodePacket(rehash(b)), 'BAD_SIGNATURE', name);
        assert.equal(err.status, DecodeStatus.BadSignature);
        assertDecodeError(() => decodePacket(b, { crypto: nobleCrypto }), 'BAD_SIGNATURE', `${name} (noble)`);
      }
    });

    it('never attributes a packet with a changed signature byte to the original sender', () => {
      const p = reference();
      fc.assert(
        fc.property(fc.integer({ min: 32, max: 96 }), fc.integer({ min: 1, max: 255 }), (pos, mask) => {
          const b = rehash(flipped(p, pos, mask));
          for (const crypto of [nativeCrypto, nobleCrypto]) {
            let decoded;
            try {
              decoded = decodePacket(b, { crypto });
            } catch (err) {
              assert.ok(err instanceof DecodeError, String(err));
              assert.equal(err.code, 'BAD_SIGNATURE');
              continue;
            }
            // A different valid (r, s, recid) recovers some other key.
            assert.ok(!decoded.nodeId.equals(ID), `byte ${pos} ^ ${mask} still recovers the sender`);
          }
        }),
        { numRuns: 100 },
      );
    });

    it('never attributes a packet with a changed body byte (hash recomputed) to the original sender', () => {
      const p = reference();
      fc.assert(
        fc.property(fc.integer({ min: 97, max: p.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, mask) => {
          const b = rehash(flipped(p, pos, mask));
          const id = Buffer.alloc(64);
          const st = nativeCrypto.open(b, 0, b.length, id, 0);
          if (st === 0) assert.ok(!id.equals(ID));
          else assert.equal(st, DecodeStatus.BadSignature);
          try {
            const decoded = decodePacket(b);
            assert.ok(!decoded.nodeId.equals(ID));
          } catch (err) {
            assert.ok(err instanceof DecodeError);
            assert.notEqual(err.code, 'BAD_HASH');
          }
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('UNKNOWN_TYPE', () => {
    const pingData = L(U(4), EP, EP, U(FUTURE));
    for (const type of [0x00, 0x07, 0x08, 0x7f, 0x80, 0xfe, 0xff]) {
      it(`rejects type 0x${type.toString(16).padStart(2, '0')} with a valid hash and signature as UNKNOWN_TYPE`, () => {
        for (const data of [pingData, Buffer.alloc(0), raw('ffffffff')]) {
          const p = rawPacket(type, data, KEY);
          assert.equal(nativeCrypto.open(p, 0, p.length, Buffer.alloc(64), 0), 0);
          const err = assertDecodeError(() => decodePacket(p), 'UNKNOWN_TYPE');
          assert.equal(err.status, DecodeStatus.UnknownType);
          assertDecodeError(() => decodePacket(p, { crypto: nobleCrypto }), 'UNKNOWN_TYPE');
        }
      });
    }
  });

  describe('check order: size, hash, signature, type, RLP, expiration', () => {
    it('reports TOO_LARGE before BAD_HASH', () => {
      assertDecodeError(() => decodePacket(Buffer.alloc(1281)), 'TOO_LARGE');
    });
    it('reports BAD_HASH before BAD_SIGNATURE and UNKNOWN_TYPE', () => {
      const p = rawPacket(0x09, raw('c0'), KEY);
      p.fill(0, 32, 64); // bad signature too
      assertDecodeError(() => decodePacket(p), 'BAD_HASH');
    });
    it('reports BAD_SIGNATURE before UNKNOWN_TYPE and BAD_RLP', () => {
      const p = rawPacket(0x09, raw('ff'), KEY);
      p.fill(0, 32, 64);
      assertDecodeError(() => decodePacket(rehash(p)), 'BAD_SIGNATURE');
      const q = rawPacket(PacketType.Ping, raw('ff'), KEY);
      q.fill(0, 32, 64);
      assertDecodeError(() => decodePacket(rehash(q)), 'BAD_SIGNATURE');
    });
    it('reports UNKNOWN_TYPE before BAD_RLP', () => {
      assertDecodeError(() => decodePacket(rawPacket(0x09, raw('ff'), KEY)), 'UNKNOWN_TYPE');
    });
    it('reports BAD_RLP before EXPIRED', () => {
      // An expired ENRRequest with a malformed extra element.
      const p = rawPacket(PacketType.EnrRequest, L(U(1000), raw('8105')), KEY);
      assertDecodeError(() => decodePacket(p), 'BAD_RLP');
    });
  });
});

// ---------------------------------------------------------------- BAD_RLP

/** Malformed packet-data, one defect each: [description, type, data]. */
const BAD_RLP: [string, PacketType, Buffer][] = [
  // Any type: the packet-data item itself.
  ['empty packet-data', PacketType.Ping, Buffer.alloc(0)],
  ['packet-data that is a byte string', PacketType.EnrRequest, B('abcdef')],
  ['packet-data that is a single byte', PacketType.EnrRequest, raw('05')],
  ['a list header claiming more bytes than present', PacketType.EnrRequest, Buffer.concat([rlpHeader(8), U(FUTURE)])],
  ['a long-form list length below 56', PacketType.EnrRequest, Buffer.concat([raw('f805'), U(FUTURE)])],
  ['a long-form list length with a leading zero', PacketType.EnrRequest, Buffer.concat([raw('f90005'), U(FUTURE)])],
  ['a 4-byte list length', PacketType.EnrRequest, Buffer.concat([raw('fb00000005'), U(FUTURE)])],
  ['a list length of 2^64-1', PacketType.EnrRequest, Buffer.concat([raw('ffffffffffffffffff'), U(FUTURE)])],
  ['an extra element running past the list', PacketType.EnrRequest, L(U(FUTURE), raw('830102'))],
  ['an extra element that is a single byte < 0x80 encoded as 0x81xx', PacketType.EnrRequest, L(U(FUTURE), raw('8105'))],
  ['an extra element with a long-form string length below 56', PacketType.EnrRequest, L(U(FUTURE), raw('b801aa'))],
  ['an extra element with a leading zero in a long-form length', PacketType.EnrRequest, L(U(FUTURE), raw('b90038'), bytes(56))],
  // ping = [version, from, to, expiration, enr-seq?, ...]
  ['ping: version is a list', PacketType.Ping, L(L(), EP, EP, U(FUTURE))],
  ['ping: version longer than 8 bytes', PacketType.Ping, L(B(bytes(9)), EP, EP, U(FUTURE))],
  ['ping: version with a leading zero', PacketType.Ping, L(raw('820004'), EP, EP, U(FUTURE))],
  ['ping: from is a byte string', PacketType.Ping, L(U(4), B(bytes(4)), EP, U(FUTURE))],
  ['ping: from has only ip and udp port', PacketType.Ping, L(U(4), L(IP4, U(30303)), EP, U(FUTURE))],
  ['ping: from is empty', PacketType.Ping, L(U(4), L(), EP, U(FUTURE))],
  ['ping: from ip is a list', PacketType.Ping, L(U(4), L(L(), U(1), U(1)), EP, U(FUTURE))],
  ['ping: from udp port of 3 bytes (65536)', PacketType.Ping, L(U(4), L(IP4, U(65536), U(1)), EP, U(FUTURE))],
  ['ping: from tcp port with a leading zero', PacketType.Ping, L(U(4), L(IP4, U(1), raw('820050')), EP, U(FUTURE))],
  ['ping: from udp port 5 encoded as 0x81 0x05', PacketType.Ping, L(U(4), L(IP4, raw('8105'), U(1)), EP, U(FUTURE))],
  ['ping: from udp port is a list', PacketType.Ping, L(U(4), L(IP4, L(), U(1)), EP, U(FUTURE))],
  ['ping: from endpoint with a malformed extra element', PacketType.Ping, L(U(4), L(IP4, U(1), U(1), raw('8100')), EP, U(FUTURE))],
  ['ping: to is missing', PacketType.Ping, L(U(4), EP)],
  ['ping: to tcp port of 3 bytes', PacketType.Ping, L(U(4), EP, L(IP4, U(1), U(0x1_0000)), U(FUTURE))],
  ['ping: expiration is missing', PacketType.Ping, L(U(4), EP, EP)],
  ['ping: expiration longer than 8 bytes', PacketType.Ping, L(U(4), EP, EP, B(Buffer.concat([raw('01'), bytes(8, 0)])))],
  ['ping: expiration with a leading zero', PacketType.Ping, L(U(4), EP, EP, raw('8500f4865700'))],
  ['ping: expiration zero encoded as 0x00', PacketType.Ping, L(U(4), EP, EP, raw('00'))],
  ['ping: expiration is a list', PacketType.Ping, L(U(4), EP, EP, L(U(FUTURE)))],
  ['ping: empty list', PacketType.Ping, L()],
  // pong = [to, reply-token, expiration, enr-seq?, ...]
  ['pong: to is a byte string', PacketType.Pong, L(IP4, TOKEN, U(FUTURE))],
  ['pong: reply token of 31 bytes', PacketType.Pong, L(EP, B(bytes(31)), U(FUTURE))],
  ['pong: reply token of 33 bytes', PacketType.Pong, L(EP, B(bytes(33)), U(FUTURE))],
  ['pong: reply token is a list', PacketType.Pong, L(EP, L(TOKEN), U(FUTURE))],
  ['pong: expiration is missing', PacketType.Pong, L(EP, TOKEN)],
  ['pong: expiration with a leading zero', PacketType.Pong, L(EP, TOKEN, raw('8500f4865700'))],
  ['pong: fields in the wrong order', PacketType.Pong, L(TOKEN, EP, U(FUTURE))],
  // findnode = [target, expiration, ...]
  ['findnode: target of 63 bytes', PacketType.Findnode, L(B(bytes(63)), U(FUTURE))],
  ['findnode: target of 65 bytes', PacketType.Findnode, L(B(bytes(65)), U(FUTURE))],
  ['findnode: target of 32 bytes', PacketType.Findnode, L(B(bytes(32)), U(FUTURE))],
  ['findnode: target is a list', PacketType.Findnode, L(L(ID64), U(FUTURE))],
  ['findnode: expiration is missing', PacketType.Findnode, L(ID64)],
  ['findnode: expiration is a list', PacketType.Findnode, L(ID64, L())],
  // neighbors = [[node, ...], expiration, ...], node = [ip, udp, tcp, id, ...]
  ['neighbors: nodes is a byte string', PacketType.Neighbors, L(B(bytes(10)), U(FUTURE))],
  ['neighbors: a node is a byte string', PacketType.Neighbors, L(L(NODE, B(bytes(70))), U(FUTURE))],
  ['neighbors: a node id of 63 bytes', PacketType.Neighbors, L(L(L(IP4, U(1), U(1), B(bytes(63)))), U(FUTURE))],
  ['neighbors: a node id of 65 bytes', PacketType.Neighbors, L(L(L(IP4, U(1), U(1), B(bytes(65)))), U(FUTURE))],
  ['neighbors: a node without id', PacketType.Neighbors, L(L(L(IP4, U(1), U(1))), U(FUTURE))],
  ['neighbors: a node with a 3-byte udp port', PacketType.Neighbors, L(L(L(IP4, U(70000), U(1), ID64)), U(FUTURE))],
  ['neighbors: a node with a non-canonical tcp port', PacketType.Neighbors, L(L(L(IP4, U(1), raw('8200ff'), ID64)), U(FUTURE))],
  ['neighbors: a node ip that is a list', PacketType.Neighbors, L(L(L(L(IP4), U(1), U(1), ID64)), U(FUTURE))],
  ['neighbors: a node id that is a list', PacketType.Neighbors, L(L(L(IP4, U(1), U(1), L(ID64))), U(FUTURE))],
  ['neighbors: expiration is missing', PacketType.Neighbors, L(L(NODE))],
  ['neighbors: nodes list running past the packet list', PacketType.Neighbors, L(Buffer.concat([rlpHeader(NODE.length + 10), NODE]), U(FUTURE))],
  // ENRRequest = [expiration, ...]
  ['ENRRequest: empty list', PacketType.EnrRequest, L()],
  ['ENRRequest: expiration is a list', PacketType.EnrRequest, L(L())],
  ['ENRRequest: expiration longer than 8 bytes', PacketType.EnrRequest, L(B(bytes(9)))],
  ['ENRRequest: expiration with a leading zero', PacketType.EnrRequest, L(raw('820001'))],
  // ENRResponse = [request-hash, record, ...]
  ['ENRResponse: empty list', PacketType.EnrResponse, L()],
  ['ENRResponse: request hash of 31 bytes', PacketType.EnrResponse, L(B(bytes(31)), L(U(1)))],
  ['ENRResponse: request hash is a list', PacketType.EnrResponse, L(L(TOKEN), L(U(1)))],
  ['ENRResponse: record is missing', PacketType.EnrResponse, L(TOKEN)],
  ['ENRResponse: record is a byte string', PacketType.EnrResponse, L(TOKEN, B('record'))],
  ['ENRResponse: record list running past the packet list', PacketType.EnrResponse, L(TOKEN, raw('c501'))],
];

describe('BAD_RLP: every field of every type with the wrong shape', () => {
  for (const [name, type, data] of BAD_RLP) {
    it(`rejects ${name} with BAD_RLP`, () => {
      const p = rawPacket(type, data, KEY);
      // Hash and signature are valid: only the packet-data is at fault.
      assert.equal(nativeCrypto.open(p, 0, p.length, Buffer.alloc(64), 0), 0);
      const err = assertDecodeError(() => decodePacket(p, { now: 0 }), 'BAD_RLP', name);
      assert.equal(err.status, DecodeStatus.BadRlp);
      assert.equal(parseBody(new PacketView(), p, 0, p.length), DecodeStatus.BadRlp);
    });
  }

  it('rejects a list that claims bytes lying beyond the datagram, even when the buffer has them', () => {
    // The packet-data list claims 3 bytes more than the datagram holds; the
    // buffer continues with bytes that would complete it.
    const data = L(U(FUTURE), B('abc'));
    const cut = data.subarray(0, data.length - 3);
    const buf = Buffer.alloc(97 + 1 + data.length);
    buf[97] = PacketType.EnrRequest;
    data.copy(buf, 98);
    const len = 98 + cut.length;
    assert.equal(nativeCrypto.seal(buf, 0, len, KEY), 0);
    assert.equal(readPacket(new PacketView(), buf, 0, len, -1), DecodeStatus.BadRlp);
    assertDecodeError(() => decodePacket(buf.subarray(0, len)), 'BAD_RLP');
  });
});

// ---------------------------------------------------------------- EIP-8

describe('EIP-8 / EIP-868 tolerance', () => {
  const decode = (type: PacketType, data: Buffer) => decodePacket(rawPacket(type, data, KEY), { now: 0 });

  for (const version of [0, 5, 555, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    it(`accepts ping version ${version}`, () => {
      const p = decode(PacketType.Ping, L(U(version), EP, EP, U(FUTURE)));
      assert.equal(p.type, PacketType.Ping);
      if (p.type === PacketType.Ping) assert.equal(p.version, version);
    });
  }

  it('accepts extra list elements after the enr-seq and returns them raw in rest', () => {
    const extras = [B('extra'), L(U(1), L()), U(0), B(bytes(60))];
    const p = decode(PacketType.Ping, L(U(4), EP, EP, U(FUTURE), U(9), ...extras));
    assert.equal(p.type, PacketType.Ping);
    if (p.type !== PacketType.Ping) return;
    assert.equal(p.enrSeq, 9n);
    assert.deepEqual(p.rest.map(toHex), extras.map(toHex));
  });

  it('ignores trailing bytes after the packet-data list', () => {
    const p = decode(PacketType.EnrRequest, Buffer.concat([L(U(FUTURE)), raw('deadbeef c0 ff')]));
    assert.equal(p.type, PacketType.EnrRequest);
    assert.deepEqual(p.rest, []);
    if (p.type === PacketType.EnrRequest) assert.equal(p.expiration, FUTURE);
  });

  it('treats an enr-seq slot holding a list as no enr-seq and keeps it in rest', () => {
    for (const type of [PacketType.Ping, PacketType.Pong]) {
      const head = type === PacketType.Ping ? [U(4), EP, EP, U(FUTURE)] : [EP, TOKEN, U(FUTURE)];
      const p = decode(type, L(...head, L(U(1), U(2)), U(3)));
      assert.equal('enrSeq' in p, false);
      assert.deepEqual(p.rest.map(toHex), [toHex(L(U(1), U(2))), toHex(U(3))]);
    }
  });

  it('treats a non-canonical or over-long enr-seq as absent and keeps it in rest', () => {
    for (const slot of [raw('820001'), raw('00'), B(Buffer.concat([raw('01'), bytes(8, 0)]))]) {
      const p = decode(PacketType.Pong, L(EP, TOKEN, U(FUTURE), slot));
      assert.equal(p.type, PacketType.Pong);
      assert.equal('enrSeq' in p, false, toHex(slot));
      assert.deepEqual(p.rest.map(toHex), [toHex(slot)]);
    }
  });

  it('reads enr-seq 0 and 2^64-1 exactly', () => {
    for (const seq of [0n, 1n, 127n, 128n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      const p = decode(PacketType.Ping, L(U(4), EP, EP, U(FUTURE), U(seq)));
      assert.equal(p.type === PacketType.Ping ? p.enrSeq : undefined, seq);
      assert.deepEqual(p.rest, []);
    }
  });

  it('accepts extra elements inside endpoints and neighbor nodes', () => {
    const p = decode(PacketType.Ping, L(U(4), L(IP4, U(1), U(2), B('x'), L()), EP, U(FUTURE)));
    assert.equal(p.type === PacketType.Ping ? p.from.tcpPort : -1, 2);
    const n = decode(PacketType.Neighbors, L(L(L(IP4, U(1), U(2), ID64, U(5))), U(FUTURE)));
    assert.equal(n.type === PacketType.Neighbors ? n.nodes[0].id.length : -1, 64);
  });

  it('accepts IPs of any length and reports them as undefined text when not 4 or 16 bytes', () => {
    for (const len of [0, 1, 5, 15, 17]) {
      const ip = B(bytes(len, 0x99));
      const p = decode(PacketType.Pong, L(L(ip, U(1), U(2)), TOKEN, U(FUTURE)));
      assert.equal(p.type, PacketType.Pong);
      if (p.type !== PacketType.Pong) return;
      assert.equal(p.to.ip.length, len);
      assert.equal(ipToString(p.to.ip), undefined);
    }
  });

  it('accepts neighbors with zero nodes and with extra elements', () => {
    const p = decode(PacketType.Neighbors, L(L(), U(FUTURE), U(1), U(2)));
    assert.equal(p.type, PacketType.Neighbors);
    if (p.type !== PacketType.Neighbors) return;
    assert.deepEqual(p.nodes, []);
    assert.equal(p.rest.length, 2);
  });

  it('reads an expiration of 2^63 or more as geth does (a negative int64): long past', () => {
    // geth's v4test sends 2^64 - (now + 20) and expects no reply.
    const now = Math.floor(Date.now() / 1000);
    for (const [v, want] of [
      [2n ** 64n - 1n, -1],
      [2n ** 63n, -(2 ** 63)],
      [2n ** 64n - BigInt(now + 20), -(now + 20)],
    ] as const) {
      const q = rawPacket(PacketType.EnrRequest, L(U(v)), KEY);
      assertDecodeError(() => decodePacket(q), 'EXPIRED', String(v));
      const p = decodePacket(q, { ignoreExpiration: true });
      assert.equal(p.type === PacketType.EnrRequest ? p.expiration : 0, want, String(v));
    }
    // The largest positive int64 is far in the future.
    const max = decodePacket(rawPacket(PacketType.EnrRequest, L(U(2n ** 63n - 1n)), KEY));
    assert.equal(max.type === PacketType.EnrRequest ? max.expiration : 0, 2 ** 63);
  });
});

// ---------------------------------------------------------------- expiry

describe('expiration against the clock', () => {
  const E = 1_700_000_000;
  const p = encodePacket(PacketType.EnrRequest, { expiration: E }, KEY);

  it('accepts a packet up to and including its expiration second and rejects it 1 ms later', () => {
    assert.equal(decodePacket(p, { now: E * 1000 }).type, PacketType.EnrRequest);
    assert.equal(decodePacket(p, { now: E * 1000 - 1 }).type, PacketType.EnrRequest);
    const err = assertDecodeError(() => decodePacket(p, { now: E * 1000 + 1 }), 'EXPIRED');
    assert.equal(err.status, DecodeStatus.Expired);
  });

  it('takes the clock as a Date too', () => {
    assert.equal(decodePacket(p, { now: new Date(E * 1000) }).type, PacketType.EnrRequest);
    assertDecodeError(() => decodePacket(p, { now: new Date(E * 1000 + 1000) }), 'EXPIRED');
  });

  it('uses the real clock by default', () => {
    assertDecodeError(() => decodePacket(p), 'EXPIRED');
    const fresh = encodePacket(PacketType.EnrRequest, {}, KEY);
    assert.equal(decodePacket(fresh).type, PacketType.EnrRequest);
  });

  it('skips the check with ignoreExpiration', () => {
    assert.equal(decodePacket(p, { ignoreExpiration: true, now: Date.now() }).type, PacketType.EnrRequest);
  });

  it('never expires an ENRResponse (it has no expiration)', () => {
    const res = encodePacket(PacketType.EnrResponse, { replyToken: bytes(32), record: L(U(1)) }, KEY);
    assert.equal(decodePacket(res, { now: 8.64e15 }).type, PacketType.EnrResponse);
  });

  it('checks expiration for every type that has one', () => {
    const expired: [PacketType, Buffer][] = [
      [PacketType.Ping, L(U(4), EP, EP, U(E))],
      [PacketType.Pong, L(EP, TOKEN, U(E))],
      [PacketType.Findnode, L(ID64, U(E))],
      [PacketType.Neighbors, L(L(NODE), U(E))],
      [PacketType.EnrRequest, L(U(E))],
    ];
    for (const [type, data] of expired) {
      const q = rawPacket(type, data, KEY);
      assertDecodeError(() => decodePacket(q, { now: (E + 1) * 1000 }), 'EXPIRED', PacketType[type]);
      assert.equal(decodePacket(q, { now: E * 1000 }).type, type);
    }
  });

  it('does not silently disable the expiration check when the clock is not a number (NaN, Invalid Date)', () => {
    for (const now of [NaN, new Date('not a date')]) {
      assert.throws(
        () => decodePacket(p, { now }),
        (err: unknown) => err instanceof DiscError,
        `decodePacket accepted a packet that expired in 2023 with now = ${String(now)}`,
      );
    }
  });
});

// ---------------------------------------------------------------- fuzz

describe('random and hostile datagrams', () => {
  it('rejects random datagrams of 0..1400 bytes with exactly the size or hash error, and nothing else', () => {
    const view = new PacketView();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), (d) => {
        const want = d.length < 98 ? 'TOO_SMALL' : d.length > 1280 ? 'TOO_LARGE' : 'BAD_HASH';
        assertDecodeError(() => decodePacket(d), want);
        assert.equal(DECODE_ERROR_CODES[readPacket(view, d, 0, d.length, Date.now() / 1000)], want);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes or rejects validly sealed random bodies with only UNKNOWN_TYPE, BAD_RLP or EXPIRED', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }), (type, data) => {
        const p = rawPacket(type, data, KEY);
        let decoded;
        try {
          decoded = decodePacket(p);
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
          if (type < 1 || type > 6) assert.equal(err.code, 'UNKNOWN_TYPE');
          else assert.ok(err.code === 'BAD_RLP' || err.code === 'EXPIRED', err.code);
          return;
        }
        assert.equal(decoded.type, type);
        assert.ok(decoded.nodeId.equals(ID));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes or rejects validly sealed random RLP structures without throwing anything but DecodeError', () => {
    const item = fc.letrec<{ node: Uint8Array | unknown[] }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.uint8Array({ maxLength: 70 }),
        fc.array(tie('node'), { maxLength: 5 }),
      ),
    })).node;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(item, { maxLength: 6 }), (type, items) => {
        const data = Buffer.from(rlp.encode(items as rlp.Input));
        fc.pre(data.length <= 1182);
        const p = rawPacket(type, data, KEY);
        try {
          const decoded = decodePacket(p, { now: 0 });
          assert.equal(decoded.type, type);
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
          if (err.code === 'EXPIRED') {
            // At now = 0 only an expiration of 2^63 or more (a negative int64, as geth reads it) is past.
            const d = decodePacket(p, { ignoreExpiration: true }) as { expiration?: number };
            assert.ok(d.expiration !== undefined && d.expiration < 0, String(d.expiration));
          } else assert.equal(err.code, 'BAD_RLP');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('DecodeError', () => {
  it('maps every status to its stable code and a message', () => {
    for (let st: number = DecodeStatus.TooSmall; st <= DecodeStatus.Expired; st++) {
      const err: DecodeError = new DecodeError(st as DecodeStatus, 'detail');
      assert.equal(err.status, st);
      assert.equal(err.code, DECODE_ERROR_CODES[st]);
      assert.match(err.message, /detail/);
      assert.ok(err instanceof DiscError && err instanceof Error);
    }
    assert.deepEqual(
      [...DECODE_ERROR_CODES],
      ['OK', 'TOO_SMALL', 'TOO_LARGE', 'BAD_HASH', 'BAD_SIGNATURE', 'UNKNOWN_TYPE', 'BAD_RLP', 'EXPIRED'],
    );
  });

  it('uses the same numbers for the native open statuses 1..4 and DecodeStatus', () => {
    const p = reference();
    const id = Buffer.alloc(64);
    assert.equal(nativeCrypto.open(p, 0, 50, id, 0), DecodeStatus.TooSmall);
    assert.equal(nativeCrypto.open(Buffer.alloc(1300), 0, 1300, id, 0), DecodeStatus.TooLarge);
    assert.equal(nativeCrypto.open(flipped(p, 0), 0, p.length, id, 0), DecodeStatus.BadHash);
    const bad = Buffer.from(p);
    bad.fill(0, 32, 64);
    assert.equal(nativeCrypto.open(rehash(bad), 0, p.length, id, 0), DecodeStatus.BadSignature);
  });
});

describe('sealBody helper sanity', () => {
  it('produces the same bytes as encodePacket for a packet body', () => {
    const a = encodePacket(PacketType.Findnode, { target: bytes(64), expiration: FUTURE }, KEY);
    const b = sealBody(a.subarray(97), KEY);
    assert.ok(a.equals(b));
  });
});
