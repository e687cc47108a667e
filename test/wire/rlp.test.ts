import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import * as rlp from 'rlp';
import {
  RlpItem,
  bytesSize,
  encodeRlp,
  headerSize,
  listSize,
  readBigUint,
  readItem,
  readUint,
  uintSize,
  writeBytes,
  writeHeader,
  writeUint,
} from '../../src/wire/rlp';
import { toHex } from '../helpers/vectors';

/** A decoded RLP value: bytes or a list of values. */
type Tree = Uint8Array | Tree[];

/** Strict full parse with our reader: the item at pos, recursively; throws on any rejection. */
function parse(buf: Uint8Array, pos: number, limit: number): { tree: Tree; end: number } {
  const it: RlpItem = { isList: false, start: 0, end: 0 };
  if (!readItem(buf, pos, limit, it)) throw new Error(`readItem rejected the item at ${pos}`);
  if (!it.isList) return { tree: buf.subarray(it.start, it.end), end: it.end };
  const out: Tree[] = [];
  let p = it.start;
  const end = it.end;
  while (p < end) {
    const child = parse(buf, p, end);
    out.push(child.tree);
    p = child.end;
  }
  return { tree: out, end };
}

/** Our reader's view of a whole buffer (one item, nothing after it), or undefined if rejected. */
function ours(buf: Uint8Array): Tree | undefined {
  try {
    const { tree, end } = parse(buf, 0, buf.length);
    return end === buf.length ? tree : undefined;
  } catch {
    return undefined;
  }
}

/** The rlp package's view, or undefined if it rejects. */
function theirs(buf: Uint8Array): Tree | undefined {
  try {
    return rlp.decode(buf) as Tree;
  } catch {
    return undefined;
  }
}

function same(a: Tree, b: Tree): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && toHex(a) === toHex(b);
  }
  return a.length === b.length && a.every((x, i) => same(x, b[i]));
}

const tree: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.uint8Array({ maxLength: 3 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ minLength: 54, maxLength: 60 })),
    fc.array(tie('t'), { maxLength: 6 }),
  ),
})).t;

