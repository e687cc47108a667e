import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import * as rlp from 'rlp';
import {
  DecodeStatus,
  DiscError,
  EndpointInput,
  HEAD_SIZE,
  MAX_PACKET_SIZE,
  NodeInput,
  Packet,
  PacketFieldsByType,
  PacketType,
  PacketView,
  decodePacket,
  encodePacket,
  ipToBytes,
  isValidPrivateKey,
  keccak256,
  nodeIdFromPrivateKey,
  packetFromView,
  readPacket,
  writePacket,
} from '../../src';
import { nobleCrypto } from '../helpers/noble-crypto';
import { AnyFields, int64Seconds, testKey } from '../helpers/packets';
import { toHex } from '../helpers/vectors';

const RUNS = 100;

// ---------------------------------------------------------------- arbitraries

const ip = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const port = fc.integer({ min: 0, max: 0xffff });
const endpoint: fc.Arbitrary<EndpointInput> = fc.record({ ip, udpPort: port, tcpPort: port }, { requiredKeys: ['ip', 'udpPort'] });
const id64 = fc.uint8Array({ minLength: 64, maxLength: 64 });
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const node: fc.Arbitrary<NodeInput> = fc.record({ ip, udpPort: port, tcpPort: port, id: id64 }, { requiredKeys: ['ip', 'udpPort', 'id'] });
/** Seconds: small, 32-bit, any safe integer as a number or bigint, and uint64 as a bigint. */
const expiration = fc.oneof(
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc.maxSafeNat(),
  fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const uint64 = fc.oneof(fc.maxSafeNat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0, 1, 127, 128, 255, 256));
const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => isValidPrivateKey(k));

/** A random RLP list: the shape of a node record, as far as the codec cares. */
const rlpItem = fc.letrec<{ item: unknown }>((tie) => ({
  item: fc.oneof({ depthSize: 'small' }, fc.uint8Array({ maxLength: 80 }), fc.array(tie('item'), { maxLength: 6 })),
})).item;
const record = fc
  .array(rlpItem, { maxLength: 8 })
  .map((items) => Buffer.from(rlp.encode(items as rlp.Input)))
  .filter((r) => r.length <= 1000);

const arbitraries: { [T in PacketType]: fc.Arbitrary<PacketFieldsByType[T]> } = {
  [PacketType.Ping]: fc.record(
    { version: fc.maxSafeNat(), from: endpoint, to: endpoint, expiration, enrSeq: uint64 },
    { requiredKeys: ['from', 'to', 'expiration'] },
  ),
  [PacketType.Pong]: fc.record({ to: endpoint, replyToken: hash32, expiration, enrSeq: uint64 }, { requiredKeys: ['to', 'replyToken', 'expiration'] }),
  [PacketType.Findnode]: fc.record({ target: id64, expiration }),
  [PacketType.Neighbors]: fc.record({ nodes: fc.array(node, { maxLength: 12 }), expiration }),
  [PacketType.EnrRequest]: fc.record({ expiration }),
  [PacketType.EnrResponse]: fc.record({ replyToken: hash32, record }),
};

// ---------------------------------------------------------------- oracles

const ipBytes = (x: Uint8Array | string): Buffer => (typeof x === 'string' ? ipToBytes(x) : Buffer.from(x));
const big = (x: number | bigint): bigint => BigInt(x);

