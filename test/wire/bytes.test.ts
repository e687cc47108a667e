import { strict as assert } from 'node:assert';
import { equalAt, sameBytes } from '../../src/wire/bytes';

describe('byte comparisons', () => {
  it('sameBytes: equal only with the same length and every byte equal, first or last byte differing', () => {
    const a = Buffer.from('00112233445566778899', 'hex');
    assert.equal(sameBytes(a, Buffer.from(a)), true);
    assert.equal(sameBytes(a, new Uint8Array(a)), true);
    assert.equal(sameBytes(a, a.subarray(0, 9)), false);
    for (const i of [0, 5, 9]) {
      const b = Buffer.from(a);
      b[i] ^= 1;
      assert.equal(sameBytes(a, b), false, `byte ${i}`);
    }
    assert.equal(sameBytes(new Uint8Array(0), Buffer.alloc(0)), true);
  });

  it('equalAt compares ranges at offsets', () => {
    const a = Buffer.from('aabbccdd', 'hex');
    const b = Buffer.from('00bbcc00', 'hex');
    assert.equal(equalAt(a, 1, b, 1, 2), true);
    assert.equal(equalAt(a, 0, b, 0, 2), false);
    assert.equal(equalAt(a, 1, b, 1, 3), false);
  });
});
