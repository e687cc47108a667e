/**
 * Kademlia distance over node hashes (keccak256 of the 64-byte node id),
 * as geth's enode.LogDist / enode.DistCmp.
 */
import { Crypto, keccak256, nativeCrypto } from '../crypto';
import { InvalidArgumentError } from '../errors';

/** keccak256(nodeId): the node's 32-byte point in Kademlia space. */
export function nodeHash(nodeId: Uint8Array, crypto: Crypto = nativeCrypto): Buffer {
  if (!(nodeId instanceof Uint8Array) || nodeId.length !== 64) {
    throw new InvalidArgumentError('nodeId must be 64 bytes');
  }
  return keccak256(nodeId, crypto);
}

/**
 * 256 minus the number of leading zero bits of a XOR b; 0 when equal.
 * Both arguments are 32-byte node hashes.
 */
export function logDistance(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return 256 - i * 8 - (Math.clz32(x) - 24);
  }
  return 0;
}

/** -1 if a is closer to target than b, 1 if b is closer, 0 if equal (XOR metric). */
export function distCmp(target: Uint8Array, a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  for (let i = 0; i < 32; i++) {
    const da = a[i] ^ target[i];
    const db = b[i] ^ target[i];
    if (da !== db) return da < db ? -1 : 1;
  }
  return 0;
}
