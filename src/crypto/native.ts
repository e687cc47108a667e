/**
 * Loads the addon built by `npm install` (binding.gyp -> build/Release).
 * The raw functions take (buffer, offset) pairs and return a status code;
 * see native/core.h. Only src/crypto and the native socket talk to this
 * module.
 *
 * It also holds the TypeScript definitions of the numbers the addon and JS
 * share (native/core.h, native/udp.h): each defined once, as a `const enum`
 * so uses compile to plain numbers. At load the addon's own values (its
 * `contract` export) are compared with them, and the addon is refused on any
 * difference; test/native-contract.test.ts compares the headers.
 */
import * as path from 'node:path';
import { NativeStatus } from '../errors';

export { NativeStatus } from '../errors';

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
  /** The shared numbers as compiled: {@link NATIVE_CONTRACT}'s groups and names. */
  readonly contract: unknown;
}

/** native/udp.h `SendResult`: what UdpSocket send() and sealSend() return; negative values are libuv errnos. */
export const enum SendResult {
  /** Sent, or handed to a crypto thread or the batch's sendmmsg: the buffer is free. */
  Sent = 0,
  /** The socket buffer was full: copied into libuv's send queue. */
  Queued = 1,
  /** A bounded send queue was full: not sent. */
  Dropped = 2,
  /** sealSend() before setKey(), or setKey() with an invalid key. */
  BadKey = NativeStatus.BadKey,
}

/** native/udp.h `RecordStatus`: a datagram record's status before openBatch() writes a {@link NativeStatus}. */
export const enum RecordStatus {
  /** Recorded: openBatch() opens it. */
  ToOpen = -1,
  /** Set by JS: rejected before the crypto, not opened. */
  Skip = -2,
}

/**
 * native/udp.h `Meta`: the record the native socket writes per received
 * datagram, after the slab. Each field's byte offset (all multiples of 4:
 * the int32 fields are read as words at offset / 4), as the previous field's
 * plus its size, and the record's size.
 */
export const enum DatagramRecord {
  /** int32: the datagram's offset in the slab. */
  Off = 0,
  /** int32: its length. */
  Len = Off + 4,
  /** int32: 4 or 6. */
  Family = Len + 4,
  /** int32: the sender's port. */
  Port = Family + 4,
  /** 16 bytes: the sender's IP (the first 4 for family 4). */
  Ip = Port + 4,
  /** int32: a {@link RecordStatus}, then open()'s {@link NativeStatus}. */
  Status = Ip + 16,
  /** 64 bytes: the sender's node id once opened (after 3 reserved int32s). */
  Id = Status + 4 + 3 * 4,
  /** 112. */
  Size = Id + 64,
}

/** native/udp.h `UdpLimit`: bounds of the UdpSocket constructor's arguments. */
export const enum UdpLimit {
  MaxThreads = 256,
  MaxWorkQueue = 65536,
}

/** Every member of const enum E with its value, as a run-time object (tsc rejects a missing, extra or different one). */
type Members<E> = { readonly [K in keyof E]: E[K] };

/**
 * The TypeScript side of the addon's `contract` export, group by group
 * (keyed by the C++ names: core.h `Status`, udp.h `Meta`...). The enums
 * above are the definitions; these objects only make them visible at run
 * time, for the load check below and the contract test.
 */
export const NATIVE_CONTRACT = {
  Status: {
    Ok: NativeStatus.Ok, TooSmall: NativeStatus.TooSmall, TooLarge: NativeStatus.TooLarge,
    BadHash: NativeStatus.BadHash, BadSignature: NativeStatus.BadSignature,
    BadKey: NativeStatus.BadKey, Range: NativeStatus.Range,
  } satisfies Members<typeof NativeStatus>,
  SendResult: {
    Sent: SendResult.Sent, Queued: SendResult.Queued, Dropped: SendResult.Dropped, BadKey: SendResult.BadKey,
  } satisfies Members<typeof SendResult>,
  RecordStatus: { ToOpen: RecordStatus.ToOpen, Skip: RecordStatus.Skip } satisfies Members<typeof RecordStatus>,
  Meta: {
    Off: DatagramRecord.Off, Len: DatagramRecord.Len, Family: DatagramRecord.Family, Port: DatagramRecord.Port,
    Ip: DatagramRecord.Ip, Status: DatagramRecord.Status, Id: DatagramRecord.Id, Size: DatagramRecord.Size,
  } satisfies Members<typeof DatagramRecord>,
  UdpLimit: { MaxThreads: UdpLimit.MaxThreads, MaxWorkQueue: UdpLimit.MaxWorkQueue } satisfies Members<typeof UdpLimit>,
} as const;

/** Where each group of {@link NATIVE_CONTRACT} is defined, for messages. */
const DEFINED_IN: Record<keyof typeof NATIVE_CONTRACT, string> = {
  Status: 'native/core.h Status / src/errors.ts NativeStatus',
  SendResult: 'native/udp.h SendResult / src/crypto/native.ts SendResult',
  RecordStatus: 'native/udp.h RecordStatus / src/crypto/native.ts RecordStatus',
  Meta: 'native/udp.h Meta / src/crypto/native.ts DatagramRecord',
  UdpLimit: 'native/udp.h UdpLimit / src/crypto/native.ts UdpLimit',
};

/**
 * The first difference between `contract` (the addon's export) and
 * {@link NATIVE_CONTRACT}, in words, or undefined when every group has
 * exactly the same names and values. Groups the addon has beyond these (its
 * `Packet` sizes) are not the crypto layer's; test/native-contract.test.ts
 * checks them against src/wire.
 */
export function nativeContractMismatch(contract: unknown): string | undefined {
  if (typeof contract !== 'object' || contract === null) return 'it has no `contract` export (built from older sources?)';
  for (const group of Object.keys(NATIVE_CONTRACT) as (keyof typeof NATIVE_CONTRACT)[]) {
    const want: Record<string, number> = NATIVE_CONTRACT[group];
    const have = (contract as Record<string, unknown>)[group];
    if (typeof have !== 'object' || have === null) return `it has no ${group} (${DEFINED_IN[group]})`;
    const values = have as Record<string, unknown>;
    for (const name of Object.keys(want)) {
      if (values[name] !== want[name]) {
        return `${group}.${name} is ${String(values[name])} in the addon but ${want[name]} in TypeScript (${DEFINED_IN[group]})`;
      }
    }
    for (const name of Object.keys(values)) {
      if (!(name in want)) return `the addon's ${group}.${name} has no TypeScript definition (${DEFINED_IN[group]})`;
    }
  }
  return undefined;
}

/** Throws unless the addon's `contract` matches {@link NATIVE_CONTRACT}; runs once, at load. */
export function checkNativeContract(contract: unknown): void {
  const mismatch = nativeContractMismatch(contract);
  if (mismatch !== undefined) {
    throw new Error(
      `discv4-native: the native addon does not match its TypeScript definitions: ${mismatch}. ` +
        'Rebuild it (`npx node-gyp rebuild`), or make the two definitions agree.',
    );
  }
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
checkNativeContract(native.contract);
