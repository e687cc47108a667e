/**
 * Loads the addon built by `npm install` (binding.gyp -> build/Release).
 * The raw functions take (buffer, offset) pairs and return a status code;
 * see native/core.h. Only src/crypto talks to this module.
 */
import * as path from 'node:path';

export interface NativeBinding {
  keccak256(src: Uint8Array, srcOff: number, srcLen: number, dst: Uint8Array, dstOff: number): number;
  publicKey(priv: Uint8Array, privOff: number, out: Uint8Array, outOff: number): number;
  sign(hash: Uint8Array, hashOff: number, priv: Uint8Array, privOff: number, out: Uint8Array, outOff: number): number;
  recover(
    sig: Uint8Array,
    sigOff: number,
    recid: number,
    hash: Uint8Array,
    hashOff: number,
    out: Uint8Array,
    outOff: number,
  ): number;
  seal(buf: Uint8Array, off: number, len: number, priv: Uint8Array, privOff: number): number;
  open(buf: Uint8Array, off: number, len: number, outId: Uint8Array, outIdOff: number): number;
}

/** native/core.h `Status`. 1..4 double as DecodeStatus values. */
export const enum NativeStatus {
  Ok = 0,
  TooSmall = 1,
  TooLarge = 2,
  BadHash = 3,
  BadSignature = 4,
  BadKey = 5,
  Range = 6,
}

function load(): NativeBinding {
  // This file runs from src/crypto (tests, via tsx) and dist/cjs/crypto
  // (the built package), so look for the package root upwards.
  const tried: string[] = [];
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    dir = path.dirname(dir);
    for (const build of ['Release', 'Debug']) {
      const file = path.join(dir, 'build', build, 'discv4_native.node');
      tried.push(file);
      try {
        return require(file) as NativeBinding;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      }
    }
  }
  throw new Error(
    `discv4-native: the native addon is not built (run \`npm install\` or \`npx node-gyp rebuild\`); looked in:\n  ${tried.join('\n  ')}`,
  );
}

export const native: NativeBinding = load();