/** A few edits that make encodings non-canonical or malformed more often than random bytes would. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof<fc.Arbitrary<Mutation>[]>(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xb9, 0xbf, 0xc0, 0xf7, 0xf8, 0xf9, 0xff) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);

interface Mutation {
  kind: 'flip' | 'set' | 'cut' | 'insert';
  at: number;
  mask?: number;
  value?: number;
}

function mutate(buf: Uint8Array, m: Mutation): Buffer {
  const b = Buffer.from(buf);
  if (b.length === 0) return b;
  const at = m.at % b.length;
  switch (m.kind) {
    case 'flip':
      b[at] ^= m.mask!;
      return b;
    case 'set':
      b[at] = m.value!;
      return b;
    case 'cut':
      return b.subarray(0, at);
    default:
      return Buffer.concat([b.subarray(0, at), Buffer.from([m.value!]), b.subarray(at)]);
  }
}

describe('RLP reader (readItem) against the rlp package', () => {
  it('reads every rlp.encode output back to the same structure, consuming it exactly', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const enc = rlp.encode(t as rlp.Input);
        const got = ours(enc);
        assert.ok(got !== undefined, `rejected ${toHex(enc)}`);
        assert.ok(same(got, t));
      }),
      { numRuns: 300 },
    );
  });

  it('reads an item at an offset of a larger buffer without looking past its limit', () => {
    fc.assert(
      fc.property(tree, fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }), (t, before, after) => {
        const enc = Buffer.from(rlp.encode(t as rlp.Input));
        const buf = Buffer.concat([before, enc, after]);
        const { tree: got, end } = parse(buf, before.length, before.length + enc.length);
        assert.equal(end, before.length + enc.length);
        assert.ok(same(got, t));
        // One byte short of the item is never enough.
        const it: RlpItem = { isList: false, start: 0, end: 0 };
        assert.equal(readItem(buf, before.length, before.length + enc.length - 1, it), false);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts exactly the mutated encodings the rlp package accepts, with the same result', () => {
    fc.assert(
      fc.property(tree, fc.array(mutation, { minLength: 1, maxLength: 3 }), (t, ms) => {
        let buf: Buffer = Buffer.from(rlp.encode(t as rlp.Input));
        for (const m of ms) buf = mutate(buf, m);
        fc.pre(buf.length > 0); // rlp.decode treats empty input as an empty string
        const a = ours(buf);
        const b = theirs(buf);
        assert.equal(a === undefined, b === undefined, `ours ${a === undefined ? 'rejects' : 'accepts'} ${toHex(buf)}`);
        if (a !== undefined && b !== undefined) assert.ok(same(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it('accepts exactly the random byte strings the rlp package accepts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (buf) => {
        const a = ours(buf);
        const b = theirs(buf);
        assert.equal(a === undefined, b === undefined, toHex(buf));
        if (a !== undefined && b !== undefined) assert.ok(same(a, b));
      }),
      { numRuns: 300 },
    );
  });

  const rejects: [string, string][] = [
    ['an empty input', ''],
    ['a single byte 0x00 encoded as 0x81 0x00', '8100'],
    ['a single byte 0x7f encoded as 0x81 0x7f', '817f'],
    ['a long-form string of length 0', 'b800'],
    ['a long-form string of length 55', `b837${'aa'.repeat(55)}`],
    ['a long-form string length with a leading zero', `b90038${'aa'.repeat(56)}`],
    ['a long-form list of length 55', `f837${'01'.repeat(55)}`],
    ['a long-form list length with a leading zero', `f90038${'01'.repeat(56)}`],
    ['a 4-byte length', `bb00000038${'aa'.repeat(56)}`],
    ['a 5-byte length', 'bc0100000000'],
    ['an 8-byte list length', 'ffffffffffffffffff'],
    ['a string shorter than its header says', '8201'],
    ['a list shorter than its header says', 'c30102'],
    ['a long string one byte short', `b838${'aa'.repeat(55)}`],
    ['a long-form length cut off', 'b9'],
  ];
  for (const [name, h] of rejects) {
    it(`rejects ${name}`, () => {
      const buf = Buffer.from(h, 'hex');
      const it: RlpItem = { isList: false, start: 0, end: 0 };
      assert.equal(readItem(buf, 0, buf.length, it), false);
    });
  }

  const accepts: [string, string, boolean, number, number][] = [
    ['a single byte below 0x80 as itself', '7f', false, 0, 1],
    ['0x80 as an empty string', '80', false, 1, 1],
    ['0x81 0x80 as the byte 0x80', '8180', false, 1, 2],
    ['the empty list', 'c0', true, 1, 1],
    ['a 55-byte string in short form', `b7${'aa'.repeat(55)}`, false, 1, 56],
    ['a 56-byte string in long form', `b838${'aa'.repeat(56)}`, false, 2, 58],
    ['a 56-byte list in long form', `f838${'01'.repeat(56)}`, true, 2, 58],
    ['a 256-byte string with a 2-byte length', `b90100${'aa'.repeat(256)}`, false, 3, 259],
  ];
  for (const [name, h, isList, start, end] of accepts) {
    it(`reads ${name}`, () => {
      const buf = Buffer.from(h, 'hex');
      const it: RlpItem = { isList: !isList, start: -1, end: -1 };
      assert.equal(readItem(buf, 0, buf.length, it), true);
      assert.deepEqual(it, { isList, start, end });
    });
  }

  it('checks the limit, not the buffer length', () => {
    const buf = Buffer.from('c3010203', 'hex');
    const it: RlpItem = { isList: false, start: 0, end: 0 };
    assert.equal(readItem(buf, 0, 3, it), false);
    assert.equal(readItem(buf, 0, 4, it), true);
    assert.equal(readItem(buf, 4, 4, it), false);
  });
});

describe('RLP integers (readUint, readBigUint)', () => {
  const payload = (v: bigint): Buffer => {
    const enc = Buffer.from(rlp.encode(v));
    const it: RlpItem = { isList: false, start: 0, end: 0 };
    assert.ok(readItem(enc, 0, enc.length, it));
    return enc.subarray(it.start, it.end);
  };

  it('reads canonical uint64 values exactly as bigint and as the nearest double', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 56n })), (v) => {
        const p = payload(v);
        assert.equal(readBigUint(p, 0, p.length), v);
        assert.equal(readUint(p, 0, p.length, 8), Number(v));
      }),
      { numRuns: 500 },
    );
  });

  it('reads safe integers exactly as numbers', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (v) => {
        const p = payload(BigInt(v));
        assert.equal(readUint(p, 0, p.length, 8), v);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects integers longer than maxBytes and integers with a leading zero', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (v) => {
        const p = payload(v);
        assert.equal(readUint(p, 0, p.length, p.length - 1), -1);
        assert.equal(readUint(p, 0, p.length, p.length), Number(v));
        const padded = Buffer.concat([Buffer.from([0]), p]);
        assert.equal(readUint(padded, 0, padded.length, 9), -1);
      }),
      { numRuns: 200 },
    );
    assert.equal(readUint(Buffer.from([0]), 0, 1, 8), -1);
    assert.equal(readUint(Buffer.alloc(9, 1), 0, 9, 8), -1);
  });

  it('reads an empty payload as 0', () => {
    assert.equal(readUint(Buffer.alloc(0), 0, 0, 8), 0);
    assert.equal(readBigUint(Buffer.alloc(0), 0, 0), 0n);
  });

  it('reads at an offset of a larger buffer', () => {
    const buf = Buffer.from('ff0102030405060708ff', 'hex');
    assert.equal(readUint(buf, 1, 9, 8), 0x0102030405060708);
    assert.equal(readBigUint(buf, 1, 9), 0x0102030405060708n);
    assert.equal(readUint(buf, 1, 3, 2), 0x0102);
  });
});

describe('RLP writers against the rlp package', () => {
  it('writes byte strings as rlp.encode does and sizes them', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 3 }), fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.integer({ min: 65534, max: 65537 }), fc.nat(255)).map(([n, b]) => Buffer.alloc(n, b))), fc.nat(10), (data, off) => {
        const want = Buffer.from(rlp.encode(data));
        const buf = Buffer.alloc(off + want.length + 5, 0xee);
        const end = writeBytes(buf, off, data);
        assert.equal(end, off + want.length);
        assert.equal(bytesSize(data), want.length);
        assert.ok(buf.subarray(off, end).equals(want));
        assert.ok(buf.subarray(0, off).every((x) => x === 0xee) && buf.subarray(end).every((x) => x === 0xee));
      }),
      { numRuns: 200 },
    );
  });

  it('writes unsigned integers (numbers and bigints) as rlp.encode does and sizes them', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeNat(), fc.nat(300), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), (v) => {
        const want = Buffer.from(rlp.encode(BigInt(v)));
        const buf = Buffer.alloc(12, 0xee);
        const end = writeUint(buf, 1, v);
        assert.equal(end, 1 + want.length);
        assert.equal(uintSize(v), want.length);
        assert.equal(toHex(buf.subarray(1, end)), toHex(want));
      }),
      { numRuns: 300 },
    );
  });

  it('writes string and list headers (1- to 3-byte lengths) as rlp.encode does', () => {
    const check = (len: number) => {
      const payload = Buffer.alloc(len, 0xaa);
      const str = Buffer.from(rlp.encode(len === 1 ? Buffer.from([0x80]) : payload));
      const strHeader = str.subarray(0, str.length - len);
      assert.equal(headerSize(len), strHeader.length, `headerSize(${len})`);
      assert.equal(listSize(len), strHeader.length + len, `listSize(${len})`);
      const buf = Buffer.alloc(5);
      const n = writeHeader(buf, 0, len, 0x80);
      assert.equal(toHex(buf.subarray(0, n)), toHex(strHeader), `string header of ${len}`);
      const m = writeHeader(buf, 0, len, 0xc0);
      // A list header is the string header with 0x40 added to its first byte.
      const listHeader = Buffer.concat([Buffer.from([strHeader[0] + 0x40]), strHeader.subarray(1)]);
      assert.equal(toHex(buf.subarray(0, m)), toHex(listHeader), `list header of ${len}`);
    };
    for (const len of [0, 1, 55, 56, 255, 256, 65535, 65536, 0xffffff]) check(len);
    fc.assert(fc.property(fc.oneof(fc.nat(300), fc.integer({ min: 0, max: 70000 })), (len) => check(len)), { numRuns: 100 });
  });

  it('encodes nested structures of bytes and integers (encodeRlp) as rlp.encode does', () => {
    type In = Uint8Array | number | bigint | In[];
    const input: fc.Arbitrary<In> = fc.letrec<{ x: In }>((tie) => ({
      x: fc.oneof(
        { depthSize: 'small' },
        fc.uint8Array({ maxLength: 70 }),
        fc.maxSafeNat(),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.array(tie('x'), { maxLength: 5 }),
      ),
    })).x;
    const toRlpInput = (x: In): rlp.Input => (Array.isArray(x) ? x.map(toRlpInput) : typeof x === 'number' ? BigInt(x) : x);
    fc.assert(
      fc.property(input, (x) => {
        assert.equal(toHex(encodeRlp(x)), toHex(rlp.encode(toRlpInput(x))));
      }),
      { numRuns: 200 },
    );
  });
});
