/**
 * The devp2p-compatible primitives of src/dpt (message codec, customCrypto
 * backend, util helpers, KBucket, BanList), checked against the installed
 * `@ethereumjs/devp2p` they replace: same bytes, same decoded shapes, same
 * error messages.
 */
import * as assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import type { Common as EthjsCommon } from '@ethereumjs/common';
import { Crypto, NativeStatus, keccak256, nativeCrypto, nodeIdFromPrivateKey } from '../../src/crypto';
import { ipToBytes as wireIpToBytes } from '../../src/wire/ip';
import { encodeRlp, RlpInput } from '../../src/wire/rlp';
import { BAN_LIST_MAX_SIZE, BanList } from '../../src/dpt/ban-list';
import { CommonLike, CustomCrypto, cryptoFromCommon } from '../../src/dpt/crypto';
import { KBUCKET_SIZE, KBucket } from '../../src/dpt/kbucket';
import { decode, encode } from '../../src/dpt/message';
import {
  PeerInfo,
  bytesToUnprefixedHex,
  genPrivateKey,
  id2pk,
  ipToBytes,
  ipToString,
  isV4Format,
  isV6Format,
  pk2id,
  xor,
  zfill,
} from '../../src/dpt/util';
import { nobleKeccak256, nobleSecp256k1 } from '../helpers/noble-crypto';
import { Eip8Vectors, NegativeVectors, hex, loadVectors } from '../helpers/vectors';
import { prng } from '../helpers/prng';

/** The parts of @ethereumjs/devp2p compared against (its CJS build). */
interface Devp2p {
  encode(typename: string, data: unknown, privateKey: Uint8Array, common?: unknown): Uint8Array;
  decode(bytes: Uint8Array, common?: unknown): { typename: string; data: unknown; publicKey: Uint8Array };
  pk2id(pk: Uint8Array): Uint8Array;
  id2pk(id: Uint8Array): Uint8Array;
  zfill(bytes: Uint8Array, size: number, leftpad?: boolean): Uint8Array;
  xor(a: Uint8Array, b: Uint8Array): Uint8Array;
  ipToString(bytes: Uint8Array): string;
  ipToBytes(ip: string): Uint8Array;
  isV4Format(ip: string): boolean;
  isV6Format(ip: string): boolean;
  KBucket: { getKeys(obj: Uint8Array | string | PeerInfo): string[] };
}
const ethjs = require('@ethereumjs/devp2p') as Devp2p;
const { Common, Mainnet } = require('@ethereumjs/common') as typeof import('@ethereumjs/common');

// ------------------------------------------------------------------ helpers


class Gen {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  privateKey(): Uint8Array {
    // Any 32 random bytes but 0 and >= n, which these never are in practice.
    return this.bytes(32);
  }
  /** 16 IPv6 bytes with runs of zero groups, so every `::` placement occurs. */
  ipv6Bytes(): Uint8Array {
    const b = this.bytes(16);
    for (let g = 0; g < 8; g++) {
      if (this.int(3) === 0) b[2 * g] = b[2 * g + 1] = 0;
    }
    return b;
  }
  address(): string {
    return this.int(2) === 0 ? ipToString(this.bytes(4)) : ipToString(this.ipv6Bytes());
  }
  port(): number | null | undefined {
    const r = this.int(5);
    return r === 0 ? null : r === 1 ? undefined : this.int(65536);
  }
  endpoint(): PeerInfo {
    return { address: this.address(), udpPort: this.port(), tcpPort: this.port() };
  }
  timestamp(): number {
    return this.int(2 ** 32);
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; name: string; message: string };

function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, name: (err as Error).constructor.name, message: (err as Error).message };
  }
}

function messageOf(fn: () => unknown): string {
  const o = outcome(fn);
  assert.ok(!o.ok, 'expected a throw');
  return o.message;
}

