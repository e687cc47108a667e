import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import * as rlp from 'rlp';
import {
  Crypto,
  DiscError,
  InvalidArgumentError,
  PacketType,
  decodePacket,
  encodePacket,
  generatePrivateKey,
  isValidPrivateKey,
  keccak256,
  nativeCrypto,
  nodeHash,
  nodeIdFromPrivateKey,
  recover,
  sign,
  writePacket,
} from '../src';
import { CURVE_N, Status, nobleCrypto } from './helpers/noble-crypto';
import { BACKENDS, flipped } from './helpers/packets';
import { CryptoVectors, hex, loadVectors, toHex } from './helpers/vectors';

interface NpmSecp256k1 {
  privateKeyVerify(priv: Uint8Array): boolean;
  publicKeyCreate(priv: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(hash: Uint8Array, priv: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, hash: Uint8Array, compressed?: boolean): Uint8Array;
}
type NpmKeccak = (alg: 'keccak256') => { update(data: Uint8Array): { digest(): Buffer } };
const secp = require('secp256k1') as NpmSecp256k1;
const createKeccak = require('keccak') as NpmKeccak;

const V = loadVectors<CryptoVectors>('crypto');
const HALF_N = CURVE_N >> 1n;

function big(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`);
}
function bytes32(v: bigint): Buffer {
  return hex(v.toString(16).padStart(64, '0'));
}

/** Asserts that `fn` throws a DiscError with `code`. */
function throwsCode(fn: () => unknown, code: string, message?: string): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof DiscError && err.code === code,
    message ?? `expected a DiscError with code ${code}`,
  );
}

for (const crypto of BACKENDS) {
  describe(`crypto vectors (${crypto.name} backend)`, () => {
    describe('keccak256', () => {
      for (const v of V.keccak256) {
        it(`hashes ${v.name} (${v.inputLength} bytes) to the known digest`, () => {
          const input = hex(v.input);
          assert.equal(input.length, v.inputLength);
          assert.equal(toHex(keccak256(input, crypto)), v.hash);
        });
      }

      it('hashes a sub-range of a buffer into a given offset without touching other bytes', () => {
        const v = V.keccak256.find((k) => k.inputLength > 100)!;
        const input = hex(v.input);
        const src = Buffer.concat([Buffer.alloc(13, 0xee), input, Buffer.alloc(7, 0xee)]);
        const dst = Buffer.alloc(50, 0x55);
        crypto.keccak256Into(src, 13, input.length, dst, 9);
        assert.equal(toHex(dst.subarray(9, 41)), v.hash);
        assert.ok(dst.subarray(0, 9).every((b) => b === 0x55));
        assert.ok(dst.subarray(41).every((b) => b === 0x55));
      });

      it('rejects ranges outside the buffers with INVALID_ARGUMENT', () => {
        const src = Buffer.alloc(10);
        throwsCode(() => crypto.keccak256Into(src, 5, 6, Buffer.alloc(32), 0), 'INVALID_ARGUMENT');
        throwsCode(() => crypto.keccak256Into(src, 11, 0, Buffer.alloc(32), 0), 'INVALID_ARGUMENT');
        throwsCode(() => crypto.keccak256Into(src, 0, 10, Buffer.alloc(40), 9), 'INVALID_ARGUMENT');
      });
    });

    describe('keys', () => {
      for (const k of V.keys) {
        it(`derives the node id and node hash of key "${k.name}"`, () => {
          const priv = hex(k.privateKey);
          assert.equal(isValidPrivateKey(priv, crypto), true);
          const id = nodeIdFromPrivateKey(priv, crypto);
          assert.equal(id.length, 64);
          assert.equal(toHex(id), k.nodeId);
          assert.equal(`04${toHex(id)}`, k.publicKeyUncompressed);
          assert.equal(toHex(nodeHash(id, crypto)), k.nodeIdHash);
        });
      }

      it('writes the node id at the requested offset', () => {
        const k = V.keys[0];
        const out = Buffer.alloc(80, 0x77);
        assert.equal(crypto.publicKeyInto(hex(k.privateKey), out, 11), Status.Ok);
        assert.equal(toHex(out.subarray(11, 75)), k.nodeId);
        assert.ok(out.subarray(0, 11).every((b) => b === 0x77));
        assert.ok(out.subarray(75).every((b) => b === 0x77));
      });
    });

    describe('signatures (RFC6979, low-S, r || s || recid)', () => {
      for (const v of V.signatures) {
        it(`signs ${v.message} with key "${v.key}" byte for byte and recovers the key`, () => {
          const hash = hex(v.messageHash);
          const sig = sign(hash, hex(v.privateKey), crypto);
          assert.equal(toHex(sig), v.signature65);
          assert.equal(toHex(sig.subarray(0, 32)), v.r);
          assert.equal(toHex(sig.subarray(32, 64)), v.s);
          assert.equal(sig[64], v.recid);
          assert.ok(big(sig.subarray(32, 64)) <= HALF_N, 'signature must be low-S');
          const want = v.recoveredPublicKey.slice(2);
          assert.equal(toHex(recover(sig, hash, undefined, crypto)), want);
          assert.equal(toHex(recover(sig.subarray(0, 64), v.recid, hash, crypto)), want);
        });

        it(`recovers the same key from the high-S twin of the ${v.message} signature (key "${v.key}")`, () => {
          const hash = hex(v.messageHash);
          assert.equal(big(hex(v.highSTwin.s)), CURVE_N - big(hex(v.s)));
          const twin = Buffer.concat([hex(v.r), hex(v.highSTwin.s)]);
          assert.equal(toHex(recover(twin, v.highSTwin.recid, hash, crypto)), v.recoveredPublicKey.slice(2));
          // The twin with the original recid is a different (valid) point or no point at all.
          let other: string | undefined;
          try {
            other = toHex(recover(twin, v.recid, hash, crypto));
          } catch (err) {
            assert.ok(err instanceof DiscError && err.code === 'BAD_SIGNATURE');
          }
          assert.notEqual(other, v.recoveredPublicKey.slice(2));
        });
      }

      for (const e of V.signatureEdgeCasesHashAtLeastN) {
        it(`reduces a message hash >= n before the RFC6979 nonce (key "${e.key}", hash ${e.messageHash.slice(0, 8)}…${e.messageHash.slice(-8)})`, () => {
          const hash = hex(e.messageHash);
          assert.ok(big(hash) >= CURVE_N);
          assert.equal(big(hash) - CURVE_N, big(hex(e.messageHashModN)));
          const sig = sign(hash, hex(e.privateKey), crypto);
          assert.equal(toHex(sig.subarray(0, 32)), e.rfc6979.r);
          assert.equal(toHex(sig.subarray(32, 64)), e.rfc6979.s);
          assert.equal(sig[64], e.rfc6979.recid);
          assert.notEqual(toHex(sig.subarray(0, 32)), e.unreducedNonceVariant.r);
        });

        it(`recovers the key from both the RFC6979 and the unreduced-nonce signature (key "${e.key}", hash ${e.messageHash.slice(0, 8)}…${e.messageHash.slice(-8)})`, () => {
          const hash = hex(e.messageHash);
          const want = e.recoveredPublicKey.slice(2);
          for (const s of [e.rfc6979, e.unreducedNonceVariant]) {
            assert.equal(toHex(recover(Buffer.concat([hex(s.r), hex(s.s)]), s.recid, hash, crypto)), want);
          }
        });
      }

      it('writes the signature at the requested offset', () => {
        const v = V.signatures[0];
        const out = Buffer.alloc(70, 0x33);
        assert.equal(crypto.signInto(hex(v.messageHash), hex(v.privateKey), out, 3), Status.Ok);
        assert.equal(toHex(out.subarray(3, 68)), v.signature65);
        assert.ok(out.subarray(0, 3).every((b) => b === 0x33) && out.subarray(68).every((b) => b === 0x33));
      });
    });

    describe('discv4 packet walkthrough (FindNode)', () => {
      const w = V.discv4PacketWalkthrough;

      it('builds sigHash, signature, hash and packet step by step', () => {
        const typeAndData = hex(w.typeAndData);
        const sigHash = keccak256(typeAndData, crypto);
        assert.equal(toHex(sigHash), w.sigHash);
        const sig = sign(sigHash, hex(w.privateKey), crypto);
        assert.equal(toHex(sig), w.signature65);
        const hash = keccak256(Buffer.concat([sig, typeAndData]), crypto);
        assert.equal(toHex(hash), w.hash);
        assert.equal(toHex(Buffer.concat([hash, sig, typeAndData])), w.packet);
      });

      it('reproduces the packet byte for byte with writePacket + seal and with encodePacket', () => {
        const packet = hex(w.packet);
        const typeAndData = hex(w.typeAndData);
        assert.equal(typeAndData[0], PacketType.Findnode);
        // The FindNode fields, read with the rlp package: [target, expiration].
        const items = rlp.decode(typeAndData.subarray(1)) as Uint8Array[];
        assert.equal(items.length, 2);
        const fields = { target: Buffer.from(items[0]), expiration: Number(big(items[1])) };
        assert.equal(fields.target.length, 64);
        const buf = Buffer.alloc(400, 0xcc);
        const len = writePacket(buf, 10, PacketType.Findnode, fields);
        assert.equal(len, packet.length);
        assert.equal(toHex(buf.subarray(10 + 97, 10 + len)), w.typeAndData);
        assert.equal(crypto.seal(buf, 10, len, hex(w.privateKey)), Status.Ok);
        assert.equal(toHex(buf.subarray(10, 10 + len)), w.packet);
        assert.ok(buf.subarray(0, 10).every((b) => b === 0xcc) && buf.subarray(10 + len).every((b) => b === 0xcc));
        assert.equal(toHex(encodePacket(PacketType.Findnode, fields, hex(w.privateKey), crypto)), w.packet);
        // And it decodes back to those fields, sent by the walkthrough key.
        const p = decodePacket(packet, { crypto });
        assert.equal(p.type, PacketType.Findnode);
        assert.ok(p.type === PacketType.Findnode && p.target.equals(fields.target) && p.expiration === fields.expiration);
        assert.ok(p.nodeId.equals(nodeIdFromPrivateKey(hex(w.privateKey), crypto)));
        assert.equal(toHex(p.hash), w.hash);
      });
    });

    describe('seal and open', () => {
      const priv = hex(V.keys[1].privateKey);
      const id = V.keys[1].nodeId;

      function sealedAt(off: number, total: number): { buf: Buffer; len: number } {
        const buf = Buffer.alloc(total, 0xab);
        const len = writePacket(buf, off, PacketType.EnrRequest, { expiration: 4102444800 });
        assert.equal(crypto.seal(buf, off, len, priv), Status.Ok);
        return { buf, len };
      }

      it('seals at an offset and opens the datagram, writing the sender id at the requested offset', () => {
        const { buf, len } = sealedAt(21, 300);
        const out = Buffer.alloc(100, 0x11);
        assert.equal(crypto.open(buf, 21, len, out, 17), Status.Ok);
        assert.equal(toHex(out.subarray(17, 81)), id);
        assert.ok(out.subarray(0, 17).every((b) => b === 0x11) && out.subarray(81).every((b) => b === 0x11));
        // The sealed bytes equal the allocating encoder's output.
        const fresh = encodePacket(PacketType.EnrRequest, { expiration: 4102444800 }, priv, crypto);
        assert.ok(buf.subarray(21, 21 + len).equals(fresh));
      });

      it('returns TooSmall / TooLarge / BadHash / BadSignature from open in that order of checks', () => {
        const { buf, len } = sealedAt(0, 1400);
        const out = Buffer.alloc(64);
        assert.equal(crypto.open(buf, 0, 97, out, 0), Status.TooSmall);
        assert.equal(crypto.open(buf, 0, 0, out, 0), Status.TooSmall);
        assert.equal(crypto.open(buf, 0, 1281, out, 0), Status.TooLarge);
        assert.equal(crypto.open(buf, 0, len + 1, out, 0), Status.BadHash);
        const badHash = flipped(buf.subarray(0, len), 5);
        assert.equal(crypto.open(badHash, 0, len, out, 0), Status.BadHash);
        // r = 0 with the outer hash recomputed: only the signature is wrong.
        const badSig = Buffer.from(buf.subarray(0, len));
        badSig.fill(0, 32, 64);
        crypto.keccak256Into(badSig, 32, len - 32, badSig, 0);
        assert.equal(crypto.open(badSig, 0, len, out, 0), Status.BadSignature);
        // recid 4 is out of range.
        const badRecid = Buffer.from(buf.subarray(0, len));
        badRecid[96] = 4;
        crypto.keccak256Into(badRecid, 32, len - 32, badRecid, 0);
        assert.equal(crypto.open(badRecid, 0, len, out, 0), Status.BadSignature);
      });

      it('refuses to seal fewer than 98 bytes or with an invalid key', () => {
        const buf = Buffer.alloc(200);
        buf[97] = PacketType.EnrRequest;
        assert.equal(crypto.seal(buf, 0, 97, priv), Status.TooSmall);
        assert.equal(crypto.seal(buf, 0, 100, Buffer.alloc(32)), Status.BadKey);
        assert.equal(crypto.seal(buf, 0, 100, bytes32(CURVE_N)), Status.BadKey);
      });

      it('reports ranges outside the buffer with the Range status', () => {
        const buf = Buffer.alloc(200);
        assert.equal(crypto.open(buf, 150, 100, Buffer.alloc(64), 0), Status.Range);
        assert.equal(crypto.open(buf, 0, 120, Buffer.alloc(64), 1), Status.Range);
        assert.equal(crypto.seal(buf, 150, 100, priv), Status.Range);
        assert.equal(crypto.publicKeyInto(priv, Buffer.alloc(63), 0), Status.Range);
        assert.equal(crypto.signInto(Buffer.alloc(32), priv, Buffer.alloc(65), 1), Status.Range);
        assert.equal(crypto.recoverInto(Buffer.alloc(64), 1, 0, Buffer.alloc(32), 0, Buffer.alloc(64), 0), Status.Range);
      });
    });
  });
}

describe('crypto: argument validation', () => {
  const good = hex(V.keys[0].privateKey);
  const hash = hex(V.signatures[0].messageHash);
  const badKeys: [string, Uint8Array][] = [
    ['zero', Buffer.alloc(32)],
    ['n', bytes32(CURVE_N)],
    ['n + 1', bytes32(CURVE_N + 1n)],
    ['2^256 - 1', Buffer.alloc(32, 0xff)],
    ['31 bytes', good.subarray(0, 31)],
    ['33 bytes', Buffer.concat([good, Buffer.alloc(1)])],
    ['empty', Buffer.alloc(0)],
  ];

  for (const crypto of BACKENDS) {
    for (const [name, key] of badKeys) {
      it(`rejects the private key "${name}" with INVALID_ARGUMENT (${crypto.name})`, () => {
        assert.equal(isValidPrivateKey(key, crypto), false);
        throwsCode(() => nodeIdFromPrivateKey(key, crypto), 'INVALID_ARGUMENT');
        throwsCode(() => sign(hash, key, crypto), 'INVALID_ARGUMENT');
        throwsCode(() => encodePacket(PacketType.EnrRequest, { expiration: 1 }, key, crypto), 'INVALID_ARGUMENT');
      });
    }
  }

  it('accepts n - 1 and 1 as private keys', () => {
    assert.equal(isValidPrivateKey(bytes32(CURVE_N - 1n)), true);
    assert.equal(isValidPrivateKey(bytes32(1n)), true);
  });

  it('throws InvalidArgumentError instances (a DiscError and an Error) for bad arguments', () => {
    let caught: unknown;
    try {
      nodeIdFromPrivateKey(Buffer.alloc(32));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof InvalidArgumentError);
    assert.ok(caught instanceof DiscError);
    assert.ok(caught instanceof Error);
    assert.equal(caught.code, 'INVALID_ARGUMENT');
    assert.equal(caught.name, 'InvalidArgumentError');
  });

  it('rejects non-Uint8Array inputs and wrong hash lengths with INVALID_ARGUMENT', () => {
    throwsCode(() => keccak256('abc' as unknown as Uint8Array), 'INVALID_ARGUMENT');
    throwsCode(() => nodeIdFromPrivateKey('00'.repeat(32) as unknown as Uint8Array), 'INVALID_ARGUMENT');
    throwsCode(() => sign(hash.subarray(0, 31), good), 'INVALID_ARGUMENT');
    throwsCode(() => sign(Buffer.concat([hash, hash]), good), 'INVALID_ARGUMENT');
    const sig = sign(hash, good);
    throwsCode(() => recover(sig, hash.subarray(1)), 'INVALID_ARGUMENT');
    throwsCode(() => recover(sig.subarray(0, 63), 0, hash), 'INVALID_ARGUMENT');
    throwsCode(() => recover(sig.subarray(0, 64), hash), 'INVALID_ARGUMENT');
    throwsCode(() => recover(sig, 0, hash), 'INVALID_ARGUMENT');
    throwsCode(() => recover(sig.subarray(0, 64), 0), 'INVALID_ARGUMENT');
    throwsCode(() => nodeHash(Buffer.alloc(63)), 'INVALID_ARGUMENT');
    assert.equal(isValidPrivateKey('x' as unknown as Uint8Array), false);
  });

  it('generates valid, distinct private keys', () => {
    for (const crypto of BACKENDS) {
      const a = generatePrivateKey(crypto);
      const b = generatePrivateKey(crypto);
      assert.equal(a.length, 32);
      assert.equal(isValidPrivateKey(a, crypto), true);
      assert.equal(isValidPrivateKey(b, crypto), true);
      assert.ok(!a.equals(b));
    }
  });
});

describe('crypto: recovery failures', () => {
  const v = V.signatures[0];
  const hash = hex(v.messageHash);
  const r = hex(v.r);
  const s = hex(v.s);

  const cases: [string, () => Buffer, number][] = [
    ['r = 0', () => Buffer.concat([Buffer.alloc(32), s]), v.recid],
    ['s = 0', () => Buffer.concat([r, Buffer.alloc(32)]), v.recid],
    ['r = n', () => Buffer.concat([bytes32(CURVE_N), s]), v.recid],
    ['s = n', () => Buffer.concat([r, bytes32(CURVE_N)]), v.recid],
    ['r = 5 (no curve point has this x)', () => Buffer.concat([bytes32(5n), s]), v.recid],
  ];
  for (const crypto of BACKENDS) {
    for (const [name, make, recid] of cases) {
      it(`fails with BAD_SIGNATURE for ${name} (${crypto.name})`, () => {
        throwsCode(() => recover(make(), recid, hash, crypto), 'BAD_SIGNATURE');
        throwsCode(() => recover(Buffer.concat([make(), Buffer.from([recid])]), hash, undefined, crypto), 'BAD_SIGNATURE');
      });
    }

    for (const recid of [4, 5, 27, 28, 255, 256, -1, 1.5, NaN]) {
      it(`fails with BAD_SIGNATURE for recovery id ${recid} (${crypto.name})`, () => {
        throwsCode(() => recover(Buffer.concat([r, s]), recid, hash, crypto), 'BAD_SIGNATURE');
      });
    }

    // Recovery ids are 0..3: a number that only equals a valid id modulo 2^32
    // must not be truncated into one.
    it(`fails with BAD_SIGNATURE for recovery ids 2^32 + id, 2^33 + id and 2^53 (${crypto.name})`, () => {
      for (const recid of [2 ** 32 + v.recid, 2 ** 33 + v.recid, 2 ** 53]) {
        throwsCode(() => recover(Buffer.concat([r, s]), recid, hash, crypto), 'BAD_SIGNATURE', `recid ${recid}`);
      }
    });
  }

  it('returns a DiscError with code BAD_SIGNATURE (not InvalidArgumentError)', () => {
    let caught: unknown;
    try {
      recover(Buffer.concat([Buffer.alloc(32), s]), 0, hash);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof DiscError);
    assert.ok(!(caught instanceof InvalidArgumentError));
    assert.equal(caught.code, 'BAD_SIGNATURE');
  });
});

describe('crypto: cross-checks on random inputs', () => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('agrees with npm secp256k1 on key validity and public keys', () => {
    fc.assert(
      fc.property(key, (priv) => {
        const valid = secp.privateKeyVerify(priv);
        assert.equal(isValidPrivateKey(priv), valid);
        assert.equal(isValidPrivateKey(priv, nobleCrypto), valid);
        if (valid) {
          const want = toHex(secp.publicKeyCreate(priv, false).subarray(1));
          assert.equal(toHex(nodeIdFromPrivateKey(priv)), want);
          assert.equal(toHex(nodeIdFromPrivateKey(priv, nobleCrypto)), want);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('signs exactly as npm secp256k1 (libsecp256k1) for hashes below n, and as noble for every hash', () => {
    fc.assert(
      fc.property(key, hash32, (priv, hash) => {
        fc.pre(secp.privateKeyVerify(priv));
        const ours = sign(hash, priv);
        assert.ok(ours.equals(sign(hash, priv, nobleCrypto)), 'native and noble signatures differ');
        if (big(hash) < CURVE_N) {
          // npm secp256k1 5.0.2 uses the unreduced hash for the nonce (crypto.json edge cases).
          const ref = secp.ecdsaSign(hash, priv);
          assert.equal(toHex(ours.subarray(0, 64)), toHex(ref.signature));
          assert.equal(ours[64], ref.recid);
        }
        const pub = toHex(secp.ecdsaRecover(ours.subarray(0, 64), ours[64], hash, false).subarray(1));
        assert.equal(pub, toHex(nodeIdFromPrivateKey(priv)));
      }),
      { numRuns: 200 },
    );
  });

  it('recovers the same key as npm secp256k1 for arbitrary signatures, or fails where it fails', () => {
    const validKey = key.filter((k) => secp.privateKeyVerify(k));
    fc.assert(
      fc.property(validKey, hash32, hash32, fc.integer({ min: 0, max: 3 }), fc.boolean(), (priv, hash, other, recid, tamper) => {
        // Either a real signature (possibly with the recid changed) or 64 random-ish bytes.
        const real = secp.ecdsaSign(hash, priv);
        const sig = tamper ? Buffer.concat([other, Buffer.from(real.signature.subarray(32))]) : Buffer.from(real.signature);
        let want: string | undefined;
        try {
          want = toHex(secp.ecdsaRecover(sig, recid, hash, false).subarray(1));
        } catch {
          want = undefined;
        }
        for (const crypto of BACKENDS) {
          let got: string | undefined;
          try {
            got = toHex(recover(sig, recid, hash, crypto));
          } catch (err) {
            assert.ok(err instanceof DiscError && err.code === 'BAD_SIGNATURE', String(err));
          }
          assert.equal(got, want, `${crypto.name} recovery differs from libsecp256k1`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('hashes exactly as the npm keccak package for inputs of 0..600 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
        const want = toHex(createKeccak('keccak256').update(Buffer.from(data)).digest());
        assert.equal(toHex(keccak256(data)), want);
        assert.equal(toHex(keccak256(data, nobleCrypto)), want);
      }),
      { numRuns: 200 },
    );
  });

  it('hashes misaligned input (every offset 0..7, up to 5,000 bytes: the aligned-copy and chunked paths) as the npm keccak package', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 0, max: 7 }), (data, shift) => {
        const want = toHex(createKeccak('keccak256').update(Buffer.from(data)).digest());
        const big = new Uint8Array(data.length + 8);
        big.set(data, shift);
        const out = Buffer.alloc(32);
        nativeCrypto.keccak256Into(big, shift, data.length, out, 0);
        assert.equal(toHex(out), want);
      }),
      { numRuns: 200 },
    );
  });

  it('seals identically on both backends and each opens the other one’s datagrams', () => {
    const validKey = key.filter((k) => secp.privateKeyVerify(k));
    fc.assert(
      fc.property(validKey, fc.uint8Array({ minLength: 1, maxLength: 1183 }), (priv, body) => {
        const bufs = BACKENDS.map((c: Crypto) => {
          const buf = Buffer.alloc(97 + body.length);
          buf.set(body, 97);
          assert.equal(c.seal(buf, 0, buf.length, priv), Status.Ok);
          return buf;
        });
        assert.ok(bufs[0].equals(bufs[1]), 'native and noble seal differ');
        const id = toHex(nodeIdFromPrivateKey(priv));
        for (const c of BACKENDS) {
          const out = Buffer.alloc(64);
          assert.equal(c.open(bufs[0], 0, bufs[0].length, out, 0), Status.Ok);
          assert.equal(toHex(out), id);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('uses the native backend by default in the convenience functions', () => {
    assert.equal(nativeCrypto.name, 'native');
    const v = V.signatures[3];
    const out = Buffer.alloc(65);
    assert.equal(nativeCrypto.signInto(hex(v.messageHash), hex(v.privateKey), out, 0), Status.Ok);
    assert.ok(out.equals(sign(hex(v.messageHash), hex(v.privateKey))));
  });
});
