/**
 * A {@link Crypto} backend over `@ethereumjs/common`'s `customCrypto` hooks,
 * so that a DPT given a Common with (say) a WASM keccak or a hardware
 * signer uses them for every packet, as devp2p's DPT does.
 *
 * Only the hooks present are used; the rest falls back to the native core.
 * With no hook at all {@link cryptoFromCommon} returns undefined and callers
 * keep the one-call native seal/open path.
 */
import { Crypto, NativeStatus, nativeCrypto } from '../crypto';
import { InvalidArgumentError } from '../errors';
import { pk2id } from './util';

/** A signature as devp2p 10.0's `ecsign` (noble v1 `secp256k1.sign`) returns it. */
export interface EcsignResult {
  r: bigint | Uint8Array;
  s: bigint | Uint8Array;
  recovery?: number;
}

/**
 * The `customCrypto` hooks devp2p's DPT calls, all optional. Both signing
 * shapes are accepted: `ecsign` (devp2p 10.x) is preferred over
 * `ecdsaSign` (devp2p 6.x, secp256k1-node style).
 *
 * `ecsign` may return what each Common 10.x release types it as:
 * `{ r, s, recovery }` (10.0, noble v1), 65 bytes r || s || recovery
 * (10.1, its documented "recovered" form) or 64 bytes r || s (a bare
 * noble v2 `secp256k1.sign`, whose default output has no recovery id: it
 * is then found by recovering both candidates natively).
 */
export interface CustomCrypto {
  keccak256?: (msg: Uint8Array) => Uint8Array;
  ecsign?: (msgHash: Uint8Array, privateKey: Uint8Array) => EcsignResult | Uint8Array;
  ecdsaSign?: (msgHash: Uint8Array, privateKey: Uint8Array) => { signature: Uint8Array; recid: number };
  /** Returns the signer's public key: 65 bytes uncompressed when `compressed` is false. */
  ecdsaRecover?: (sig: Uint8Array, recId: number, hash: Uint8Array, compressed?: boolean) => Uint8Array;
}

/** The part of an `@ethereumjs/common` Common that the DPT reads; a Common instance fits. */
export interface CommonLike {
  customCrypto?: CustomCrypto;
}

// Packet layout (devp2p discv4.md): hash(32) || r || s || recid || type || RLP.
const HASH = 32;
const HEAD = 97;
const MIN_PACKET = HEAD + 1;
const MAX_PACKET = 1280;

// secp256k1 group order n, big-endian: a private key must be in [1, n).
const CURVE_N = Buffer.from('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141', 'hex');

/** True if [off, off+need) lies inside `b` (the native core's range rule). */
function inRange(b: Uint8Array, off: number, need: number): boolean {
  return b instanceof Uint8Array && Number.isInteger(off) && off >= 0 && off <= b.length && b.length - off >= need;
}

/** 1 <= key < n, checked before a hook sees the key so a bad key gives BadKey as natively. */
function isValidKey(key: Uint8Array): boolean {
  let zero = true;
  for (let i = 0; i < 32; i++) {
    if (key[i] !== 0) {
      zero = false;
      break;
    }
  }
  return !zero && Buffer.compare(key, CURVE_N) < 0;
}

