/**
 * Differential tests of the packet codec:
 * - against a small reference decoder written from the spec over the `rlp`
 *   package's structures (random, mostly well-shaped packet-data);
 * - against @ethereumjs/devp2p's discv4 message codec (interop both ways).
 */
import * as assert from 'node:assert/strict';
import { decode as devp2pDecode, encode as devp2pEncode } from '@ethereumjs/devp2p';
import fc from 'fast-check';
import * as rlp from 'rlp';
import {
  DecodeStatus,
  HEAD_SIZE,
  MAX_NEIGHBORS_PER_DATAGRAM,
  Packet,
  PacketType,
  PacketView,
  decodePacket,
  encodePacket,
  ipToString,
  nodeIdFromPrivateKey,
  packetFromView,
  parseBody,
} from '../../src';
import { AnyFields, fieldsOf, int64Seconds, testKey } from '../helpers/packets';
import { toHex } from '../helpers/vectors';

// ---------------------------------------------------------------- reference decoder

type Tree = Uint8Array | Tree[];

interface RefEndpoint {
  ip: string;
  udpPort: number;
  tcpPort: number;
}

/**
 * What a spec-conforming, EIP-8-lenient decoder makes of packet-data: hex for
 * bytes, the nearest double for version/expiration (our API's numbers), and
 * an exact bigint for enr-seq.
 */
type RefResult = Record<string, unknown> & { rest: string[] };

const isBytes = (x: Tree | undefined): x is Uint8Array => x instanceof Uint8Array;

/** A canonical unsigned integer of at most maxBytes bytes. */
function uint(x: Tree | undefined, maxBytes: number): bigint | undefined {
  if (!isBytes(x) || x.length > maxBytes || (x.length > 0 && x[0] === 0)) return undefined;
  return x.length === 0 ? 0n : BigInt(`0x${toHex(x)}`);
}

function fixed(x: Tree | undefined, n: number): string | undefined {
  return isBytes(x) && x.length === n ? toHex(x) : undefined;
}

/** [ip, udp, tcp, ...ignored] from index 0 of a list. */
function endpointItems(x: Tree[]): RefEndpoint | undefined {
  if (x.length < 3 || !isBytes(x[0])) return undefined;
  const udp = uint(x[1], 2);
  const tcp = uint(x[2], 2);
  if (udp === undefined || tcp === undefined) return undefined;
  return { ip: toHex(x[0]), udpPort: Number(udp), tcpPort: Number(tcp) };
}

function endpoint(x: Tree | undefined): RefEndpoint | undefined {
  return Array.isArray(x) ? endpointItems(x) : undefined;
}

const raw = (items: Tree[]): string[] => items.map((t) => toHex(rlp.encode(t as rlp.Input)));

