import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { DiscError, ipToBytes, ipToString } from '../../src';
import { toHex } from '../helpers/vectors';

/** The WHATWG URL serializer's IPv6 text: the same compression rule as RFC 5952. */
function whatwg(v6: string): string {
  return new URL(`http://[${v6}]/`).hostname.slice(1, -1);
}

const isMapped = (b: Uint8Array) => b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

describe('ipToBytes / ipToString', () => {
  const v4: [string, string][] = [
    ['0.0.0.0', '00000000'],
    ['127.0.0.1', '7f000001'],
    ['192.0.2.1', 'c0000201'],
    ['255.255.255.255', 'ffffffff'],
    ['99.33.22.55', '63211637'],
  ];
  for (const [text, hexBytes] of v4) {
    it(`parses and formats the IPv4 address ${text}`, () => {
      assert.equal(toHex(ipToBytes(text)), hexBytes);
      assert.equal(ipToString(Buffer.from(hexBytes, 'hex')), text);
    });
  }

  // [input, 16 bytes, RFC 5952 text]
  const v6: [string, string, string][] = [
    ['::', '00000000000000000000000000000000', '::'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['1::', '00010000000000000000000000000000', '1::'],
    ['0:0:0:0:0:0:0:1', '00000000000000000000000000000001', '::1'],
    ['2001:db8::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['1:0:0:1:0:0:0:1', '00010000000000010000000000000001', '1:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8:3c4d:15:0:0:abcd:ef12', '20010db83c4d001500000000abcdef12', '2001:db8:3c4d:15::abcd:ef12'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '20010db885a308d313198a2e03707348', '2001:db8:85a3:8d3:1319:8a2e:370:7348'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001', 'fe80::1'],
    ['::ffff:1.2.3.4', '00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '00000000000000000000000001020304', '::102:304'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221', '64:ff9b::c000:221'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [input, hexBytes, text] of v6) {
    it(`parses ${input} and formats it as ${text}`, () => {
      assert.equal(toHex(ipToBytes(input)), hexBytes);
      assert.equal(ipToString(Buffer.from(hexBytes, 'hex')), text);
      assert.equal(toHex(ipToBytes(text)), hexBytes);
    });
  }

  it('compresses the first of two equally long zero runs and never a single zero group (RFC 5952 4.2)', () => {
    assert.equal(ipToString(Buffer.from('00010000000000010000000000010001', 'hex')), '1::1:0:0:1:1');
    assert.equal(ipToString(Buffer.from('00010000000100010001000100010001', 'hex')), '1:0:1:1:1:1:1:1');
  });

  const invalid = [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.256',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    'localhost',
    'example.org',
    '1:2:3:4:5:6:7:8:9',
    ':::',
    '1::2::3',
    '[::1]',
    '::ffff:1.2.3.256',
    'g::1',
    '12345::1',
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)} with INVALID_ARGUMENT`, () => {
      assert.throws(
        () => ipToBytes(text),
        (err: unknown) => err instanceof DiscError && err.code === 'INVALID_ARGUMENT',
      );
    });
  }

  it('formats lengths other than 4 and 16 as undefined', () => {
    for (const n of [0, 1, 3, 5, 15, 17, 32]) assert.equal(ipToString(Buffer.alloc(n)), undefined);
  });

  it('round-trips random IPv4 text through bytes', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const b = ipToBytes(text);
        assert.deepEqual([...b], text.split('.').map(Number));
        assert.equal(ipToString(b), text);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips random 16-byte addresses through RFC 5952 text, matching the WHATWG URL serializer', () => {
    const addr = fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      // Sparse addresses, so that zero runs of every length and position occur.
      fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((groups) => {
        const b = Buffer.alloc(16);
        groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
        return new Uint8Array(b);
      }),
    );
    fc.assert(
      fc.property(addr, (b) => {
        const text = ipToString(b)!;
        assert.equal(toHex(ipToBytes(text)), toHex(b));
        if (!isMapped(b)) assert.equal(text, whatwg(text));
        else assert.match(text, /^::ffff:\d+\.\d+\.\d+\.\d+$/);
      }),
      { numRuns: 300 },
    );
  });

  it('parses every textual IPv6 form to the bytes the WHATWG URL parser gives', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const b = ipToBytes(text);
        assert.equal(b.length, 16);
        // The URL parser's canonical text of the same address parses to the same bytes.
        assert.equal(toHex(ipToBytes(whatwg(text))), toHex(b));
        if (!isMapped(b)) assert.equal(ipToString(b), whatwg(text));
      }),
      { numRuns: 300 },
    );
  });
});