/** Writes a 32-byte big-endian scalar (bigint or up to 32 bytes) at out[off..]. */
function writeScalar(v: bigint | Uint8Array, out: Uint8Array, off: number): void {
  if (v instanceof Uint8Array) {
    if (v.length > 32) throw new InvalidArgumentError('customCrypto signature scalar longer than 32 bytes');
    out.fill(0, off, off + 32 - v.length);
    out.set(v, off + 32 - v.length);
    return;
  }
  if (typeof v !== 'bigint' || v < 0n || v >> 256n !== 0n) {
    throw new InvalidArgumentError('customCrypto signature scalar is not a 256-bit bigint');
  }
  let x = v;
  for (let i = off + 31; i >= off; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

/** Writes an `ecsign` result as r || s || recid at out[off..]; see {@link CustomCrypto}. */
function writeEcsign(sig: EcsignResult | Uint8Array, hash: Uint8Array, priv: Uint8Array, out: Uint8Array, off: number): void {
  if (sig instanceof Uint8Array) {
    if (sig.length === 65) {
      out.set(sig, off);
      // Accept Ethereum's v = 27/28 too.
      if (out[off + 64] >= 27) out[off + 64] -= 27;
      return;
    }
    if (sig.length === 64) {
      out.set(sig, off);
      out[off + 64] = findRecid(out, off, hash, priv);
      return;
    }
    throw new InvalidArgumentError(`customCrypto.ecsign returned ${sig.length} bytes (want 64 or 65)`);
  }
  if (typeof sig.recovery !== 'number') {
    throw new InvalidArgumentError('customCrypto.ecsign returned no recovery id');
  }
  writeScalar(sig.r, out, off);
  writeScalar(sig.s, out, off + 32);
  out[off + 64] = sig.recovery;
}

/** The recovery id under which sig[off..+64] recovers to priv's public key. */
function findRecid(sig: Uint8Array, off: number, hash: Uint8Array, priv: Uint8Array): number {
  const want = new Uint8Array(64);
  const got = new Uint8Array(64);
  if (nativeCrypto.publicKeyInto(priv, want, 0) !== NativeStatus.Ok) {
    throw new InvalidArgumentError('privateKey is not a valid secp256k1 key');
  }
  // 2 and 3 occur only when the nonce point's x is >= n (odds ~2^-127); trying them costs nothing.
  for (let recid = 0; recid < 4; recid++) {
    if (nativeCrypto.recoverInto(sig, off, recid, hash, 0, got, 0) === NativeStatus.Ok && Buffer.compare(got, want) === 0) {
      return recid;
    }
  }
  throw new InvalidArgumentError('customCrypto.ecsign signature does not verify under the private key');
}

/**
 * A Crypto that uses the hooks of `common.customCrypto` and the native core
 * for the rest (`publicKeyInto` is always native: devp2p has no hook for
 * it). Undefined when there is no hook, so callers keep `nativeCrypto`.
 *
 * Hook exceptions while signing propagate (they are the caller's bug);
 * while recovering they become BadSignature, since the input is a
 * stranger's datagram and `open` must report, not throw.
 */
export function cryptoFromCommon(common?: CommonLike): Crypto | undefined {
  const hooks = common?.customCrypto;
  if (hooks === undefined || hooks === null) return undefined;
  const keccakHook = typeof hooks.keccak256 === 'function' ? hooks.keccak256 : undefined;
  const ecsignHook = typeof hooks.ecsign === 'function' ? hooks.ecsign : undefined;
  const ecdsaSignHook = typeof hooks.ecdsaSign === 'function' ? hooks.ecdsaSign : undefined;
  const recoverHook = typeof hooks.ecdsaRecover === 'function' ? hooks.ecdsaRecover : undefined;
  if (!keccakHook && !ecsignHook && !ecdsaSignHook && !recoverHook) return undefined;

  const keccak256Into: Crypto['keccak256Into'] = keccakHook
    ? (src, srcOff, srcLen, dst, dstOff) => {
        if (!inRange(src, srcOff, srcLen) || !inRange(dst, dstOff, 32)) {
          throw new InvalidArgumentError('keccak256: range outside the buffer');
        }
        const digest = keccakHook(src.subarray(srcOff, srcOff + srcLen));
        if (!(digest instanceof Uint8Array) || digest.length !== 32) {
          throw new InvalidArgumentError('customCrypto.keccak256 must return 32 bytes');
        }
        dst.set(digest, dstOff);
      }
    : nativeCrypto.keccak256Into;

  let signInto: Crypto['signInto'] = nativeCrypto.signInto;
  if (ecsignHook || ecdsaSignHook) {
    signInto = (hash, priv, out, outOff) => {
      if (!inRange(hash, 0, 32) || !inRange(priv, 0, 32) || !inRange(out, outOff, 65)) return NativeStatus.Range;
      const h = hash.subarray(0, 32);
      const k = priv.subarray(0, 32);
      if (!isValidKey(k)) return NativeStatus.BadKey;
      if (ecsignHook) {
        writeEcsign(ecsignHook(h, k), h, k, out, outOff);
      } else {
        const { signature, recid } = ecdsaSignHook!(h, k);
        if (!(signature instanceof Uint8Array) || signature.length !== 64) {
          throw new InvalidArgumentError('customCrypto.ecdsaSign must return a 64-byte signature');
        }
        out.set(signature, outOff);
        out[outOff + 64] = recid;
      }
      return NativeStatus.Ok;
    };
  }

  let recoverInto: Crypto['recoverInto'] = nativeCrypto.recoverInto;
  if (recoverHook) {
    recoverInto = (sig, sigOff, recid, hash, hashOff, out, outOff) => {
      if (!inRange(sig, sigOff, 64) || !inRange(hash, hashOff, 32) || !inRange(out, outOff, 64)) return NativeStatus.Range;
      if (!Number.isInteger(recid) || recid < 0 || recid > 3) return NativeStatus.BadSignature;
      let pk: Uint8Array;
      try {
        pk = recoverHook(sig.subarray(sigOff, sigOff + 64), recid, hash.subarray(hashOff, hashOff + 32), false);
        // Accept what a hook that ignores `compressed` may give back.
        if (pk.length === 33) pk = pk2id(pk);
        else if (pk.length === 65 && pk[0] === 0x04) pk = pk.subarray(1);
        else if (pk.length !== 64) return NativeStatus.BadSignature;
      } catch {
        return NativeStatus.BadSignature;
      }
      out.set(pk, outOff);
      return NativeStatus.Ok;
    };
  }

  const sighashBuf = new Uint8Array(32);
  const digestBuf = new Uint8Array(32);
  return {
    name: 'customCrypto',
    keccak256Into,
    publicKeyInto: nativeCrypto.publicKeyInto,
    signInto,
    recoverInto,
    seal(buf, off, len, priv) {
      if (!inRange(buf, off, len) || !inRange(priv, 0, 32)) return NativeStatus.Range;
      if (len < MIN_PACKET) return NativeStatus.TooSmall;
      // sighash = keccak(type || RLP); the signature goes between hash and type.
      keccak256Into(buf, off + HEAD, len - HEAD, sighashBuf, 0);
      const st = signInto(sighashBuf, priv, buf, off + HASH);
      if (st !== NativeStatus.Ok) return st;
      keccak256Into(buf, off + HASH, len - HASH, buf, off);
      return NativeStatus.Ok;
    },
    open(buf, off, len, outId, outIdOff) {
      if (!inRange(buf, off, len) || !inRange(outId, outIdOff, 64)) return NativeStatus.Range;
      // Cheap rejects first, in the native core's order (geth v4wire.Decode).
      if (len < MIN_PACKET) return NativeStatus.TooSmall;
      if (len > MAX_PACKET) return NativeStatus.TooLarge;
      keccak256Into(buf, off + HASH, len - HASH, digestBuf, 0);
      for (let i = 0; i < HASH; i++) if (digestBuf[i] !== buf[off + i]) return NativeStatus.BadHash;
      keccak256Into(buf, off + HEAD, len - HEAD, sighashBuf, 0);
      return recoverInto(buf, off + HASH, buf[off + HEAD - 1], sighashBuf, 0, outId, outIdOff);
    },
  };
}