/** A sealed packet with any type byte and RLP body (for inputs encode refuses to make). */
function sealed(type: number, body: RlpInput, key: Uint8Array, crypto: Crypto = nativeCrypto): Uint8Array {
  const data = encodeRlp(body);
  const packet = new Uint8Array(98 + data.length);
  packet[97] = type;
  packet.set(data, 98);
  assert.equal(crypto.seal(packet, 0, packet.length, key), NativeStatus.Ok);
  return packet;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

const KEY = hex('b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291');
const V4 = Uint8Array.of(10, 0, 0, 1);
const PORT = Uint8Array.of(0x76, 0x5f);

/** customCrypto hooks on noble, counting their calls. */
function nobleHooks(shape: 'ecsign' | 'ecdsaSign') {
  const calls = { keccak256: 0, ecsign: 0, ecdsaSign: 0, ecdsaRecover: 0 };
  const signRecovered = (hash: Uint8Array, key: Uint8Array): Uint8Array =>
    nobleSecp256k1.sign(hash, key, { prehash: false, lowS: true, format: 'recovered' });
  const hooks: CustomCrypto = {
    keccak256: (msg) => {
      calls.keccak256++;
      return nobleKeccak256(msg);
    },
    ecdsaRecover: (sig, recId, hash, compressed = true) => {
      calls.ecdsaRecover++;
      const rec = new Uint8Array(65);
      rec[0] = recId;
      rec.set(sig, 1);
      return nobleSecp256k1.Signature.fromBytes(rec, 'recovered').recoverPublicKey(hash).toBytes(compressed);
    },
  };
  if (shape === 'ecsign') {
    // devp2p 10.x: { r, s, recovery } with bigint scalars.
    hooks.ecsign = (hash, key) => {
      calls.ecsign++;
      const sig = nobleSecp256k1.Signature.fromBytes(signRecovered(hash, key), 'recovered');
      return { r: sig.r, s: sig.s, recovery: sig.recovery };
    };
  } else {
    // devp2p 6.x / secp256k1-node: { signature: r || s, recid }.
    hooks.ecdsaSign = (hash, key) => {
      calls.ecdsaSign++;
      const rec = signRecovered(hash, key);
      return { signature: rec.subarray(1), recid: rec[0] };
    };
  }
  return { hooks, calls };
}

/** One random input per typename, in encode's shape. */
function randomMessages(g: Gen): Array<[string, unknown]> {
  const peers: PeerInfo[] = [];
  for (let i = g.int(13); i > 0; i--) peers.push({ ...g.endpoint(), id: g.bytes(64) });
  return [
    ['ping', { version: g.int(300), from: g.endpoint(), to: g.endpoint(), timestamp: g.timestamp() }],
    ['pong', { to: g.endpoint(), hash: g.bytes(32), timestamp: g.timestamp() }],
    ['findneighbours', { id: g.bytes(64), timestamp: g.timestamp() }],
    ['neighbours', { peers, timestamp: g.timestamp() }],
  ];
}

// ------------------------------------------------------------------ message

describe('dpt/message: devp2p encode/decode', () => {
  it('encodes all four types byte-identically to @ethereumjs/devp2p (IPv4/IPv6 endpoints, null and absent ports)', () => {
    const g = new Gen(1);
    let v6 = 0;
    let nullPorts = 0;
    for (let round = 0; round < 25; round++) {
      const key = g.privateKey();
      for (const [typename, data] of randomMessages(g)) {
        const ours = encode(typename, data, key);
        assert.deepEqual(ours, ethjs.encode(typename, data, key), `${typename} round ${round}`);
        const text = JSON.stringify(data);
        if (text.includes(':')) v6++;
        if (text.includes('null')) nullPorts++;
      }
    }
    assert.ok(v6 > 10 && nullPorts > 10, 'the inputs cover IPv6 addresses and null ports');
  });

  it('returns a plain Uint8Array, as devp2p does', () => {
    const out = encode('findneighbours', { id: new Uint8Array(64), timestamp: 1 }, KEY);
    assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
  });

  it('decodes its own packets and devp2p\'s to exactly what devp2p decodes', () => {
    const g = new Gen(2);
    for (let round = 0; round < 15; round++) {
      const key = g.privateKey();
      for (const [typename, data] of randomMessages(g)) {
        for (const packet of [encode(typename, data, key), ethjs.encode(typename, data, key)]) {
          const ours = decode(packet);
          assert.deepStrictEqual(ours, ethjs.decode(packet));
          assert.equal(ours.typename, typename);
          assert.deepEqual(ours.publicKey, id2pk(nodeIdFromPrivateKey(key)));
        }
      }
    }
  });

  it('decodes the shapes devp2p documents: endpoints, numeric timestamps, pong.hash, neighbours.peers[{endpoint, id}]', () => {
    const id = new Uint8Array(64).fill(9);
    const hash = new Uint8Array(32).fill(3);
    const to = { address: '::ffff:1.2.3.4', udpPort: 30303, tcpPort: null };
    const pong = decode(encode('pong', { to, hash, timestamp: 77 }, KEY));
    assert.deepStrictEqual(pong.data, { to: { address: '::ffff:102:304', udpPort: 30303, tcpPort: null }, hash, timestamp: 77 });
    const nb = decode(encode('neighbours', { peers: [{ id, address: '10.0.0.1', udpPort: 1, tcpPort: 2 }], timestamp: 5 }, KEY));
    assert.deepStrictEqual(nb.data, {
      peers: [{ endpoint: { address: '10.0.0.1', udpPort: 1, tcpPort: 2 }, id }],
      timestamp: 5,
    });
    assert.equal(nb.publicKey.length, 65);
    assert.equal(nb.publicKey[0], 0x04);
  });

  it('defaults the timestamp to now + 60 s', () => {
    const before = Math.floor(Date.now() / 1000) + 60;
    const { data } = decode(encode('findneighbours', { id: new Uint8Array(64) }, KEY));
    const after = Math.floor(Date.now() / 1000) + 60;
    assert.ok(data.timestamp >= before && data.timestamp <= after, `timestamp ${data.timestamp}`);
  });

  it('accepts EIP-8 extra list elements and trailing data, and ignores expiry, as devp2p does', () => {
    const vectors = loadVectors<Eip8Vectors>('discv4-eip8-packets').vectors;
    assert.ok(vectors.length >= 6);
    for (const v of vectors) {
      const packet = new Uint8Array(hex(v.packet));
      const ours = decode(packet);
      assert.deepStrictEqual(ours, ethjs.decode(packet), v.name);
      assert.deepEqual(ours.publicKey, id2pk(hex(v.nodeId)), v.name);
    }
  });

  it('agrees with devp2p on every negative vector: same result, or both throw (same message where devp2p words it)', () => {
    const vectors = loadVectors<NegativeVectors>('negative-packets').vectors;
    const wordedByDevp2p = /^(Hash verification failed|Invalid type|Invalid address bytes|Invalid timestamp bytes)/;
    for (const v of vectors) {
      const packet = new Uint8Array(hex(v.packet));
      const ours = outcome(() => decode(packet));
      const theirs = outcome(() => ethjs.decode(packet));
      assert.equal(ours.ok, theirs.ok, `${v.name}: ${JSON.stringify([ours, theirs]).slice(0, 300)}`);
      if (ours.ok && theirs.ok) assert.ok(isDeepStrictEqual(ours.value, theirs.value), v.name);
      if (!ours.ok && !theirs.ok && wordedByDevp2p.test(theirs.message)) assert.equal(ours.message, theirs.message, v.name);
    }
  });

  describe('error messages (matched by text in applications)', () => {
    const packet = encode('ping', { version: 4, from: { address: '1.2.3.4' }, to: { address: '5.6.7.8' }, timestamp: 9 }, KEY);

    it('Hash verification failed: 0x<packet[0:32]> / 0x<keccak256(packet[32:])>', () => {
      const bad = packet.slice();
      bad[5] ^= 0x01;
      const expected = `Hash verification failed: 0x${bytesToUnprefixedHex(bad.subarray(0, 32))} / 0x${bytesToUnprefixedHex(keccak256(bad.subarray(32)))}`;
      assert.equal(messageOf(() => decode(bad)), expected);
      assert.equal(messageOf(() => ethjs.decode(bad)), expected);
    });

    it('Invalid type: <n> for type 9 and for the ENR types 5 and 6', () => {
      for (const type of [9, 5, 6]) {
        const p = sealed(type, [u32(1)], KEY);
        assert.equal(messageOf(() => decode(p)), `Invalid type: ${type}`);
        assert.equal(messageOf(() => ethjs.decode(p)), `Invalid type: ${type}`);
      }
    });

    it('Invalid address bytes: 0x<hex> for a 3-byte address', () => {
      const p = sealed(0x01, [4, [Uint8Array.of(1, 2, 3), PORT, PORT], [V4, PORT, PORT], u32(1)], KEY);
      assert.equal(messageOf(() => decode(p)), 'Invalid address bytes: 0x010203');
      assert.equal(messageOf(() => ethjs.decode(p)), 'Invalid address bytes: 0x010203');
    });

    it('accepts an address sent as text, as devp2p does for old clients', () => {
      const p = sealed(0x02, [[Buffer.from('10.1.2.3'), PORT, PORT], new Uint8Array(32), u32(1)], KEY);
      assert.equal(decode(p).data.to.address, '10.1.2.3');
      assert.deepStrictEqual(decode(p), ethjs.decode(p));
    });

    it('RangeError "Invalid timestamp bytes :0x<hex>" for a 3-byte timestamp', () => {
      const p = sealed(0x03, [new Uint8Array(64), Uint8Array.of(0xaa, 0xbb, 0xcc)], KEY);
      assert.throws(() => decode(p), (e: Error) => e instanceof RangeError && e.message === 'Invalid timestamp bytes :0xaabbcc');
      assert.throws(() => ethjs.decode(p), (e: Error) => e instanceof RangeError && e.message === 'Invalid timestamp bytes :0xaabbcc');
    });

    it('Invalid typename, Invalid address and RangeError Invalid port on encode', () => {
      const cases: Array<[string, unknown, string]> = [
        ['findnode', { id: new Uint8Array(64) }, 'Invalid typename: findnode'],
        ['pong', { to: { address: 'localhost' }, hash: new Uint8Array(32) }, 'Invalid address: localhost'],
        ['pong', { to: {}, hash: new Uint8Array(32) }, 'Invalid address: undefined'],
        ['pong', { to: { address: '1.2.3.4', udpPort: 70000 }, hash: new Uint8Array(32) }, 'Invalid port: 70000'],
        ['ping', { version: -1, from: { address: '1.2.3.4' }, to: { address: '1.2.3.4' } }, 'Received an invalid integer type: -1'],
      ];
      for (const [typename, data, message] of cases) {
        const ours = outcome(() => encode(typename, data, KEY));
        const theirs = outcome(() => ethjs.encode(typename, data, KEY));
        assert.ok(!ours.ok && !theirs.ok);
        assert.equal(ours.message, message);
        assert.equal(theirs.message, message);
        if (message.startsWith('Invalid port')) assert.equal(ours.name, 'RangeError');
      }
    });
  });

  describe('common.customCrypto hooks', () => {
    const g = new Gen(3);

    for (const shape of ['ecsign', 'ecdsaSign'] as const) {
      it(`uses keccak256, ${shape} and ecdsaRecover hooks, and the packets still interoperate`, () => {
        const { hooks, calls } = nobleHooks(shape);
        const common: CommonLike = { customCrypto: hooks };
        for (const [typename, data] of randomMessages(g)) {
          const key = g.privateKey();
          const before = { ...calls };
          const packet = encode(typename, data, key, common);
          assert.equal(calls.keccak256 - before.keccak256, 2, 'sighash and packet hash');
          assert.equal(calls[shape] - before[shape], 1);
          // Deterministic signatures: the hooks give the very bytes of the native path and of devp2p.
          assert.deepEqual(packet, encode(typename, data, key));
          assert.deepEqual(packet, ethjs.encode(typename, data, key));

          const mid = { ...calls };
          const ours = decode(packet, common);
          assert.equal(calls.keccak256 - mid.keccak256, 2);
          assert.equal(calls.ecdsaRecover - mid.ecdsaRecover, 1);
          assert.deepStrictEqual(ours, ethjs.decode(packet));
          assert.deepStrictEqual(ours, decode(packet));
        }
      });
    }

    it('prefers ecsign (devp2p 10.x) over ecdsaSign (6.x) when both are given', () => {
      const a = nobleHooks('ecsign');
      const b = nobleHooks('ecdsaSign');
      const common = { customCrypto: { ecsign: a.hooks.ecsign, ecdsaSign: b.hooks.ecdsaSign } };
      encode('findneighbours', { id: new Uint8Array(64), timestamp: 1 }, KEY, common);
      assert.deepEqual([a.calls.ecsign, b.calls.ecdsaSign], [1, 0]);
    });

    it('accepts ecsign results as bytes: r || s || recovery (Common 10.1) and bare 64-byte r || s (noble v2)', () => {
      const data = { id: new Uint8Array(64).fill(1), timestamp: 2 };
      const want = encode('findneighbours', data, KEY);
      const recovered = (h: Uint8Array, k: Uint8Array) => nobleSecp256k1.sign(h, k, { prehash: false, format: 'recovered' });
      const shapes: Array<[string, CustomCrypto['ecsign']]> = [
        ['r || s || recovery', (h, k) => Uint8Array.from([...recovered(h, k).subarray(1), recovered(h, k)[0]])],
        ['r || s || v (27/28)', (h, k) => Uint8Array.from([...recovered(h, k).subarray(1), recovered(h, k)[0] + 27])],
        ['compact r || s', (h, k) => nobleSecp256k1.sign(h, k, { prehash: false })],
      ];
      for (const [label, ecsign] of shapes) {
        for (let i = 0; i < 8; i++) {
          const key = new Gen(100 + i).privateKey();
          assert.deepEqual(encode('findneighbours', data, key, { customCrypto: { ecsign } }), encode('findneighbours', data, key), label);
        }
        assert.deepEqual(encode('findneighbours', data, KEY, { customCrypto: { ecsign } }), want, label);
      }
      // noble v2's sign prehashes by default: a signature over sha256(hash) is caught, not sent.
      const prehashed: CustomCrypto['ecsign'] = (h, k) => nobleSecp256k1.sign(h, k);
      assert.throws(() => encode('findneighbours', data, KEY, { customCrypto: { ecsign: prehashed } }), /does not verify/);
    });

    it('takes a real @ethereumjs/common Common (its types and its hooks) and makes the same calls devp2p does', () => {
      const { hooks, calls } = nobleHooks('ecsign');
      const common = new Common({
        chain: Mainnet,
        customCrypto: { keccak256: hooks.keccak256, ecdsaRecover: hooks.ecdsaRecover },
      });
      // Compile-time: a Common is a CommonLike, so DPT options typed for devp2p keep compiling.
      const asCommonLike: CommonLike = common satisfies EthjsCommon;
      const packet = encode('ping', { version: 4, from: { address: '1.2.3.4' }, to: { address: '::1' }, timestamp: 3 }, KEY, asCommonLike);
      assert.deepEqual(packet, ethjs.encode('ping', { version: 4, from: { address: '1.2.3.4' }, to: { address: '::1' }, timestamp: 3 }, KEY, common));
      assert.deepStrictEqual(decode(packet, asCommonLike), ethjs.decode(packet, common));
      assert.equal(calls.keccak256, 2 * 4, 'two per encode and two per decode, ours and devp2p\'s');
      assert.equal(calls.ecdsaRecover, 2);
    });
  });
});

// ------------------------------------------------------------------ crypto

describe('dpt/crypto: cryptoFromCommon', () => {
  it('returns undefined without hooks, so callers keep the native path', () => {
    assert.equal(cryptoFromCommon(), undefined);
    assert.equal(cryptoFromCommon({}), undefined);
    assert.equal(cryptoFromCommon({ customCrypto: {} }), undefined);
  });

  const { hooks } = nobleHooks('ecsign');
  const ecdsa = nobleHooks('ecdsaSign').hooks;
  const variants: Array<[string, CustomCrypto]> = [
    ['keccak256 only', { keccak256: hooks.keccak256 }],
    ['ecsign only', { ecsign: hooks.ecsign }],
    ['ecdsaSign only', { ecdsaSign: ecdsa.ecdsaSign }],
    ['ecdsaRecover only', { ecdsaRecover: hooks.ecdsaRecover }],
    ['all hooks', hooks],
  ];

  for (const [label, custom] of variants) {
    it(`seals packets that nativeCrypto opens and opens nativeCrypto's (${label})`, () => {
      const c = cryptoFromCommon({ customCrypto: custom })!;
      assert.ok(c);
      const g = new Gen(label.length);
      for (let i = 0; i < 5; i++) {
        const key = g.privateKey();
        const id = nodeIdFromPrivateKey(key);
        const body = [g.bytes(g.int(40)), u32(g.timestamp())];
        const mine = sealed(0x03, body, key, c);
        const native = sealed(0x03, body, key, nativeCrypto);
        assert.deepEqual(mine, native, 'same deterministic bytes');
        for (const [sealer, opener] of [
          [c, nativeCrypto],
          [nativeCrypto, c],
        ] as const) {
          const p = sealed(0x03, body, key, sealer);
          const out = new Uint8Array(64);
          assert.equal(opener.open(p, 0, p.length, out, 0), NativeStatus.Ok);
          assert.deepEqual(out, new Uint8Array(id));
        }
      }
    });
  }

  it('reports the native status codes from open: TooSmall, TooLarge, BadHash, BadSignature, Range', () => {
    const c = cryptoFromCommon({ customCrypto: hooks })!;
    const out = new Uint8Array(64);
    const p = sealed(0x01, [u32(1)], KEY);
    assert.equal(c.open(p, 0, 97, out, 0), NativeStatus.TooSmall);
    assert.equal(c.open(new Uint8Array(1281), 0, 1281, out, 0), NativeStatus.TooLarge);
    const badHash = p.slice();
    badHash[0] ^= 1;
    assert.equal(c.open(badHash, 0, badHash.length, out, 0), NativeStatus.BadHash);
    for (const mutate of [(b: Uint8Array) => (b[96] = 7), (b: Uint8Array) => b.fill(0, 32, 64)]) {
      const bad = p.slice();
      mutate(bad);
      // Re-hash so the signature, not the hash, is what fails.
      bad.set(keccak256(bad.subarray(32)), 0);
      assert.equal(c.open(bad, 0, bad.length, out, 0), NativeStatus.BadSignature);
      assert.equal(nativeCrypto.open(bad, 0, bad.length, out, 0), NativeStatus.BadSignature);
    }
    assert.equal(c.open(p, 0, p.length, new Uint8Array(10), 0), NativeStatus.Range);
  });

  it('returns BadKey for a zero or out-of-range key without calling the signing hook', () => {
    const { hooks: h, calls } = nobleHooks('ecsign');
    const c = cryptoFromCommon({ customCrypto: h })!;
    const n = hex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
    for (const key of [new Uint8Array(32), n]) {
      assert.equal(c.signInto(new Uint8Array(32), key, new Uint8Array(65), 0), NativeStatus.BadKey);
      assert.equal(nativeCrypto.signInto(new Uint8Array(32), key, new Uint8Array(65), 0), NativeStatus.BadKey);
    }
    assert.equal(calls.ecsign, 0);
    assert.throws(() => encode('findneighbours', { id: new Uint8Array(64) }, n, { customCrypto: h }), /not a valid secp256k1 key/);
  });

  it('derives public keys natively (devp2p has no hook for it)', () => {
    const c = cryptoFromCommon({ customCrypto: hooks })!;
    assert.equal(c.publicKeyInto, nativeCrypto.publicKeyInto);
  });
});

// ------------------------------------------------------------------ util

describe('dpt/util: devp2p helpers', () => {
  it('pk2id and id2pk agree with devp2p for uncompressed and compressed keys of both parities', () => {
    const g = new Gen(4);
    const parities = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const key = g.privateKey();
      const full = nobleSecp256k1.getPublicKey(key, false);
      const compressed = nobleSecp256k1.getPublicKey(key, true);
      parities.add(compressed[0]);
      const id = new Uint8Array(nodeIdFromPrivateKey(key));
      assert.deepEqual(pk2id(full), id);
      assert.deepEqual(pk2id(compressed), id);
      assert.deepEqual(pk2id(compressed), ethjs.pk2id(compressed));
      assert.deepEqual(pk2id(full), ethjs.pk2id(full));
      assert.deepEqual(id2pk(id), full);
      assert.deepEqual(id2pk(id), ethjs.id2pk(id));
    }
    assert.deepEqual([...parities].sort(), [2, 3]);
  });

  it('pk2id rejects a compressed key whose x is not on the curve', () => {
    // x = 5: 5^3 + 7 = 132 is not a square mod p.
    const bad = new Uint8Array(33);
    bad[0] = 0x02;
    bad[32] = 5;
    assert.throws(() => pk2id(bad), /not on the curve/);
    assert.throws(() => ethjs.pk2id(bad));
  });

  it('ipToString matches devp2p on IPv4 and IPv6 bytes, leftmost zero run compressed', () => {
    const g = new Gen(5);
    for (let i = 0; i < 500; i++) {
      const b = i % 5 === 0 ? g.bytes(4) : g.ipv6Bytes();
      assert.equal(ipToString(b), ethjs.ipToString(b), bytesToUnprefixedHex(b));
    }
    // The later, longer run stays: devp2p's form, not RFC 5952's 1:0:0:2::.
    assert.equal(ipToString(hex('00010000000000020000000000000000')), '1::2:0:0:0:0');
    assert.equal(ipToString(new Uint8Array(5)), '');
  });

  it('ipToBytes matches devp2p on valid addresses and round-trips ipToString', () => {
    const texts = [
      '0.0.0.0', '127.0.0.1', '255.255.255.255', '10.1.2.3',
      '::', '::1', '1::', 'fe80::1', '2001:db8::ff00:42:8329', '2001:0db8:0000:0000:0000:ff00:0042:8329',
      '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', 'FE80::ABCD', '1:2:3:4:5:6:7::', '::3:4:5:6:7:8',
    ];
    for (const t of texts) {
      assert.deepEqual(ipToBytes(t), ethjs.ipToBytes(t), t);
      assert.ok(isV4Format(t) === ethjs.isV4Format(t) && isV6Format(t) === ethjs.isV6Format(t), t);
    }
    const g = new Gen(6);
    for (let i = 0; i < 300; i++) {
      const b = g.ipv6Bytes();
      assert.deepEqual(ipToBytes(ipToString(b)), b);
      assert.deepEqual(ethjs.ipToBytes(ipToString(b)), b);
    }
  });

  it('ipToBytes parses forms devp2p gets wrong, and rejects text that is no address', () => {
    // devp2p splits at most 8 sections and drops the last group here.
    assert.deepEqual(ipToBytes('::2:3:4:5:6:7:8'), new Uint8Array(wireIpToBytes('::2:3:4:5:6:7:8')));
    assert.notDeepEqual(ethjs.ipToBytes('::2:3:4:5:6:7:8'), ipToBytes('::2:3:4:5:6:7:8'));
    assert.throws(() => ipToBytes('localhost'), /^InvalidArgumentError: Invalid ip format: localhost$/);
    assert.equal(isV6Format(''), false);
    assert.equal(isV6Format('fe80::1%eth0'), false);
  });

  it('zfill and xor match devp2p', () => {
    const b = Uint8Array.of(1, 2, 3);
    assert.deepEqual(zfill(b, 6), ethjs.zfill(b, 6));
    assert.deepEqual(zfill(b, 6, false), ethjs.zfill(b, 6, false));
    assert.equal(zfill(b, 2), b);
    assert.deepEqual(xor(b, Uint8Array.of(3, 3)), ethjs.xor(b, Uint8Array.of(3, 3)));
  });

  it('genPrivateKey gives a fresh valid 32-byte key', () => {
    const a = genPrivateKey();
    assert.equal(a.length, 32);
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
    assert.notDeepEqual(a, genPrivateKey());
    assert.equal(nodeIdFromPrivateKey(a).length, 64);
  });
});

