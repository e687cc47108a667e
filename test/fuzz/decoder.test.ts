/**
 * Property-based fuzzing of the packet decoder (readPacket, parseBody,
 * decodePacket) on hostile datagrams of every kind (test/fuzz/helpers.ts),
 * on the native crypto backend and, where it checks something of its own,
 * the noble one. Bounded: the whole file runs in a few seconds; the long run
 * is scripts/fuzz.ts.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DECODE_ERROR_CODES,
  DecodeStatus,
  HEAD_SIZE,
  MAX_PACKET_SIZE,
  PacketType,
  PacketView,
  decodePacket,
  encodePacket,
  nativeCrypto,
  parseBody,
  readPacket,
} from '../../src';
import { nobleCrypto } from '../helpers/noble-crypto';
import { fieldsOf, rlpHeader, sealBody } from '../helpers/packets';
import {
  DATAGRAM_KINDS,
  DatagramKind,
  FUZZ_WALL_MS,
  MAX_BODY,
  PACKET_TYPES,
  PEERS,
  checkDecoder,
  deepNestingBody,
  fcRng,
  garbageSignature,
  hugeLengthBody,
  makeDatagram,
  nestedLists,
  pick,
  randomBody,
  randomFields,
} from './helpers';

const NOW_SEC = FUZZ_WALL_MS / 1000;
const KEYS = PEERS.map((p) => p.key);
const idOf = (key: Buffer) => PEERS.find((p) => p.key === key)!.id.toString('hex');
/** Kinds whose hash and signature pass: what reaches the RLP parser. */
const SEALED_KINDS: DatagramKind[] = ['valid', 'resealed', 'randomSealed', 'hugeLength', 'deepNesting'];

