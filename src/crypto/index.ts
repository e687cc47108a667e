/**
 * Typed wrapper over the native core: keccak256 and secp256k1 for discv4.
 *
 * Two levels:
 * - {@link Crypto}: the raw, allocation-free interface the codec and the
 *   transport use (ranges in caller buffers, numeric status results).
 *   {@link nativeCrypto} is the production backend; tests plug in a pure-JS
 *   one to cross-check.
 * - Convenience functions (`keccak256`, `sign`, `recover`, ...) that validate
 *   arguments, allocate their result and throw typed errors.
 */
import { randomBytes } from 'node:crypto';
import { DiscError, InvalidArgumentError } from '../errors';
import { native, NativeStatus } from './native';

export { NativeStatus } from './native';

export interface Crypto {
  readonly name: string;
  /** keccak256(src[srcOff, srcOff+srcLen)) -> dst[dstOff, dstOff+32). */
  keccak256Into(src: Uint8Array, srcOff: number, srcLen: number, dst: Uint8Array, dstOff: number): void;
  /** 64-byte node id of `priv` into out[outOff..]. Returns NativeStatus. */
  publicKeyInto(priv: Uint8Array, out: Uint8Array, outOff: number): number;
  /** r || s || recid of an RFC6979 low-S signature into out[outOff..]. Returns NativeStatus. */
  signInto(hash: Uint8Array, priv: Uint8Array, out: Uint8Array, outOff: number): number;
  /** Recovers a node id from sig[sigOff..+64], recid and hash. Returns NativeStatus. */
  recoverInto(
    sig: Uint8Array,
    sigOff: number,
    recid: number,
    hash: Uint8Array,
    hashOff: number,
    out: Uint8Array,
    outOff: number,
  ): number;
  /** In-place seal of buf[off, off+len): 97 bytes of headroom, then type || RLP. Returns NativeStatus. */
  seal(buf: Uint8Array, off: number, len: number, priv: Uint8Array): number;
  /** Verifies buf[off, off+len) and recovers the sender into outId[outIdOff..]. Returns NativeStatus (0..4). */
  open(buf: Uint8Array, off: number, len: number, outId: Uint8Array, outIdOff: number): number;
}

/** The native backend: one synchronous call into C++ per operation. */
export const nativeCrypto: Crypto = {
  name: 'native',
  keccak256Into(src, srcOff, srcLen, dst, dstOff) {
    if (native.keccak256(src, srcOff, srcLen, dst, dstOff) !== NativeStatus.Ok) {
      throw new InvalidArgumentError('keccak256: range outside the buffer');
    }
  },
  publicKeyInto: (priv, out, outOff) => native.publicKey(priv, 0, out, outOff),
  signInto: (hash, priv, out, outOff) => native.sign(hash, 0, priv, 0, out, outOff),
  recoverInto: (sig, sigOff, recid, hash, hashOff, out, outOff) =>
    native.recover(sig, sigOff, recid, hash, hashOff, out, outOff),
  seal: (buf, off, len, priv) => native.seal(buf, off, len, priv, 0),
  open: (buf, off, len, outId, outIdOff) => native.open(buf, off, len, outId, outIdOff),
};

function checkBytes(name: string, value: unknown, length: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new InvalidArgumentError(`${name} must be a ${length}-byte Uint8Array (got ${got})`);
  }
}

/** keccak256 (Ethereum's pre-SHA3 padding) of `data`. */
export function keccak256(data: Uint8Array, crypto: Crypto = nativeCrypto): Buffer {
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('keccak256: data must be a Uint8Array');
  const out = Buffer.allocUnsafe(32);
  crypto.keccak256Into(data, 0, data.length, out, 0);
  return out;
}

/** The 64-byte discv4 node id (uncompressed public key without 0x04) of a private key. */
export function nodeIdFromPrivateKey(privateKey: Uint8Array, crypto: Crypto = nativeCrypto): Buffer {
  checkBytes('privateKey', privateKey, 32);
  const out = Buffer.allocUnsafe(64);
  if (crypto.publicKeyInto(privateKey, out, 0) !== NativeStatus.Ok) {
    throw new InvalidArgumentError('privateKey is not a valid secp256k1 key (zero or >= curve order)');
  }
  return out;
}

/** True if `privateKey` is 32 bytes in 1..n-1. */
export function isValidPrivateKey(privateKey: Uint8Array, crypto: Crypto = nativeCrypto): boolean {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) return false;
  return crypto.publicKeyInto(privateKey, Buffer.allocUnsafe(64), 0) === NativeStatus.Ok;
}

/** A fresh random private key. */
export function generatePrivateKey(crypto: Crypto = nativeCrypto): Buffer {
  for (;;) {
    const key = randomBytes(32);
    if (isValidPrivateKey(key, crypto)) return key;
  }
}

/**
 * Recoverable signature of a 32-byte hash: RFC6979 nonce, low-S.
 * Returns 65 bytes r || s || recid, the layout of the discv4 signature field.
 */
export function sign(hash: Uint8Array, privateKey: Uint8Array, crypto: Crypto = nativeCrypto): Buffer {
  checkBytes('hash', hash, 32);
  checkBytes('privateKey', privateKey, 32);
  const out = Buffer.allocUnsafe(65);
  if (crypto.signInto(hash, privateKey, out, 0) !== NativeStatus.Ok) {
    throw new InvalidArgumentError('privateKey is not a valid secp256k1 key (zero or >= curve order)');
  }
  return out;
}

/**
 * Recovers the 64-byte node id that signed `hash`. `signature` is r || s
 * (64 bytes, then `recid` is required) or r || s || recid (65 bytes).
 * High-S signatures are accepted, as by geth's discv4 decoder.
 */
export function recover(
  signature: Uint8Array,
  recidOrHash: number | Uint8Array,
  maybeHash?: Uint8Array,
  crypto: Crypto = nativeCrypto,
): Buffer {
  let recid: number;
  let hash: Uint8Array | undefined;
  if (typeof recidOrHash === 'number') {
    checkBytes('signature', signature, 64);
    recid = recidOrHash;
    hash = maybeHash;
  } else {
    checkBytes('signature', signature, 65);
    recid = signature[64];
    hash = recidOrHash;
  }
  checkBytes('hash', hash, 32);
  const out = Buffer.allocUnsafe(64);
  if (!Number.isInteger(recid) || recid < 0 || recid > 3 || crypto.recoverInto(signature, 0, recid, hash, 0, out, 0) !== NativeStatus.Ok) {
    throw new DiscError('BAD_SIGNATURE', 'signature does not recover to a public key');
  }
  return out;
}
