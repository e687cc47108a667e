import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { distCmp, logDistance, nodeHash, nodeIdFromPrivateKey } from '../../src';
import { BACKENDS } from '../helpers/packets';
import { LogdistVectors, hex, loadVectors, toHex } from '../helpers/vectors';

const V = loadVectors<LogdistVectors>('logdist');

const asBig = (b: Uint8Array): bigint => BigInt(`0x${toHex(b) || '0'}`);

/** Reference: bit length of a XOR b as 256-bit integers. */
function refLogDistance(a: Uint8Array, b: Uint8Array): number {
  return (asBig(a) ^ asBig(b)).toString(2).replace(/^0+/, '').length;
}

describe('log distance and DistCmp vectors', () => {
  for (const v of V.hashPairs) {
    it(`gives logdist ${v.logdist} for the hash pair "${v.name}" in both argument orders`, () => {
      assert.equal(logDistance(hex(v.a), hex(v.b)), v.logdist);
      assert.equal(logDistance(hex(v.b), hex(v.a)), v.logdist);
    });
  }

  for (const crypto of BACKENDS) {
    for (const v of V.nodeIdPairs) {
      it(`derives ids and hashes and gives logdist ${v.logdist} for "${v.name}" (${crypto.name})`, () => {
        const idA = nodeIdFromPrivateKey(hex(v.privateKeyA), crypto);
        const idB = nodeIdFromPrivateKey(hex(v.privateKeyB), crypto);
        assert.equal(toHex(idA), v.nodeIdA);
        assert.equal(toHex(idB), v.nodeIdB);
        const hA = nodeHash(idA, crypto);
        const hB = nodeHash(idB, crypto);
        assert.equal(toHex(hA), v.hashA);
        assert.equal(toHex(hB), v.hashB);
        assert.equal(logDistance(hA, hB), v.logdist);
      });
    }
  }

  for (const v of V.distCmp.vectors) {
    it(`compares distances to the target for "${v.name}" (result ${v.result})`, () => {
      const [t, a, b] = [hex(v.target), hex(v.a), hex(v.b)];
      assert.equal(distCmp(t, a, b), v.result);
      assert.equal(distCmp(t, b, a), -v.result || 0);
      assert.equal(logDistance(t, a), v.logdistTargetA);
      assert.equal(logDistance(t, b), v.logdistTargetB);
    });
  }
});

describe('log distance and DistCmp properties', () => {
  const h = fc.uint8Array({ minLength: 32, maxLength: 32 });
  /** b = a with some low bits changed: small distances are otherwise never drawn. */
  const near = fc.tuple(h, fc.integer({ min: 0, max: 256 }), h).map(([a, bits, noise]) => {
    const b = Buffer.from(a);
    for (let bit = 0; bit < bits; bit++) {
      const byte = 31 - (bit >> 3);
      if ((noise[byte] >> (bit & 7)) & 1) b[byte] ^= 1 << (bit & 7);
    }
    return [a, b] as const;
  });

  it('equals the bit length of a XOR b, is symmetric and is 0 only for equal hashes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(h, h), near), ([a, b]) => {
        const d = logDistance(a, b);
        assert.equal(d, refLogDistance(a, b));
        assert.equal(logDistance(b, a), d);
        assert.equal(d === 0, Buffer.from(a).equals(Buffer.from(b)));
      }),
      { numRuns: 300 },
    );
  });

  it('orders by XOR distance as 256-bit integers and is antisymmetric', () => {
    fc.assert(
      fc.property(h, fc.oneof(fc.tuple(h, h), near), (t, [a, b]) => {
        const da = asBig(a) ^ asBig(t);
        const db = asBig(b) ^ asBig(t);
        const want = da < db ? -1 : da > db ? 1 : 0;
        assert.equal(distCmp(t, a, b), want);
        assert.equal(distCmp(t, b, a), -want || 0);
        assert.equal(distCmp(t, a, a), 0);
        if (want !== 0) assert.ok(logDistance(t, want < 0 ? a : b) <= logDistance(t, want < 0 ? b : a));
      }),
      { numRuns: 300 },
    );
  });
});
