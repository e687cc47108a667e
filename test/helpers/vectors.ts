/**
 * Loads the test vectors (test/vectors, copied from the project's shared
 * vector set; test/vectors/README.md names each file's sources) and
 * converts hex. Tests read nothing outside the repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (this file is test/helpers/vectors.ts). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The vector directory, inside the repository. */
export const VECTORS_DIR = path.join(REPO_ROOT, 'test', 'vectors');

const cache = new Map<string, unknown>();

/** Parses vector file `name` (with or without `.json`). */
export function loadVectors<T>(name: string): T {
  const file = name.endsWith('.json') ? name : `${name}.json`;
  let data = cache.get(file);
  if (data === undefined) {
    const full = path.join(VECTORS_DIR, file);
    if (!fs.existsSync(full)) {
      throw new Error(`test vectors not found: ${full} (test/vectors is part of the repository: is the checkout complete?)`);
    }
    data = JSON.parse(fs.readFileSync(full, 'utf8')) as unknown;
    cache.set(file, data);
  }
  return data as T;
}

/** Bytes of a hex string (no 0x, as the vectors write them). */
export function hex(s: string): Buffer {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new Error(`bad hex in test data: ${String(s).slice(0, 40)}`);
  }
  return Buffer.from(s, 'hex');
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

// ------------------------------------------------------------ file shapes

export interface KeccakVector {
  name: string;
  input: string;
  inputLength: number;
  hash: string;
}

export interface KeyVector {
  name: string;
  privateKey: string;
  publicKeyUncompressed: string;
  publicKeyCompressed: string;
  nodeId: string;
  nodeIdHash: string;
}

export interface SignatureVector {
  key: string;
  message: string;
  privateKey: string;
  messageHash: string;
  r: string;
  s: string;
  recid: number;
  signature65: string;
  recoveredPublicKey: string;
  highSTwin: { s: string; recid: number; recoversSameKey: boolean; validUnderLowSRule: boolean };
}

export interface SignatureEdgeCase {
  key: string;
  privateKey: string;
  messageHash: string;
  messageHashModN: string;
  rfc6979: { r: string; s: string; recid: number };
  unreducedNonceVariant: { r: string; s: string; recid: number };
  recoveredPublicKey: string;
}

export interface CryptoVectors {
  keccak256: KeccakVector[];
  keys: KeyVector[];
  signatures: SignatureVector[];
  signatureEdgeCasesHashAtLeastN: SignatureEdgeCase[];
  discv4PacketWalkthrough: {
    privateKey: string;
    typeAndData: string;
    sigHash: string;
    signature65: string;
    hash: string;
    packet: string;
  };
}

export interface EndpointJson {
  ip: string;
  ipHex: string;
  udp: number;
  tcp: number;
}

export interface NodeJson extends EndpointJson {
  id: string;
}

/** `decoded` of a packet vector; which keys are present depends on the type. */
export interface DecodedJson {
  version?: number;
  from?: EndpointJson;
  to?: EndpointJson;
  expiration?: number;
  enrSeq?: number | string | null;
  enrSeqPositionNotUint?: boolean;
  replyToken?: string;
  target?: string;
  nodes?: NodeJson[];
  requestHash?: string;
  enr?: string;
  extraElements: string[];
}

export interface Eip8Vector {
  name: string;
  packet: string;
  length: number;
  privateKey: string;
  hash: string;
  sigHash: string;
  signature: { r: string; s: string; v: number };
  signatureIsRfc6979: boolean;
  nodeId: string;
  nodeIdHash: string;
  type: number;
  typeName: string;
  decoded: DecodedJson;
  trailingData: string;
  reencodedDataIdentical?: boolean;
}

export interface Eip8Vectors {
  signerPrivateKey: string;
  signerNodeId: string;
  signerNodeIdHash: string;
  vectors: Eip8Vector[];
}

export interface ExpectedPacketJson {
  hash: string;
  nodeId: string;
  type: number;
  typeName: string;
  decoded: DecodedJson;
  trailingData: string;
}

export type NegativeErrorKind =
  | 'too-small'
  | 'too-large'
  | 'bad-hash'
  | 'bad-signature'
  | 'unknown-type'
  | 'rlp'
  | 'expired'
  | 'unsolicited-reply'
  | 'record-signer-mismatch';

export interface NegativeVector {
  name: string;
  valid: boolean;
  stage?: 'decode' | 'handler';
  error?: NegativeErrorKind;
  reason: string;
  note?: string;
  strictness?: string;
  packet: string;
  length: number;
  signerPrivateKey?: string;
  expected?: ExpectedPacketJson;
  context?: {
    pingPacket?: string;
    pingHash?: string;
    pingSignerPrivateKey?: string;
    enrRequestPacket?: string;
    enrRequestHash?: string;
    recordNodeId?: string;
  };
}

export interface NegativeVectors {
  keys: Record<string, { privateKey: string; nodeId: string }>;
  timestamps: { future: number; past: number };
  vectors: NegativeVector[];
}

export interface LogdistVectors {
  hashPairs: { name: string; a: string; b: string; logdist: number }[];
  nodeIdPairs: {
    name: string;
    privateKeyA: string;
    privateKeyB: string;
    nodeIdA: string;
    nodeIdB: string;
    hashA: string;
    hashB: string;
    logdist: number;
  }[];
  distCmp: {
    vectors: {
      name: string;
      target: string;
      a: string;
      b: string;
      result: -1 | 0 | 1;
      logdistTargetA: number;
      logdistTargetB: number;
    }[];
  };
}