// ------------------------------------------------------------------ kbucket

/** Ids whose keccak256 lies at log distance 256 from keccak256(local): half of all ids. */
function farIds(local: Uint8Array, count: number, g: Gen): Uint8Array[] {
  const top = keccak256(local)[0] & 0x80;
  const out: Uint8Array[] = [];
  while (out.length < count) {
    const id = g.bytes(64);
    if ((keccak256(id)[0] & 0x80) !== top) out.push(id);
  }
  return out;
}

function keccakDistance(a: Uint8Array, b: Uint8Array): bigint {
  return BigInt(`0x${bytesToUnprefixedHex(keccak256(a))}`) ^ BigInt(`0x${bytesToUnprefixedHex(keccak256(b))}`);
}

describe('dpt/kbucket: KBucket', () => {
  const g = new Gen(7);
  const local = g.bytes(64);

  it('getKeys gives devp2p\'s keys for bytes, strings and PeerInfo', () => {
    const id = g.bytes(64);
    const inputs: Array<Uint8Array | string | PeerInfo> = [
      id,
      'abc',
      { id },
      { id, address: '1.2.3.4', tcpPort: 30303 },
      { address: '1.2.3.4', tcpPort: 30303 },
      { address: '1.2.3.4', tcpPort: null, udpPort: 1 },
      { id, address: '1.2.3.4' },
      {},
    ];
    for (const input of inputs) assert.deepEqual(KBucket.getKeys(input), ethjs.KBucket.getKeys(input));
  });

  it('adds a peer, emits added, and finds it by id bytes, id hex, address:tcpPort and PeerInfo', () => {
    const kb = new KBucket(local);
    const added: PeerInfo[] = [];
    kb.events.on('added', (p) => added.push(p));
    const peer = { id: g.bytes(64), address: '10.0.0.1', udpPort: 30301, tcpPort: 30303 };
    kb.add(peer);
    assert.deepEqual(added, [peer]);
    assert.equal(kb.get(peer.id), peer);
    assert.equal(kb.get(bytesToUnprefixedHex(peer.id)), peer);
    assert.equal(kb.get('10.0.0.1:30303'), peer);
    assert.equal(kb.get({ address: '10.0.0.1', tcpPort: 30303 }), peer);
    assert.equal(kb.get(g.bytes(64)), null);
    assert.deepEqual(kb.getAll(), [peer]);
  });

  it('throws "Contact must have an id" for a new peer without id, and ignores a peer whose address:tcpPort another id holds', () => {
    const kb = new KBucket(local);
    assert.throws(() => kb.add({ address: '1.2.3.4', tcpPort: 1 }), /^Error: Contact must have an id$/);
    const a = { id: g.bytes(64), address: '1.2.3.4', tcpPort: 1 };
    kb.add(a);
    kb.add({ address: '1.2.3.4', tcpPort: 1 });
    kb.add({ id: g.bytes(64), address: '1.2.3.4', tcpPort: 1 });
    assert.deepEqual(kb.getAll(), [a]);
  });

  it('returns the 16 closest contacts by keccak256 distance, nearest first (brute-force check)', () => {
    const kb = new KBucket(local);
    for (let i = 0; i < 300; i++) kb.add({ id: g.bytes(64) });
    const all = kb.getAll();
    assert.ok(all.length > 40, `${all.length} contacts`);
    for (let t = 0; t < 20; t++) {
      const target = t === 0 ? all[7].id! : g.bytes(64);
      const expected = [...all]
        .sort((a, b) => {
          const da = keccakDistance(a.id!, target);
          const db = keccakDistance(b.id!, target);
          return da < db ? -1 : da > db ? 1 : 0;
        })
        .slice(0, KBUCKET_SIZE);
      assert.deepEqual(kb.closest(target), expected);
    }
    assert.equal(kb.closest(all[7].id!)[0], all[7]);
  });

  it('emits ping with the 3 least recently seen contacts and the newcomer when a bucket is full, and does not add it', () => {
    const kb = new KBucket(local);
    const ids = farIds(local, KBUCKET_SIZE + 1, g);
    const peers = ids.map((id, i) => ({ id, address: '10.0.0.2', tcpPort: i }));
    for (const p of peers.slice(0, KBUCKET_SIZE)) kb.add(p);
    const pings: Array<[PeerInfo[], PeerInfo]> = [];
    kb.events.on('ping', (old, newcomer) => pings.push([old, newcomer]));
    kb.add(peers[KBUCKET_SIZE]);
    assert.deepEqual(pings, [[peers.slice(0, 3), peers[KBUCKET_SIZE]]]);
    assert.equal(kb.get(peers[KBUCKET_SIZE].id), null);
    assert.equal(kb.getAll().length, KBUCKET_SIZE);
  });

  it('moves a re-added contact to the most recently seen end and keeps its new fields', () => {
    const kb = new KBucket(local);
    const ids = farIds(local, KBUCKET_SIZE + 1, g);
    for (const id of ids.slice(0, KBUCKET_SIZE)) kb.add({ id, address: '10.0.0.3', tcpPort: 1 + ids.indexOf(id) });
    const added: PeerInfo[] = [];
    kb.events.on('added', (p) => added.push(p));
    const updated = { id: ids[0], address: '10.9.9.9', tcpPort: 999 };
    kb.add(updated);
    assert.deepEqual(added, [], 'a refresh is not an addition');
    assert.equal(kb.get('10.9.9.9:999'), updated);
    assert.equal(kb.get('10.0.0.3:1'), null, 'the old address key is gone');
    let oldest: PeerInfo[] = [];
    kb.events.on('ping', (old) => (oldest = old));
    kb.add({ id: ids[KBUCKET_SIZE] });
    assert.deepEqual(
      oldest.map((p) => p.id),
      [ids[1], ids[2], ids[3]],
    );
  });

  it('removes by any key, emits removed, and frees the bucket slot', () => {
    const kb = new KBucket(local);
    const ids = farIds(local, KBUCKET_SIZE + 1, g);
    const peers = ids.map((id, i) => ({ id, address: '10.0.0.4', tcpPort: i }));
    for (const p of peers.slice(0, KBUCKET_SIZE)) kb.add(p);
    const removed: PeerInfo[] = [];
    kb.events.on('removed', (p) => removed.push(p));
    kb.remove('10.0.0.4:0');
    kb.remove(peers[1].id);
    kb.remove(bytesToUnprefixedHex(peers[2].id));
    kb.remove(g.bytes(64));
    assert.deepEqual(removed, peers.slice(0, 3));
    assert.equal(kb.get(peers[1]), null);
    kb.add(peers[KBUCKET_SIZE]);
    assert.equal(kb.get(peers[KBUCKET_SIZE].id), peers[KBUCKET_SIZE]);
  });
});