function refDecode(type: PacketType, data: Tree): RefResult | undefined {
  if (!Array.isArray(data)) return undefined;
  const it = data;
  /** EIP-868: an optional enr-seq at index i, if it is a canonical uint64. */
  const withSeq = (i: number, r: Record<string, unknown>): RefResult => {
    const seq = uint(it[i], 8);
    return seq === undefined ? { ...r, rest: raw(it.slice(i)) } : { ...r, enrSeq: seq, rest: raw(it.slice(i + 1)) };
  };
  switch (type) {
    case PacketType.Ping: {
      const version = uint(it[0], 8);
      const from = endpoint(it[1]);
      const to = endpoint(it[2]);
      const expiration = uint(it[3], 8);
      if (version === undefined || !from || !to || expiration === undefined) return undefined;
      return withSeq(4, { version: Number(version), from, to, expiration: int64Seconds(expiration) });
    }
    case PacketType.Pong: {
      const to = endpoint(it[0]);
      const replyToken = fixed(it[1], 32);
      const expiration = uint(it[2], 8);
      if (!to || replyToken === undefined || expiration === undefined) return undefined;
      return withSeq(3, { to, replyToken, expiration: int64Seconds(expiration) });
    }
    case PacketType.Findnode: {
      const target = fixed(it[0], 64);
      const expiration = uint(it[1], 8);
      if (target === undefined || expiration === undefined) return undefined;
      return { target, expiration: int64Seconds(expiration), rest: raw(it.slice(2)) };
    }
    case PacketType.Neighbors: {
      const list = it[0];
      const expiration = uint(it[1], 8);
      if (!Array.isArray(list) || list.length > MAX_NEIGHBORS_PER_DATAGRAM || expiration === undefined) return undefined;
      const nodes = [];
      for (const n of list) {
        if (!Array.isArray(n)) return undefined;
        const ep = endpointItems(n);
        const id = fixed(n[3], 64);
        if (!ep || id === undefined) return undefined;
        nodes.push({ ...ep, id });
      }
      return { nodes, expiration: int64Seconds(expiration), rest: raw(it.slice(2)) };
    }
    case PacketType.EnrRequest: {
      const expiration = uint(it[0], 8);
      if (expiration === undefined) return undefined;
      return { expiration: int64Seconds(expiration), rest: raw(it.slice(1)) };
    }
    case PacketType.EnrResponse: {
      const replyToken = fixed(it[0], 32);
      const record = it[1];
      if (replyToken === undefined || !Array.isArray(record)) return undefined;
      return { replyToken, record: toHex(rlp.encode(record as rlp.Input)), rest: raw(it.slice(2)) };
    }
  }
}

/** Our decoded packet in the reference's terms. */
function view(p: Packet): RefResult {
  const ep = (e: { ip: Buffer; udpPort: number; tcpPort: number }): RefEndpoint => ({ ip: toHex(e.ip), udpPort: e.udpPort, tcpPort: e.tcpPort });
  const rest = p.rest.map(toHex);
  const seq = (s: bigint | undefined) => (s === undefined ? {} : { enrSeq: s });
  switch (p.type) {
    case PacketType.Ping:
      return { version: p.version, from: ep(p.from), to: ep(p.to), expiration: p.expiration, ...seq(p.enrSeq), rest };
    case PacketType.Pong:
      return { to: ep(p.to), replyToken: toHex(p.replyToken), expiration: p.expiration, ...seq(p.enrSeq), rest };
    case PacketType.Findnode:
      return { target: toHex(p.target), expiration: p.expiration, rest };
    case PacketType.Neighbors:
      return { nodes: p.nodes.map((n) => ({ ...ep(n), id: toHex(n.id) })), expiration: p.expiration, rest };
    case PacketType.EnrRequest:
      return { expiration: p.expiration, rest };
    case PacketType.EnrResponse:
      return { replyToken: toHex(p.replyToken), record: toHex(p.record), rest };
  }
}

// Slots: mostly the right shape, sometimes a wrong one. Integers stay below
// 2^53 so that our number fields compare exactly.
const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const minimal = (v: bigint): Uint8Array => (v === 0n ? new Uint8Array(0) : Buffer.from(v.toString(16).padStart(Math.ceil(v.toString(16).length / 2) * 2, '0'), 'hex'));
const anyItem: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
  t: fc.oneof({ depthSize: 'small' }, fc.uint8Array({ maxLength: 10 }), fc.array(tie('t'), { maxLength: 3 })),
})).t;
const uintSlot = (maxBytes: number, max: bigint): fc.Arbitrary<Tree> =>
  fc.oneof(
    { arbitrary: fc.bigInt({ min: 0n, max }).map(minimal), weight: 25 },
    { arbitrary: fc.bigInt({ min: 0n, max }).map((v) => Buffer.concat([Buffer.from([0]), minimal(v)])), weight: 1 },
    { arbitrary: bytesN(maxBytes + 1).map((b) => ((b[0] ||= 1), b)), weight: 1 },
    { arbitrary: anyItem, weight: 1 },
  );