/** The packet-data as an rlp-package structure: an independent encoding of the fields. */
function referenceData(f: AnyFields): rlp.Input {
  const ep = (e: EndpointInput) => [ipBytes(e.ip), big(e.udpPort), big(e.tcpPort ?? 0)];
  switch (f.type) {
    case PacketType.Ping: {
      const p = f.fields as PacketFieldsByType[PacketType.Ping];
      return [big(p.version ?? 4), ep(p.from), ep(p.to), big(p.expiration!), ...(p.enrSeq === undefined ? [] : [big(p.enrSeq)])];
    }
    case PacketType.Pong: {
      const p = f.fields as PacketFieldsByType[PacketType.Pong];
      return [ep(p.to), p.replyToken, big(p.expiration!), ...(p.enrSeq === undefined ? [] : [big(p.enrSeq)])];
    }
    case PacketType.Findnode: {
      const p = f.fields as PacketFieldsByType[PacketType.Findnode];
      return [p.target, big(p.expiration!)];
    }
    case PacketType.Neighbors: {
      const p = f.fields as PacketFieldsByType[PacketType.Neighbors];
      return [p.nodes.map((n) => [...ep(n), n.id]), big(p.expiration!)];
    }
    case PacketType.EnrRequest:
      return [big((f.fields as PacketFieldsByType[PacketType.EnrRequest]).expiration!)];
    case PacketType.EnrResponse: {
      const p = f.fields as PacketFieldsByType[PacketType.EnrResponse];
      // The record is RLP already (canonical here): its decoded structure re-encodes to it.
      return [p.replyToken, rlp.decode(p.record) as rlp.Input];
    }
  }
}

function referenceBody(f: AnyFields): Buffer {
  return Buffer.concat([Buffer.from([f.type]), Buffer.from(rlp.encode(referenceData(f)))]);
}

function assertEndpoint(actual: { ip: Buffer; udpPort: number; tcpPort: number }, want: EndpointInput, what: string): void {
  assert.equal(toHex(actual.ip), toHex(ipBytes(want.ip)), `${what}.ip`);
  assert.equal(actual.udpPort, want.udpPort, `${what}.udpPort`);
  assert.equal(actual.tcpPort, want.tcpPort ?? 0, `${what}.tcpPort`);
}

/** Decoded fields equal the encoded ones (numbers for expirations, bigint for enr-seq). */
function assertFields(p: Packet, f: AnyFields): void {
  assert.equal(p.type, f.type);
  assert.deepEqual(p.rest, []);
  switch (p.type) {
    case PacketType.Ping: {
      const w = f.fields as PacketFieldsByType[PacketType.Ping];
      assert.equal(p.version, w.version ?? 4);
      assertEndpoint(p.from, w.from, 'from');
      assertEndpoint(p.to, w.to, 'to');
      assert.equal(p.expiration, int64Seconds(w.expiration!));
      assert.equal(p.enrSeq, w.enrSeq === undefined ? undefined : BigInt(w.enrSeq));
      assert.equal('enrSeq' in p, w.enrSeq !== undefined);
      break;
    }
    case PacketType.Pong: {
      const w = f.fields as PacketFieldsByType[PacketType.Pong];
      assertEndpoint(p.to, w.to, 'to');
      assert.equal(toHex(p.replyToken), toHex(w.replyToken));
      assert.equal(p.expiration, int64Seconds(w.expiration!));
      assert.equal(p.enrSeq, w.enrSeq === undefined ? undefined : BigInt(w.enrSeq));
      break;
    }
    case PacketType.Findnode: {
      const w = f.fields as PacketFieldsByType[PacketType.Findnode];
      assert.equal(toHex(p.target), toHex(w.target));
      assert.equal(p.expiration, int64Seconds(w.expiration!));
      break;
    }
    case PacketType.Neighbors: {
      const w = f.fields as PacketFieldsByType[PacketType.Neighbors];
      assert.equal(p.nodes.length, w.nodes.length);
      p.nodes.forEach((n, i) => {
        assertEndpoint(n, w.nodes[i], `nodes[${i}]`);
        assert.equal(toHex(n.id), toHex(w.nodes[i].id));
      });
      assert.equal(p.expiration, int64Seconds(w.expiration!));
      break;
    }
    case PacketType.EnrRequest:
      assert.equal(p.expiration, int64Seconds((f.fields as PacketFieldsByType[PacketType.EnrRequest]).expiration!));
      break;
    case PacketType.EnrResponse: {
      const w = f.fields as PacketFieldsByType[PacketType.EnrResponse];
      assert.equal(toHex(p.replyToken), toHex(w.replyToken));
      assert.equal(toHex(p.record), toHex(w.record));
      break;
    }
  }
}