// ------------------------------------------------------------------ ban list

describe('dpt/ban-list: BanList', () => {
  function fakeClock(start = 1_000_000) {
    const clock = { t: start, now: () => clock.t };
    return clock;
  }

  it('expires a ban after maxAge ms, lazily on access', () => {
    const clock = fakeClock();
    const bans = new BanList({ now: clock.now });
    bans.add('a', 1000);
    bans.add('b');
    clock.t += 1000;
    assert.equal(bans.has('a'), true, 'still banned at exactly maxAge');
    clock.t += 1;
    assert.equal(bans.size, 1);
    assert.equal(bans.has('a'), false);
    clock.t += 1e9;
    assert.equal(bans.has('b'), true, 'no maxAge: no expiry');
  });

  it('re-adding restarts the ban', () => {
    const clock = fakeClock();
    const bans = new BanList({ now: clock.now });
    bans.add('a', 100);
    clock.t += 90;
    bans.add('a', 100);
    clock.t += 90;
    assert.equal(bans.has('a'), true);
  });

  it('answers has() by id bytes, id hex, address:tcpPort or a PeerInfo with either', () => {
    const bans = new BanList();
    const id = new Gen(8).bytes(64);
    bans.add({ id, address: '1.2.3.4', tcpPort: 30303 }, 60_000);
    assert.equal(bans.has(id), true);
    assert.equal(bans.has(bytesToUnprefixedHex(id)), true);
    assert.equal(bans.has('1.2.3.4:30303'), true);
    assert.equal(bans.has({ address: '1.2.3.4', tcpPort: 30303 }), true);
    assert.equal(bans.has({ id }), true);
    assert.equal(bans.has({ address: '1.2.3.4', tcpPort: 30304 }), false);
    assert.equal(bans.size, 2);
  });

  it(`holds at most ${BAN_LIST_MAX_SIZE} keys, evicting the least recently used`, () => {
    const bans = new BanList();
    bans.add('first');
    bans.add('second');
    assert.equal(bans.has('first'), true, 'a hit makes first the most recently used');
    for (let i = 0; i < BAN_LIST_MAX_SIZE - 1; i++) bans.add(`k${i}`);
    assert.equal(bans.size, BAN_LIST_MAX_SIZE);
    assert.equal(bans.has('second'), false, 'evicted');
    assert.equal(bans.has('first'), true);
    const small = new BanList({ maxSize: 2 });
    small.add('x');
    small.add('y');
    small.add('z');
    assert.deepEqual([...small.entries()].map(([k]) => k), ['y', 'z']);
  });

  it('delete lifts a ban on every key; entries lists live bans with their expiry', () => {
    const clock = fakeClock(500);
    const bans = new BanList({ now: clock.now });
    const id = Uint8Array.of(0xab);
    bans.add({ id, address: '::1', tcpPort: 1 }, 100);
    bans.add('gone', 10);
    bans.add('forever');
    clock.t += 50;
    assert.deepEqual([...bans.entries()], [
      ['ab', 600],
      ['::1:1', 600],
      ['forever', undefined],
    ]);
    assert.equal(bans.delete({ id }), true);
    assert.equal(bans.has('ab'), false);
    assert.equal(bans.has('::1:1'), true, 'only the keys of the argument are lifted');
    assert.equal(bans.delete('nothing'), false);
  });
});