const fixedSlot = (n: number): fc.Arbitrary<Tree> =>
  fc.oneof({ arbitrary: bytesN(n), weight: 25 }, { arbitrary: fc.constantFrom(n - 1, n + 1, 0).chain(bytesN), weight: 1 }, { arbitrary: anyItem, weight: 1 });
const U53 = BigInt(Number.MAX_SAFE_INTEGER);
const port = uintSlot(2, 0xffffn);
const epItems = fc.tuple(fc.uint8Array({ maxLength: 17 }), port, port, fc.array(anyItem, { maxLength: 2 }));
const endpointSlot: fc.Arbitrary<Tree> = fc.oneof(
  { arbitrary: epItems.map(([ip, u, t, extra]): Tree => [ip, u, t, ...extra]), weight: 25 },
  { arbitrary: fc.tuple(fc.uint8Array({ maxLength: 4 }), port).map(([ip, u]): Tree => [ip, u]), weight: 1 },
  { arbitrary: anyItem, weight: 1 },
);
const nodeSlot: fc.Arbitrary<Tree> = fc.oneof(
  { arbitrary: fc.tuple(epItems, fixedSlot(64)).map(([[ip, u, t, extra], id]): Tree => [ip, u, t, id, ...extra]), weight: 12 },
  { arbitrary: anyItem, weight: 1 },
);
const extras = fc.array(anyItem, { maxLength: 3 });
const exp = uintSlot(8, U53);
const seqSlot = fc.option(fc.oneof(uintSlot(8, 2n ** 64n - 1n), anyItem), { nil: undefined });

const dataOf: Record<PacketType, fc.Arbitrary<Tree[]>> = {
  [PacketType.Ping]: fc
    .tuple(uintSlot(8, U53), endpointSlot, endpointSlot, exp, seqSlot, extras)
    .map(([v, f, t, e, s, x]) => [v, f, t, e, ...(s === undefined ? [] : [s]), ...x]),
  [PacketType.Pong]: fc
    .tuple(endpointSlot, fixedSlot(32), exp, seqSlot, extras)
    .map(([t, tok, e, s, x]) => [t, tok, e, ...(s === undefined ? [] : [s]), ...x]),
  [PacketType.Findnode]: fc.tuple(fixedSlot(64), exp, extras).map(([t, e, x]) => [t, e, ...x]),
  [PacketType.Neighbors]: fc
    .tuple(fc.oneof({ arbitrary: fc.array(nodeSlot, { maxLength: 4 }), weight: 8 }, { arbitrary: anyItem.map((t) => [t]), weight: 1 }), exp, extras)
    .map(([n, e, x]) => [n, e, ...x]),
  [PacketType.EnrRequest]: fc.tuple(exp, extras).map(([e, x]) => [e, ...x]),
  [PacketType.EnrResponse]: fc
    .tuple(fixedSlot(32), fc.oneof({ arbitrary: fc.array(anyItem, { maxLength: 6 }), weight: 8 }, { arbitrary: anyItem, weight: 1 }), extras)
    .map(([tok, rec, x]) => [tok, rec, ...x]),
};

describe('packet-data parser against a reference decoder', () => {
  for (const type of [PacketType.Ping, PacketType.Pong, PacketType.Findnode, PacketType.Neighbors, PacketType.EnrRequest, PacketType.EnrResponse]) {
    it(`accepts and decodes random ${PacketType[type]} packet-data exactly as the reference does`, () => {
      const pv = new PacketView();
      let accepted = 0;
      fc.assert(
        fc.property(
          fc.array(fc.oneof({ arbitrary: dataOf[type] as fc.Arbitrary<Tree>, weight: 10 }, { arbitrary: anyItem, weight: 1 }), { minLength: 1, maxLength: 1 }),
          fc.uint8Array({ maxLength: 4 }),
          ([data], trailing) => {
            const body = Buffer.concat([Buffer.from(rlp.encode(data as rlp.Input)), trailing]);
            const buf = Buffer.concat([Buffer.alloc(HEAD_SIZE), Buffer.from([type]), body]);
            const want = refDecode(type, data);
            const st = parseBody(pv, buf, 0, buf.length);
            if (want === undefined) {
              assert.equal(st, DecodeStatus.BadRlp, `accepted ${toHex(body)}`);
              return;
            }
            assert.equal(st, DecodeStatus.Ok, `rejected ${toHex(body)}`);
            accepted++;
            assert.deepEqual(view(packetFromView(pv)), want);
          },
        ),
        { numRuns: 250 },
      );
      // The generator is meant to produce mostly decodable data.
      assert.ok(accepted > 40, `only ${accepted} of 250 inputs were decodable`);
    });
  }
});