describe('fuzz: packet decoder', () => {
  it('ends every hostile datagram in a DecodeStatus from readPacket and a DecodeError with a DECODE_ERROR_CODES code from decodePacket, never another exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DATAGRAM_KINDS), fc.gen(), (kind, g) => {
        const d = makeDatagram(fcRng(fc, g), kind, KEYS, NOW_SEC);
        checkDecoder(d, NOW_SEC, 0, [0x00]);
      }),
      { numRuns: 1500 },
    );
  });

  it('reads nothing outside [off, off+len): the verdict and every field are the same whatever bytes surround the datagram', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DATAGRAM_KINDS),
        fc.gen(),
        fc.integer({ min: 0, max: 1500 }),
        fc.uint8Array({ minLength: 1, maxLength: 2 }),
        (kind, g, offset, fills) => {
          const d = makeDatagram(fcRng(fc, g), kind, KEYS, NOW_SEC);
          // 0x00 and 0xff around it, then the drawn fills: checkDecoder compares all of them.
          checkDecoder(d, NOW_SEC, offset, [0x00, 0xff, ...fills]);
        },
      ),
      { numRuns: 800 },
    );
  });

  it('ends validly sealed garbage bodies (they reach the RLP parser) as OK, UNKNOWN_TYPE, BAD_RLP or EXPIRED from their signer, or TOO_LARGE', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SEALED_KINDS), fc.gen(), (kind, g) => {
        const rng = fcRng(fc, g);
        const key = pick(rng, KEYS);
        const d = makeDatagram(rng, kind, [key], NOW_SEC);
        const { status, nodeId } = checkDecoder(d, NOW_SEC, 0, [0x00]);
        if (d.length > MAX_PACKET_SIZE) {
          assert.equal(status, DecodeStatus.TooLarge);
          return;
        }
        assert.ok(
          [DecodeStatus.Ok, DecodeStatus.UnknownType, DecodeStatus.BadRlp, DecodeStatus.Expired].includes(status),
          `a sealed ${d.length}-byte ${kind} datagram ended as ${DECODE_ERROR_CODES[status]}`,
        );
        assert.equal(nodeId, idOf(key), 'attributed to the key that sealed it');
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects RLP headers claiming more bytes than the datagram holds (up to 2^64-1, 2^56 behind 0xbf/0xff) as BAD_RLP wherever they sit', () => {
    const key = KEYS[0];
    const view = new PacketView();
    let checked = 0;
    for (let n = 1; n <= 8; n++) {
      for (const base of [0xb7, 0xf7]) {
        // Claimed lengths: 2^(8n)-1 (all ones), 2^(8n-8) (0x01 00..: 2^56 for n = 8), and a few bytes past the end.
        const claims: Buffer[] = [Buffer.alloc(n, 0xff), Buffer.concat([Buffer.from([1]), Buffer.alloc(n - 1)])];
        for (const type of PACKET_TYPES) {
          const tail = Buffer.from([0x82, 0x12, 0x34, 0xc0]);
          for (const claim of claims) {
            const h = Buffer.concat([Buffer.from([base + n]), claim]);
            // At the top, as the packet-data; and as the first element of a correct outer list.
            const inner = Buffer.concat([h, tail]);
            const bodies = [Buffer.concat([Buffer.from([type]), inner]), Buffer.concat([Buffer.from([type]), rlpHeader(inner.length), inner])];
            for (const body of bodies) {
              const d = sealBody(body, key);
              assert.equal(readPacket(view, d, 0, d.length, NOW_SEC), DecodeStatus.BadRlp, `${h.toString('hex')} in ${body.toString('hex')}`);
              checked++;
            }
          }
          // A claim of just one byte more than what follows, with every header width that is canonical for it.
          const payload = Buffer.alloc(200, 0x01);
          for (let w = 1; w <= 2; w++) {
            const len = payload.length + 1;
            const lenBytes = w === 1 ? Buffer.from([len]) : Buffer.from([0, len]);
            const d = sealBody(Buffer.concat([Buffer.from([type, base + w]), lenBytes, payload]), key);
            assert.equal(readPacket(view, d, 0, d.length, NOW_SEC), DecodeStatus.BadRlp);
            checked++;
          }
        }
      }
    }
    assert.equal(checked, 8 * 2 * 6 * (2 * 2 + 2));
  });

  it('parses bodies with huge declared lengths anywhere without throwing or reading past the datagram', () => {
    fc.assert(
      fc.property(fc.gen(), fc.integer({ min: 0, max: 64 }), (g, offset) => {
        const d = sealBody(hugeLengthBody(fcRng(fc, g), NOW_SEC), KEYS[1]);
        checkDecoder(d, NOW_SEC, offset, [0x00, 0xff]);
      }),
      { numRuns: 600 },
    );
  });

  it('parses tens of thousands of nested list headers with parseBody without recursing, throwing or hanging', () => {
    const view = new PacketView();
    const head = Buffer.alloc(HEAD_SIZE);
    // Honest nesting 20,000 deep (the encoding is ~60 KiB), with and without a sibling per level.
    for (const sibling of [undefined, 0x01]) {
      for (const type of PACKET_TYPES) {
        const body = Buffer.concat([head, Buffer.from([type]), nestedLists(20_000, Buffer.alloc(0), sibling)]);
        const st = parseBody(view, body, 0, body.length);
        assert.equal(st, DecodeStatus.BadRlp, `type ${type}, sibling ${String(sibling)}`);
      }
    }
    // And random deep bodies up to 64 KiB: honest, lying, inside a field.
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const body = Buffer.concat([head, deepNestingBody(fcRng(fc, g), 65_536, NOW_SEC)]);
        const st = parseBody(view, body, 0, body.length);
        assert.ok([DecodeStatus.Ok, DecodeStatus.BadRlp].includes(st), `parseBody returned ${DECODE_ERROR_CODES[st] ?? st}`);
      }),
      { numRuns: 150 },
    );
  });

  it('ends deeply nested datagrams (sealed, up to 1280 bytes) as BAD_RLP, OK or EXPIRED, never another way', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const rng = fcRng(fc, g);
        const d = sealBody(deepNestingBody(rng, MAX_BODY, NOW_SEC), KEYS[2]);
        const { status } = checkDecoder(d, NOW_SEC, rng.int(0, 100), [0x00, 0xc1]);
        // EXPIRED: a shallow [[], 1] is a well-formed neighbors packet whose expiration is 1.
        assert.ok([DecodeStatus.Ok, DecodeStatus.BadRlp, DecodeStatus.Expired].includes(status), `ended as ${DECODE_ERROR_CODES[status]}`);
      }),
      { numRuns: 400 },
    );
  });

  it('ends a junk signature under a correct hash as BAD_SIGNATURE, or with a sender other than the signer', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const rng = fcRng(fc, g);
        const key = pick(rng, KEYS);
        const original = sealBody(randomBody(rng, NOW_SEC), key);
        const d = garbageSignature(rng, original);
        const { status, nodeId } = checkDecoder(d, NOW_SEC, 0, [0x00]);
        assert.notEqual(status, DecodeStatus.BadHash, 'the hash was recomputed');
        const sigChanged = !d.subarray(32, HEAD_SIZE).equals(original.subarray(32, HEAD_SIZE));
        if (sigChanged && nodeId !== undefined) assert.notEqual(nodeId, idOf(key), 'a changed signature recovered the original signer');
        if (!sigChanged) assert.equal(nodeId, idOf(key));
      }),
      { numRuns: 800 },
    );
  });

  it('ends random datagrams of 0..2000 bytes as TOO_SMALL, TOO_LARGE or BAD_HASH according to their length', () => {
    const view = new PacketView();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2000 }), (d) => {
        const want = d.length < 98 ? DecodeStatus.TooSmall : d.length > MAX_PACKET_SIZE ? DecodeStatus.TooLarge : DecodeStatus.BadHash;
        assert.equal(readPacket(view, d, 0, d.length, NOW_SEC), want);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same verdict, sender and fields on the native and the noble backend', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DATAGRAM_KINDS), fc.gen(), (kind, g) => {
        const d = makeDatagram(fcRng(fc, g), kind, KEYS, NOW_SEC);
        const native = checkDecoder(d, NOW_SEC, 7, [0x00], nativeCrypto);
        const noble = checkDecoder(d, NOW_SEC, 7, [0x00], nobleCrypto);
        assert.deepEqual(noble, native);
        if (native.status === DecodeStatus.Ok) {
          const a = decodePacket(d, { now: FUZZ_WALL_MS, crypto: nativeCrypto });
          const b = decodePacket(d, { now: FUZZ_WALL_MS, crypto: nobleCrypto });
          assert.deepEqual(b, a);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('round-trips valid packets of every type: decoding gives the fields back and re-encoding gives the same datagram, on both backends', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PACKET_TYPES), fc.gen(), (type: PacketType, g) => {
        const rng = fcRng(fc, g);
        const key = pick(rng, KEYS);
        const f = randomFields(rng, NOW_SEC, type, true);
        const d = encodePacket(f.type, f.fields, key);
        const p = decodePacket(d, { ignoreExpiration: true });
        assert.equal(p.type, type);
        assert.equal(p.nodeId.toString('hex'), idOf(key));
        assert.ok(p.hash.equals(d.subarray(0, 32)));
        assert.deepEqual(p.rest, []);
        const again = fieldsOf(p);
        assert.ok(encodePacket(again.type, again.fields, key).equals(d), 'decode then encode changed the datagram');
        // The same through the noble backend: identical bytes (RFC6979) and fields.
        if (rng.int(0, 9) === 0) {
          assert.ok(encodePacket(f.type, f.fields, key, nobleCrypto).equals(d), 'noble seals differently');
          assert.deepEqual(decodePacket(d, { ignoreExpiration: true, crypto: nobleCrypto }), p);
        }
      }),
      { numRuns: 600 },
    );
  });
});
