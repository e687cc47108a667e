/**
 * Node records (EIP-778), "v4" identity scheme: the minimal signer the
 * transport needs to answer ENRRequest. Full record handling (decode,
 * verify, text form, the local record) builds on this in the ENR module.
 */
import { Crypto, keccak256, nativeCrypto, nodeIdFromPrivateKey, sign } from '../crypto';
import { InvalidArgumentError } from '../errors';
import { encodeRlp, RlpInput } from '../wire/rlp';

/** EIP-778: a record is at most 300 bytes. */
export const MAX_RECORD_SIZE = 300;

/** The 33-byte compressed form of a 64-byte node id (x || y). */
export function compressNodeId(nodeId: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(33);
  out[0] = 0x02 | (nodeId[63] & 1);
  out.set(nodeId.subarray(0, 32), 1);
  return out;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/**
 * Builds and signs a v4 record with the given seq and extra pairs (values
 * already RLP items: bytes or uints). `id` and `secp256k1` are added; keys
 * are sorted as EIP-778 requires.
 */
export function signRecord(
  privateKey: Uint8Array,
  seq: bigint,
  pairs: Readonly<Record<string, RlpInput>>,
  crypto: Crypto = nativeCrypto,
): Buffer {
  const all: Record<string, RlpInput> = {
    ...pairs,
    id: utf8('v4'),
    secp256k1: compressNodeId(nodeIdFromPrivateKey(privateKey, crypto)),
  };
  const keys = Object.keys(all).sort();
  const content: RlpInput[] = [seq];
  for (const k of keys) content.push(utf8(k), all[k]);
  const sig = sign(keccak256(encodeRlp(content), crypto), privateKey, crypto).subarray(0, 64);
  const record = encodeRlp([sig, ...content]);
  if (record.length > MAX_RECORD_SIZE) {
    throw new InvalidArgumentError(`record of ${record.length} bytes exceeds the ${MAX_RECORD_SIZE}-byte limit`);
  }
  return record;
}