// ---------------------------------------------------------------- @ethereumjs/devp2p

interface DevEndpoint {
  address: string;
  udpPort: number | null;
  tcpPort: number | null;
}

describe('interop with @ethereumjs/devp2p (dpt/message)', () => {
  // devp2p writes ports as 2 fixed bytes and timestamps as 4: canonical RLP
  // only for ports >= 256 (or absent) and timestamps >= 2^24.
  const devPort = fc.oneof(fc.integer({ min: 256, max: 0xffff }), fc.constant(null));
  const devTs = fc.integer({ min: 2 ** 24, max: 2 ** 32 - 1 });
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipToString(b)!).filter((s) => !s.includes('.'));
  const address = fc.oneof(fc.ipV4(), v6);
  const devEndpoint: fc.Arbitrary<DevEndpoint> = fc.record({ address, udpPort: devPort, tcpPort: devPort });
  const id = fc.uint8Array({ minLength: 64, maxLength: 64 });
  const priv = testKey('devp2p interop');
  const myId = nodeIdFromPrivateKey(priv);

  const message = fc.oneof(
    fc.record({
      typename: fc.constant('ping'),
      data: fc.record({ version: fc.integer({ min: 1, max: 255 }), from: devEndpoint, to: devEndpoint, timestamp: devTs }),
    }),
    fc.record({ typename: fc.constant('pong'), data: fc.record({ to: devEndpoint, hash: fc.uint8Array({ minLength: 32, maxLength: 32 }), timestamp: devTs }) }),
    fc.record({ typename: fc.constant('findneighbours'), data: fc.record({ id, timestamp: devTs }) }),
    fc.record({
      typename: fc.constant('neighbours'),
      data: fc.record({
        peers: fc.array(fc.record({ address, udpPort: devPort, tcpPort: devPort, id }), { maxLength: 8 }),
        timestamp: devTs,
      }),
    }),
  );

  const epMatches = (e: { ip: Buffer; udpPort: number; tcpPort: number }, d: DevEndpoint, what: string) => {
    assert.equal(ipToString(e.ip), d.address, `${what}.ip`);
    assert.equal(e.udpPort, d.udpPort ?? 0, `${what}.udpPort`);
    assert.equal(e.tcpPort, d.tcpPort ?? 0, `${what}.tcpPort`);
  };

  it('decodes packets encoded by devp2p, and re-encodes them to the same bytes (both sign RFC6979)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const packet = Buffer.from(devp2pEncode(m.typename, m.data, priv));
        const p = decodePacket(packet, { now: 0 });
        assert.ok(p.nodeId.equals(myId));
        const d = m.data as Record<string, unknown>;
        switch (p.type) {
          case PacketType.Ping: {
            assert.equal(m.typename, 'ping');
            assert.equal(p.version, d.version);
            epMatches(p.from, d.from as DevEndpoint, 'from');
            epMatches(p.to, d.to as DevEndpoint, 'to');
            assert.equal(p.expiration, d.timestamp);
            break;
          }
          case PacketType.Pong:
            assert.equal(m.typename, 'pong');
            epMatches(p.to, d.to as DevEndpoint, 'to');
            assert.equal(toHex(p.replyToken), toHex(d.hash as Uint8Array));
            assert.equal(p.expiration, d.timestamp);
            break;
          case PacketType.Findnode:
            assert.equal(m.typename, 'findneighbours');
            assert.equal(toHex(p.target), toHex(d.id as Uint8Array));
            assert.equal(p.expiration, d.timestamp);
            break;
          case PacketType.Neighbors: {
            assert.equal(m.typename, 'neighbours');
            const peers = d.peers as (DevEndpoint & { id: Uint8Array })[];
            assert.equal(p.nodes.length, peers.length);
            p.nodes.forEach((n, i) => {
              epMatches(n, peers[i], `nodes[${i}]`);
              assert.equal(toHex(n.id), toHex(peers[i].id));
            });
            assert.equal(p.expiration, d.timestamp);
            break;
          }
          default:
            assert.fail(`unexpected type ${p.type}`);
        }
        const { type, fields } = fieldsOf(p);
        assert.equal(toHex(encodePacket(type, fields, priv)), toHex(packet));
      }),
      { numRuns: 100 },
    );
  });

  /** The same message as our encoder's fields. */
  function oursOf(m: { typename: string; data: Record<string, unknown> }): AnyFields {
    const ep = (e: DevEndpoint) => ({ ip: e.address, udpPort: e.udpPort ?? 0, tcpPort: e.tcpPort ?? 0 });
    const d = m.data;
    switch (m.typename) {
      case 'ping':
        return {
          type: PacketType.Ping,
          fields: { version: d.version as number, from: ep(d.from as DevEndpoint), to: ep(d.to as DevEndpoint), expiration: d.timestamp as number },
        };
      case 'pong':
        return { type: PacketType.Pong, fields: { to: ep(d.to as DevEndpoint), replyToken: d.hash as Uint8Array, expiration: d.timestamp as number } };
      case 'findneighbours':
        return { type: PacketType.Findnode, fields: { target: d.id as Uint8Array, expiration: d.timestamp as number } };
      default: {
        const peers = d.peers as (DevEndpoint & { id: Uint8Array })[];
        return {
          type: PacketType.Neighbors,
          fields: { nodes: peers.map((n) => ({ ...ep(n), id: n.id })), expiration: d.timestamp as number },
        };
      }
    }
  }

  /** devp2p's decoded form of a message it would have encoded: ports 0 read back as null. */
  function normalised(m: { typename: string; data: Record<string, unknown> }): unknown {
    const ep = (e: DevEndpoint) => ({ address: e.address, udpPort: e.udpPort, tcpPort: e.tcpPort });
    const d = m.data;
    switch (m.typename) {
      case 'ping':
        return { version: d.version, from: ep(d.from as DevEndpoint), to: ep(d.to as DevEndpoint), timestamp: d.timestamp };
      case 'pong':
        return { to: ep(d.to as DevEndpoint), hash: d.hash, timestamp: d.timestamp };
      case 'findneighbours':
        return { id: d.id, timestamp: d.timestamp };
      default:
        return {
          peers: (d.peers as (DevEndpoint & { id: Uint8Array })[]).map((n) => ({ endpoint: ep(n), id: n.id })),
          timestamp: d.timestamp,
        };
    }
  }

  it('produces packets that devp2p decodes to the same fields and sender', () => {
    fc.assert(
      fc.property(message, (m) => {
        const f = oursOf(m as { typename: string; data: Record<string, unknown> });
        const ours = encodePacket(f.type, f.fields, priv);
        // A plain Uint8Array: devp2p reads fields through DataView(bytes.buffer) and
        // Buffer#slice views, which go wrong for a pooled Buffer with a byteOffset.
        const back = devp2pDecode(new Uint8Array(ours));
        assert.equal(back.typename, m.typename);
        assert.equal(toHex(back.publicKey), `04${toHex(myId)}`);
        const got = JSON.parse(JSON.stringify(back.data, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v)));
        const want = JSON.parse(JSON.stringify(normalised(m as { typename: string; data: Record<string, unknown> }), (_k, v) => (v instanceof Uint8Array ? toHex(v) : v)));
        assert.deepEqual(got, want);
      }),
      { numRuns: 100 },
    );
  });
});
