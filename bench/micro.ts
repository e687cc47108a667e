/**
 * Micro benchmarks: one operation per suite, ours beside @ethereumjs/devp2p
 * (and, for the crypto primitives, the npm `secp256k1`/`keccak` bindings)
 * measured in the same run.
 *
 * "ours" is the hot-path API the transport uses: writePacket + native seal
 * into a reused buffer, readPacket into a reused PacketView. The allocating
 * object API (encodePacket/decodePacket) is measured too, so users of
 * either can see their numbers.
 */
import * as ethjs from '@ethereumjs/devp2p';
import { keccak256 as ethjsKeccak } from 'ethereum-cryptography/keccak.js';
import { ecdsaRecover as ethjsRecover } from 'ethereum-cryptography/secp256k1-compat.js';
import { secp256k1 as ethjsSecp } from 'ethereum-cryptography/secp256k1.js';
import * as RLP from 'rlp';
import {
  decodePacket,
  encodePacket,
  nativeCrypto,
  nodeIdFromPrivateKey,
  PacketType,
  PacketView,
  parseBody,
  readPacket,
  signRecord,
  writePacket,
} from '../src';
import { native } from '../src/crypto/native';
import type { NodeInput } from '../src/wire/types';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const npmSecp = require('secp256k1') as {
  ecdsaSign(msg: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed: boolean): Uint8Array;
};
// eslint-disable-next-line @typescript-eslint/no-var-requires
const npmKeccak = require('keccak') as (alg: string) => { update(b: Uint8Array): { digest(): Buffer } };

export interface MicroCase {
  name: string;
  fn: () => unknown;
}

export interface MicroSuite {
  /** What is measured; one operation per call of each case. */
  name: string;
  ours: MicroCase;
  /** @ethereumjs/devp2p doing the same thing, when it can. */
  ethjs?: MicroCase;
  /** Further baselines (npm bindings, rlp package). */
  others?: MicroCase[];
}

const priv = Buffer.from('b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291', 'hex');
const otherPriv = Buffer.from('49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee', 'hex');
const farFuture = 4102444800; // 2100-01-01: packets stay valid for the whole run
const nowSec = () => Date.now() / 1000;

const from = { ip: Buffer.from([10, 0, 0, 1]), udpPort: 30303, tcpPort: 30303 };
const to = { ip: Buffer.from([10, 0, 0, 2]), udpPort: 30301, tcpPort: 0 };
const pingFields = { version: 4, from, to, expiration: farFuture, enrSeq: 7 };
const pongFields = { to, replyToken: Buffer.alloc(32, 0xab), expiration: farFuture, enrSeq: 7 };

function makeNodes(n: number): NodeInput[] {
  const nodes: NodeInput[] = [];
  for (let i = 0; i < n; i++) {
    const key = Buffer.alloc(32, i + 1);
    nodes.push({ ip: Buffer.from([10, 1, i >> 8, i & 0xff]), udpPort: 30303 + i, tcpPort: 30303 + i, id: nodeIdFromPrivateKey(key) });
  }
  return nodes;
}
const nodes12 = makeNodes(12);
const neighborsFields = { nodes: nodes12, expiration: farFuture };
const findnodeFields = { target: nodeIdFromPrivateKey(otherPriv), expiration: farFuture };
const enrRequestFields = { expiration: farFuture };
// A record as geth serves it: id, secp256k1, ip, udp, tcp (about 130 bytes).
const record = signRecord(priv, 3n, { ip: Buffer.from([10, 0, 0, 1]), udp: 30303, tcp: 30303 });
const enrResponseFields = { replyToken: Buffer.alloc(32, 0xcd), record };