// ---------------------------------------------------------------- properties

describe('encodePacket -> decodePacket round trips', () => {
  for (const type of [
    PacketType.Ping,
    PacketType.Pong,
    PacketType.Findnode,
    PacketType.Neighbors,
    PacketType.EnrRequest,
    PacketType.EnrResponse,
  ]) {
    const name = PacketType[type];
    const fieldsArb = arbitraries[type] as fc.Arbitrary<PacketFieldsByType[PacketType]>;

    it(`decodes random ${name} packets to the encoded fields, the signer's id and the packet hash`, () => {
      fc.assert(
        fc.property(key, fieldsArb, (priv, fields) => {
          const f: AnyFields = { type, fields };
          const packet = encodePacket(type, fields, priv);
          assert.ok(packet.length <= MAX_PACKET_SIZE);
          const p = decodePacket(packet, { ignoreExpiration: true });
          assertFields(p, f);
          assert.ok(p.nodeId.equals(nodeIdFromPrivateKey(priv)));
          assert.ok(p.hash.equals(keccak256(packet.subarray(32))));
          assert.ok(p.hash.equals(packet.subarray(0, 32)));
        }),
        { numRuns: RUNS },
      );
    });

    it(`encodes random ${name} fields exactly as the rlp package encodes the same structure`, () => {
      fc.assert(
        fc.property(fieldsArb, (fields) => {
          const f: AnyFields = { type, fields };
          const buf = Buffer.alloc(MAX_PACKET_SIZE);
          const len = writePacket(buf, 0, type, fields);
          assert.equal(toHex(buf.subarray(HEAD_SIZE, len)), toHex(referenceBody(f)));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('seals the same bytes with the native and the noble backend, and each decodes the other', () => {
    const anyPacket = fc.oneof(
      ...([PacketType.Ping, PacketType.Pong, PacketType.Findnode, PacketType.Neighbors, PacketType.EnrRequest, PacketType.EnrResponse] as const).map(
        (type) => (arbitraries[type] as fc.Arbitrary<PacketFieldsByType[PacketType]>).map((fields): AnyFields => ({ type, fields })),
      ),
    );
    fc.assert(
      fc.property(key, anyPacket, (priv, f) => {
        const a = encodePacket(f.type, f.fields, priv);
        const b = encodePacket(f.type, f.fields, priv, nobleCrypto);
        assert.equal(toHex(a), toHex(b));
        assertFields(decodePacket(a, { ignoreExpiration: true, crypto: nobleCrypto }), f);
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes the same packet at any offset of a larger buffer written by writePacket', () => {
    fc.assert(
      fc.property(key, arbitraries[PacketType.Neighbors], fc.integer({ min: 0, max: 300 }), (priv, fields, off) => {
        const buf = Buffer.alloc(off + MAX_PACKET_SIZE + 50, 0xee);
        const len = writePacket(buf, off, PacketType.Neighbors, fields);
        // Nothing before the type byte or after the packet is touched.
        assert.ok(buf.subarray(0, off + HEAD_SIZE).every((x) => x === 0xee));
        assert.ok(buf.subarray(off + len).every((x) => x === 0xee));
        assert.equal(nobleCrypto.seal(buf, off, len, priv), 0);
        const alone = encodePacket(PacketType.Neighbors, fields, priv);
        assert.equal(toHex(buf.subarray(off, off + len)), toHex(alone));
      }),
      { numRuns: 50 },
    );
  });

  it('reuses one PacketView across packets of mixed types without carrying state over', () => {
    const anyPacket = fc.oneof(
      ...([PacketType.Ping, PacketType.Pong, PacketType.Findnode, PacketType.Neighbors, PacketType.EnrRequest, PacketType.EnrResponse] as const).map(
        (type) => (arbitraries[type] as fc.Arbitrary<PacketFieldsByType[PacketType]>).map((fields): AnyFields => ({ type, fields })),
      ),
    );
    const priv = testKey('roundtrip view reuse');
    fc.assert(
      fc.property(fc.array(anyPacket, { minLength: 2, maxLength: 6 }), (list) => {
        const view = new PacketView();
        for (const f of list) {
          const packet = encodePacket(f.type, f.fields, priv);
          assert.equal(readPacket(view, packet, 0, packet.length, -1), DecodeStatus.Ok);
          const p = packetFromView(view);
          assertFields(p, f);
          assert.deepEqual(p, decodePacket(packet, { ignoreExpiration: true }));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('builds a shorter ENRRequest from a PacketView that last held a ping with an enr-seq', () => {
    const priv = testKey('roundtrip view reuse');
    const view = new PacketView();
    const ping = encodePacket(
      PacketType.Ping,
      { from: { ip: '::1', udpPort: 30303 }, to: { ip: '::2', udpPort: 30303 }, expiration: 4102444800, enrSeq: 2n ** 63n },
      priv,
    );
    assert.equal(readPacket(view, ping, 0, ping.length, -1), DecodeStatus.Ok);
    assert.equal(packetFromView(view).type, PacketType.Ping);
    const req = encodePacket(PacketType.EnrRequest, { expiration: 4102444800 }, priv);
    assert.ok(req.length < ping.length);
    assert.equal(readPacket(view, req, 0, req.length, -1), DecodeStatus.Ok);
    const p = packetFromView(view);
    assert.equal(p.type, PacketType.EnrRequest);
    assert.equal('enrSeq' in p, false);
  });

  it('fills in version 4, tcp port 0 and an expiration 20 s from now when they are omitted', () => {
    const priv = testKey('roundtrip defaults');
    const before = Math.floor(Date.now() / 1000);
    const packet = encodePacket(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: 30303 }, to: { ip: '::1', udpPort: 30304 } }, priv);
    const after = Math.floor(Date.now() / 1000);
    const p = decodePacket(packet);
    assert.equal(p.type, PacketType.Ping);
    if (p.type !== PacketType.Ping) return;
    assert.equal(p.version, 4);
    assert.equal(p.from.tcpPort, 0);
    assert.equal(p.to.tcpPort, 0);
    assert.ok(p.expiration >= before + 20 && p.expiration <= after + 20, `expiration ${p.expiration}`);
    assert.equal('enrSeq' in p, false);
    for (const type of [PacketType.Findnode, PacketType.EnrRequest] as const) {
      const q = decodePacket(
        type === PacketType.Findnode ? encodePacket(type, { target: Buffer.alloc(64) }, priv) : encodePacket(type, {}, priv),
      );
      assert.ok('expiration' in q && q.expiration >= before + 20 && q.expiration <= after + 21);
    }
  });

  it('accepts IPs as text or bytes and encodes both the same', () => {
    const priv = testKey('roundtrip ips');
    for (const [text, bytes] of [
      ['192.0.2.1', Buffer.from([192, 0, 2, 1])],
      ['2001:db8::1', Buffer.from('20010db8000000000000000000000001', 'hex')],
    ] as const) {
      const a = encodePacket(PacketType.Pong, { to: { ip: text, udpPort: 1 }, replyToken: Buffer.alloc(32), expiration: 5 }, priv);
      const b = encodePacket(PacketType.Pong, { to: { ip: bytes, udpPort: 1 }, replyToken: Buffer.alloc(32), expiration: 5 }, priv);
      assert.ok(a.equals(b));
    }
  });
});

describe('neighbors size limit', () => {
  const priv = testKey('neighbors size');
  const v6node = (i: number): NodeInput => ({
    ip: Buffer.alloc(16, i + 1),
    udpPort: 0xffff,
    tcpPort: 0xffff,
    id: Buffer.alloc(64, i),
  });
  const v4node = (i: number): NodeInput => ({ ip: Buffer.alloc(4, i + 1), udpPort: 0xffff, tcpPort: 0xffff, id: Buffer.alloc(64, i) });

  for (const [kind, make] of [
    ['IPv6', v6node],
    ['IPv4', v4node],
  ] as const) {
    it(`encodes as many ${kind} nodes as fit in 1280 bytes and refuses one more with INVALID_ARGUMENT`, () => {
      const expiration = 2n ** 64n - 1n;
      const sizeOf = (n: number) => {
        const nodes = Array.from({ length: n }, (_, i) => make(i));
        const data = rlp.encode([nodes.map((x) => [x.ip as Uint8Array, big(x.udpPort), big(x.tcpPort!), x.id]), expiration]);
        return HEAD_SIZE + 1 + data.length;
      };
      let fit = 0;
      while (sizeOf(fit + 1) <= MAX_PACKET_SIZE) fit++;
      assert.ok(fit >= 12, `only ${fit} nodes fit`);
      const nodes = Array.from({ length: fit + 1 }, (_, i) => make(i));
      const ok = encodePacket(PacketType.Neighbors, { nodes: nodes.slice(0, fit), expiration }, priv);
      assert.equal(ok.length, sizeOf(fit));
      // The largest expiration makes the longest packet (it reads as past: geth's int64).
      const p = decodePacket(ok, { ignoreExpiration: true });
      assert.equal(p.type === PacketType.Neighbors ? p.nodes.length : -1, fit);
      assert.throws(
        () => encodePacket(PacketType.Neighbors, { nodes, expiration }, priv),
        (err: unknown) => err instanceof DiscError && err.code === 'INVALID_ARGUMENT',
      );
    });
  }

  it('refuses an ENRResponse whose record does not fit in 1280 bytes', () => {
    const limit = MAX_PACKET_SIZE - HEAD_SIZE - 1 - 3 - 33; // type, list header, token
    const rec = (payload: number) => Buffer.from(rlp.encode([Buffer.alloc(payload - 3, 0x42)]));
    const fits = rec(limit - 3);
    assert.equal(fits.length, limit);
    const ok = encodePacket(PacketType.EnrResponse, { replyToken: Buffer.alloc(32), record: fits }, priv);
    assert.equal(ok.length, MAX_PACKET_SIZE);
    assert.equal(decodePacket(ok).type, PacketType.EnrResponse);
    assert.throws(
      () => encodePacket(PacketType.EnrResponse, { replyToken: Buffer.alloc(32), record: rec(limit - 2) }, priv),
      (err: unknown) => err instanceof DiscError && err.code === 'INVALID_ARGUMENT',
    );
  });
});

describe('encoder argument validation', () => {
  const priv = testKey('encoder args');
  const to = { ip: '10.0.0.1', udpPort: 1 };
  const token = Buffer.alloc(32);
  const invalid = (type: PacketType, fields: unknown): (() => unknown) => () =>
    encodePacket(type, fields as PacketFieldsByType[PacketType], priv);

  const cases: [string, () => unknown][] = [
    ['a udp port of 65536', invalid(PacketType.Pong, { to: { ip: '10.0.0.1', udpPort: 65536 }, replyToken: token })],
    ['a negative tcp port', invalid(PacketType.Pong, { to: { ip: '10.0.0.1', udpPort: 1, tcpPort: -1 }, replyToken: token })],
    ['a fractional port', invalid(PacketType.Pong, { to: { ip: '10.0.0.1', udpPort: 1.5 }, replyToken: token })],
    ['a port given as a string', invalid(PacketType.Pong, { to: { ip: '10.0.0.1', udpPort: '80' }, replyToken: token })],
    ['an ip that is not an address', invalid(PacketType.Pong, { to: { ip: 'example.org', udpPort: 1 }, replyToken: token })],
    ['an ip of 5 bytes', invalid(PacketType.Pong, { to: { ip: Buffer.alloc(5), udpPort: 1 }, replyToken: token })],
    ['an ip given as a number', invalid(PacketType.Pong, { to: { ip: 0x7f000001, udpPort: 1 }, replyToken: token })],
    ['a missing endpoint', invalid(PacketType.Pong, { replyToken: token })],
    ['a reply token of 31 bytes', invalid(PacketType.Pong, { to, replyToken: Buffer.alloc(31) })],
    ['a reply token of 33 bytes', invalid(PacketType.EnrResponse, { replyToken: Buffer.alloc(33), record: Buffer.from([0xc0]) })],
    ['a target of 63 bytes', invalid(PacketType.Findnode, { target: Buffer.alloc(63) })],
    ['a target given as hex', invalid(PacketType.Findnode, { target: '00'.repeat(64) })],
    ['a node id of 65 bytes', invalid(PacketType.Neighbors, { nodes: [{ ...to, id: Buffer.alloc(65) }] })],
    ['nodes that are not an array', invalid(PacketType.Neighbors, { nodes: { length: 0 } })],
    ['a negative expiration', invalid(PacketType.EnrRequest, { expiration: -1 })],
    ['a fractional expiration', invalid(PacketType.EnrRequest, { expiration: 1.5 })],
    ['an expiration above 2^53 as a number', invalid(PacketType.EnrRequest, { expiration: 2 ** 53 })],
    ['an expiration of 2^64', invalid(PacketType.EnrRequest, { expiration: 2n ** 64n })],
    ['a NaN expiration', invalid(PacketType.EnrRequest, { expiration: NaN })],
    ['an enr-seq of 2^64', invalid(PacketType.Ping, { from: to, to, enrSeq: 2n ** 64n })],
    ['a negative enr-seq', invalid(PacketType.Ping, { from: to, to, enrSeq: -1n })],
    ['a negative ping version', invalid(PacketType.Ping, { from: to, to, version: -1 })],
    ['an empty record', invalid(PacketType.EnrResponse, { replyToken: token, record: Buffer.alloc(0) })],
    ['a record that is a byte string', invalid(PacketType.EnrResponse, { replyToken: token, record: Buffer.from('83616263', 'hex') })],
    ['a record that is not bytes', invalid(PacketType.EnrResponse, { replyToken: token, record: [0xc0] })],
    ['null fields', invalid(PacketType.EnrRequest, null)],
    ['packet type 0', invalid(0 as PacketType, { expiration: 1 })],
    ['packet type 7', invalid(7 as PacketType, { expiration: 1 })],
    ['a private key of 31 bytes', () => encodePacket(PacketType.EnrRequest, {}, Buffer.alloc(31, 1))],
  ];
  for (const [name, fn] of cases) {
    it(`rejects ${name} with INVALID_ARGUMENT`, () => {
      assert.throws(fn, (err: unknown) => err instanceof DiscError && err.code === 'INVALID_ARGUMENT');
    });
  }

  it('rejects a record that is not exactly one complete RLP list with INVALID_ARGUMENT', () => {
    // A list header claiming more bytes than the record has, and a list followed by a stray byte:
    // the packet built from either would not decode back to the record (every decoder rejects the first).
    for (const bad of ['c501', 'c00101', 'f838']) {
      assert.throws(
        () => encodePacket(PacketType.EnrResponse, { replyToken: token, record: Buffer.from(bad, 'hex') }, priv),
        (err: unknown) => err instanceof DiscError && err.code === 'INVALID_ARGUMENT',
        `record ${bad} was accepted`,
      );
    }
  });

  it('rejects a buffer too small for the packet in writePacket with INVALID_ARGUMENT', () => {
    const fields = { target: Buffer.alloc(64), expiration: 1 };
    const need = writePacket(Buffer.alloc(MAX_PACKET_SIZE), 0, PacketType.Findnode, fields);
    assert.equal(writePacket(Buffer.alloc(need), 0, PacketType.Findnode, fields), need);
    assert.equal(writePacket(Buffer.alloc(need + 10), 10, PacketType.Findnode, fields), need);
    for (const [size, off] of [
      [need - 1, 0],
      [need + 10, 11],
      [50, 0],
    ]) {
      assert.throws(
        () => writePacket(Buffer.alloc(size), off, PacketType.Findnode, fields),
        (err: unknown) => err instanceof DiscError && err.code === 'INVALID_ARGUMENT',
        `size ${size} off ${off}`,
      );
    }
  });
});
