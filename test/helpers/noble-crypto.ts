/**
 * A pure-JS {@link Crypto} backend on @noble/curves + @noble/hashes, used to
 * cross-check the native core: same interface, same status codes
 * (native/core.h Status), independent implementation.
 *
 * noble v2 is ESM-only. Test files compile to CommonJS, so it is loaded with
 * require() (Node >= 20.19 loads synchronous ES modules that way) and typed
 * through import types with resolution-mode 'import'.
 */
import type { Crypto } from '../../src';
import { InvalidArgumentError } from '../../src';

type NobleSecp256k1 = typeof import('@noble/curves/secp256k1.js', { with: { 'resolution-mode': 'import' } });
type NobleSha3 = typeof import('@noble/hashes/sha3.js', { with: { 'resolution-mode': 'import' } });

const { secp256k1 } = require('@noble/curves/secp256k1.js') as NobleSecp256k1;
const { keccak_256 } = require('@noble/hashes/sha3.js') as NobleSha3;

export { secp256k1 as nobleSecp256k1, keccak_256 as nobleKeccak256 };

/** native/core.h Status. */
export const Status = {
  Ok: 0,
  TooSmall: 1,
  TooLarge: 2,
  BadHash: 3,
  BadSignature: 4,
  BadKey: 5,
  Range: 6,
} as const;

/** The curve order n. */
export const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const HEAD = 97;
const MIN = 98;
const MAX = 1280;

/** True if [off, off+need) lies inside `b` (the native `at()` rule). */
function inRange(b: Uint8Array, off: number, need: number): boolean {
  return b instanceof Uint8Array && Number.isInteger(off) && off >= 0 && off <= b.length && b.length - off >= need;
}

function validKey(priv: Uint8Array): boolean {
  return priv.length === 32 && secp256k1.utils.isValidSecretKey(priv);
}

function signRaw(hash: Uint8Array, priv: Uint8Array, out: Uint8Array, outOff: number): number {
  if (!validKey(priv)) return Status.BadKey;
  // 'recovered' is recid || r || s; discv4 wants r || s || recid.
  const sig = secp256k1.sign(hash, priv, { prehash: false, lowS: true, format: 'recovered' });
  out.set(sig.subarray(1, 65), outOff);
  out[outOff + 64] = sig[0];
  return Status.Ok;
}

function recoverRaw(sig64: Uint8Array, recid: number, hash: Uint8Array, out: Uint8Array, outOff: number): number {
  if (!Number.isInteger(recid) || recid < 0 || recid > 3) return Status.BadSignature;
  try {
    const rec = new Uint8Array(65);
    rec[0] = recid;
    rec.set(sig64, 1);
    const point = secp256k1.Signature.fromBytes(rec, 'recovered').recoverPublicKey(hash);
    out.set(point.toBytes(false).subarray(1), outOff);
    return Status.Ok;
  } catch {
    return Status.BadSignature;
  }
}

export const nobleCrypto: Crypto = {
  name: 'noble',
  keccak256Into(src, srcOff, srcLen, dst, dstOff) {
    if (!inRange(src, srcOff, srcLen) || !inRange(dst, dstOff, 32)) {
      throw new InvalidArgumentError('keccak256: range outside the buffer');
    }
    dst.set(keccak_256(src.subarray(srcOff, srcOff + srcLen)), dstOff);
  },
  publicKeyInto(priv, out, outOff) {
    if (!inRange(priv, 0, 32) || !inRange(out, outOff, 64)) return Status.Range;
    const k = priv.subarray(0, 32);
    if (!validKey(k)) return Status.BadKey;
    out.set(secp256k1.getPublicKey(k, false).subarray(1), outOff);
    return Status.Ok;
  },
  signInto(hash, priv, out, outOff) {
    if (!inRange(hash, 0, 32) || !inRange(priv, 0, 32) || !inRange(out, outOff, 65)) return Status.Range;
    return signRaw(hash.subarray(0, 32), priv.subarray(0, 32), out, outOff);
  },
  recoverInto(sig, sigOff, recid, hash, hashOff, out, outOff) {
    if (!inRange(sig, sigOff, 64) || !inRange(hash, hashOff, 32) || !inRange(out, outOff, 64)) return Status.Range;
    return recoverRaw(sig.subarray(sigOff, sigOff + 64), recid, hash.subarray(hashOff, hashOff + 32), out, outOff);
  },
  seal(buf, off, len, priv) {
    if (!inRange(buf, off, len) || !inRange(priv, 0, 32)) return Status.Range;
    if (len < MIN) return Status.TooSmall;
    const sigHash = keccak_256(buf.subarray(off + HEAD, off + len));
    const st = signRaw(sigHash, priv.subarray(0, 32), buf, off + 32);
    if (st !== Status.Ok) return st;
    buf.set(keccak_256(buf.subarray(off + 32, off + len)), off);
    return Status.Ok;
  },
  open(buf, off, len, outId, outIdOff) {
    if (!inRange(buf, off, len) || !inRange(outId, outIdOff, 64)) return Status.Range;
    if (len < MIN) return Status.TooSmall;
    if (len > MAX) return Status.TooLarge;
    const digest = keccak_256(buf.subarray(off + 32, off + len));
    for (let i = 0; i < 32; i++) if (digest[i] !== buf[off + i]) return Status.BadHash;
    const sigHash = keccak_256(buf.subarray(off + HEAD, off + len));
    return recoverRaw(buf.subarray(off + 32, off + 96), buf[off + 96], sigHash, outId, outIdOff);
  },
};