// ethjs speaks the same protocol with its own field names.
const ethjsEp = (e: { ip: Uint8Array; udpPort: number; tcpPort: number }) => ({
  address: Array.from(e.ip).join('.'),
  udpPort: e.udpPort,
  tcpPort: e.tcpPort,
});
const ethjsPing = { version: 4, from: ethjsEp(from), to: ethjsEp(to), timestamp: farFuture };
const ethjsPong = { to: ethjsEp(to), hash: pongFields.replyToken, timestamp: farFuture };
const ethjsFindneighbours = { id: findnodeFields.target, timestamp: farFuture };
const ethjsNeighbours = {
  peers: nodes12.map((n) => ({ ...ethjsEp(n as { ip: Uint8Array; udpPort: number; tcpPort: number }), id: n.id })),
  timestamp: farFuture,
};

export function microSuites(): MicroSuite[] {
  const out = Buffer.alloc(1280);
  const view = new PacketView();

  const pingPkt = encodePacket(PacketType.Ping, pingFields, priv);
  const pongPkt = encodePacket(PacketType.Pong, pongFields, priv);
  const findnodePkt = encodePacket(PacketType.Findnode, findnodeFields, priv);
  const neighborsPkt = encodePacket(PacketType.Neighbors, neighborsFields, priv);
  const enrRequestPkt = encodePacket(PacketType.EnrRequest, enrRequestFields, priv);
  const enrResponsePkt = encodePacket(PacketType.EnrResponse, enrResponseFields, priv);
  const ethjsPingPkt = ethjs.encode('ping', ethjsPing as never, priv);
  const ethjsPongPkt = ethjs.encode('pong', ethjsPong as never, priv);
  const ethjsFindneighboursPkt = ethjs.encode('findneighbours', ethjsFindneighbours as never, priv);
  const ethjsNeighboursPkt = ethjs.encode('neighbours', ethjsNeighbours as never, priv);

  const sealed = (type: PacketType, fields: never) => () => nativeCrypto.seal(out, 0, writePacket(out, 0, type, fields), priv);
  const opened = (pkt: Buffer) => () => check(readPacket(view, pkt, 0, pkt.length, nowSec()));
  const check = (st: number) => {
    if (st !== 0) throw new Error(`bench packet failed to decode: status ${st}`);
  };

  const hashIn = pingPkt.subarray(32); // what every packet hashes: 96+ bytes
  const digest = Buffer.alloc(32);
  const sigHash = Buffer.alloc(32);
  native.keccak256(pingPkt, 97, pingPkt.length - 97, sigHash, 0);
  const sig65 = Buffer.alloc(65);
  native.sign(sigHash, 0, otherPriv, 0, sig65, 0);
  const sigHashU8 = new Uint8Array(sigHash);
  const npmSig = npmSecp.ecdsaSign(sigHashU8, otherPriv);
  const idOut = Buffer.alloc(64);

  const pingBody = pingPkt.subarray(98);
  const neighborsBody = neighborsPkt.subarray(98);

  return [
    // One pair per packet type, in wire order: what a node pays to send and
    // to receive each. ethjs has no ENRRequest / ENRResponse (EIP-868).
    {
      name: 'encode+seal ping',
      ours: { name: 'discv4-native', fn: sealed(PacketType.Ping, pingFields as never) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.encode('ping', ethjsPing as never, priv) },
      others: [{ name: 'discv4-native encodePacket (object API)', fn: () => encodePacket(PacketType.Ping, pingFields, priv) }],
    },
    {
      name: 'open+decode ping',
      ours: { name: 'discv4-native', fn: opened(pingPkt) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.decode(ethjsPingPkt) },
      others: [{ name: 'discv4-native decodePacket (object API)', fn: () => decodePacket(pingPkt) }],
    },
    {
      name: 'encode+seal pong',
      ours: { name: 'discv4-native', fn: sealed(PacketType.Pong, pongFields as never) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.encode('pong', ethjsPong as never, priv) },
    },
    {
      name: 'open+decode pong',
      ours: { name: 'discv4-native', fn: opened(pongPkt) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.decode(ethjsPongPkt) },
    },
    {
      name: 'encode+seal findnode',
      ours: { name: 'discv4-native', fn: sealed(PacketType.Findnode, findnodeFields as never) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.encode('findneighbours', ethjsFindneighbours as never, priv) },
    },
    {
      name: 'open+decode findnode',
      ours: { name: 'discv4-native', fn: opened(findnodePkt) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.decode(ethjsFindneighboursPkt) },
    },
    {
      name: 'encode+seal neighbors (12 nodes)',
      ours: { name: 'discv4-native', fn: sealed(PacketType.Neighbors, neighborsFields as never) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.encode('neighbours', ethjsNeighbours as never, priv) },
    },
    {
      name: 'open+decode neighbors (12 nodes)',
      ours: { name: 'discv4-native', fn: opened(neighborsPkt) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjs.decode(ethjsNeighboursPkt) },
      others: [{ name: 'discv4-native decodePacket (object API)', fn: () => decodePacket(neighborsPkt) }],
    },
    {
      name: 'encode+seal ENRRequest',
      ours: { name: 'discv4-native', fn: sealed(PacketType.EnrRequest, enrRequestFields as never) },
    },
    {
      name: 'open+decode ENRRequest',
      ours: { name: 'discv4-native', fn: opened(enrRequestPkt) },
    },
    {
      name: `encode+seal ENRResponse (${record.length}-byte record)`,
      ours: { name: 'discv4-native', fn: sealed(PacketType.EnrResponse, enrResponseFields as never) },
    },
    {
      name: `open+decode ENRResponse (${record.length}-byte record)`,
      ours: { name: 'discv4-native', fn: opened(enrResponsePkt) },
    },
    {
      name: `keccak256 (${hashIn.length} bytes)`,
      ours: { name: 'discv4-native', fn: () => native.keccak256(hashIn, 0, hashIn.length, digest, 0) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjsKeccak(hashIn) },
      others: [{ name: 'keccak (npm binding)', fn: () => npmKeccak('keccak256').update(hashIn).digest() }],
    },
    {
      name: 'sign (recoverable)',
      ours: { name: 'discv4-native', fn: () => native.sign(sigHash, 0, otherPriv, 0, sig65, 0) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjsSecp.sign(sigHashU8, otherPriv) },
      others: [{ name: 'secp256k1 (npm binding)', fn: () => npmSecp.ecdsaSign(sigHashU8, otherPriv) }],
    },
    {
      name: 'recover',
      ours: { name: 'discv4-native', fn: () => native.recover(sig65, 0, sig65[64], sigHash, 0, idOut, 0) },
      ethjs: { name: '@ethereumjs/devp2p', fn: () => ethjsRecover(npmSig.signature, npmSig.recid, sigHashU8, false) },
      others: [{ name: 'secp256k1 (npm binding)', fn: () => npmSecp.ecdsaRecover(npmSig.signature, npmSig.recid, sigHashU8, false) }],
    },
    {
      // The bar: one `open` (2 keccaks + recover in one crossing)
      // costs no more than recover and keccak called on their own.
      name: 'open vs keccak+keccak+recover',
      ours: { name: 'discv4-native open', fn: () => native.open(pingPkt, 0, pingPkt.length, idOut, 0) },
      others: [
        {
          name: 'separate calls',
          fn: () => {
            native.keccak256(pingPkt, 32, pingPkt.length - 32, digest, 0);
            native.keccak256(pingPkt, 97, pingPkt.length - 97, sigHash, 0);
            native.recover(pingPkt, 32, pingPkt[96], sigHash, 0, idOut, 0);
          },
        },
      ],
    },
    {
      name: 'RLP decode ping body',
      ours: { name: 'discv4-native parseBody', fn: () => check(parseBody(view, pingPkt, 0, pingPkt.length)) },
      others: [{ name: 'rlp (npm)', fn: () => RLP.decode(pingBody) }],
    },
    {
      name: 'RLP decode neighbors body (12 nodes)',
      ours: { name: 'discv4-native parseBody', fn: () => check(parseBody(view, neighborsPkt, 0, neighborsPkt.length)) },
      others: [{ name: 'rlp (npm)', fn: () => RLP.decode(neighborsBody) }],
    },
  ];
}
