/**
 * Error types of the whole library. Every error carries a stable string
 * `code` that callers can switch on; messages are for humans and may change.
 *
 * The read loop never constructs these per datagram: it works with the
 * numeric {@link DecodeStatus} and counts drops. Errors are thrown only at
 * API edges (decodePacket, promises, key and DB loading).
 */
import { constants as osConstants } from 'node:os';

export class DiscError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * native/core.h `Status`: the results of the native seal, open, sign,
 * recover and publicKey. This is its one TypeScript definition (re-exported
 * by src/crypto); src/crypto/native.ts checks the loaded addon against it and
 * test/native-contract.test.ts checks the header. A `const enum`, so uses
 * compile to plain numbers.
 */
export const enum NativeStatus {
  Ok = 0,
  TooSmall = 1,
  TooLarge = 2,
  BadHash = 3,
  BadSignature = 4,
  BadKey = 5,
  Range = 6,
}

/** Numeric decode results: what the hot path returns and counts. */
export enum DecodeStatus {
  // 0..4 are the native `open`'s results, passed through as they are.
  Ok = NativeStatus.Ok,
  TooSmall = NativeStatus.TooSmall,
  TooLarge = NativeStatus.TooLarge,
  BadHash = NativeStatus.BadHash,
  BadSignature = NativeStatus.BadSignature,
  // 5.. are the codec's own. (The native BadKey and Range, also 5 and 6,
  // are not results of `open` over a valid range.)
  UnknownType = 5,
  BadRlp = 6,
  Expired = 7,
}

/** The stable `code` strings of {@link DecodeError}, indexed by status. */
export const DECODE_ERROR_CODES = [
  'OK',
  'TOO_SMALL',
  'TOO_LARGE',
  'BAD_HASH',
  'BAD_SIGNATURE',
  'UNKNOWN_TYPE',
  'BAD_RLP',
  'EXPIRED',
] as const;

export type DecodeErrorCode = Exclude<(typeof DECODE_ERROR_CODES)[number], 'OK'>;

const DECODE_MESSAGES: Record<DecodeErrorCode, string> = {
  TOO_SMALL: 'packet too small (< 98 bytes)',
  TOO_LARGE: 'packet too large (> 1280 bytes)',
  BAD_HASH: 'hash mismatch: packet[0:32] != keccak256(packet[32:])',
  BAD_SIGNATURE: 'invalid signature: sender key cannot be recovered',
  UNKNOWN_TYPE: 'unknown packet type',
  BAD_RLP: 'malformed packet data (RLP or field shape)',
  EXPIRED: 'packet expired',
};

export class DecodeError extends DiscError {
  declare readonly code: DecodeErrorCode;
  /** The numeric status, as counted by the read loop. */
  readonly status: DecodeStatus;
  constructor(status: DecodeStatus, detail?: string) {
    const code = DECODE_ERROR_CODES[status] as DecodeErrorCode;
    super(code, detail ? `${DECODE_MESSAGES[code]}: ${detail}` : DECODE_MESSAGES[code]);
    this.status = status;
  }
}

/** Bad arguments to an encoding or crypto call (wrong length, bad key). */
export class InvalidArgumentError extends DiscError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A request got no (complete) reply before its deadline. */
export class TimeoutError extends DiscError {
  constructor(message = 'request timed out') {
    super('TIMEOUT', message);
  }
}

/** The transport (or node) was closed while the request was in flight, or before it was made. */
export class ClosedError extends DiscError {
  constructor(message = 'transport closed') {
    super('CLOSED', message);
  }
}

/** The pending-reply queue is at its bound; the request fails at once instead of queueing. */
export class QueueFullError extends DiscError {
  constructor(message = 'too many pending requests') {
    super('QUEUE_FULL', message);
  }
}

/** What went wrong, in plain words, and what an operator can do about it. */
export interface OsProblem {
  reason: string;
  fix: string;
}

/** The errno name of `code`: Node's string, or the number LMDB's errors carry (`code: 13` is EACCES). */
function errnoName(code: unknown): string {
  if (typeof code === 'string') return code;
  if (typeof code === 'number' && code > 0) {
    for (const [name, n] of Object.entries(osConstants.errno)) if (n === code) return name;
  }
  return '';
}

/**
 * An operating-system error (errno code, or LMDB's text for one) in plain
 * words, with what an operator can do about it (naming `flag`, the option
 * that chose the path or address; `on` says which of the two it is): one
 * source for every "cannot read key file / create node DB / bind UDP /
 * serve metrics" message. Undefined for errors that are not the file
 * system's or the network's.
 */
export function osProblem(err: unknown, flag = '--datadir', on: 'path' | 'port' = 'path'): OsProblem | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = errnoName(e?.code);
  const text = typeof e?.message === 'string' ? e.message : String(err);
  switch (code) {
    case 'ENOENT':
      return { reason: 'no such file or directory', fix: 'check the path, or create the missing directory' };
    case 'ENOTDIR':
      return { reason: 'a part of the path is a regular file, not a directory', fix: `move that file away, or choose another ${flag}` };
    case 'EEXIST':
      return { reason: 'a file is in the way where a directory should be', fix: `move that file away, or choose another ${flag}` };
    case 'EISDIR':
      return { reason: 'it is a directory, not a file', fix: `move the directory away, or choose another ${flag}` };
    case 'EACCES':
    case 'EPERM':
      return on === 'port'
        ? { reason: 'permission denied', fix: `ports below 1024 need root or CAP_NET_BIND_SERVICE: choose another ${flag} port (1024 or above), or grant the capability` }
        : { reason: 'permission denied', fix: `make the directory and its files readable and writable by the user running discv4 (chown), or choose another ${flag}` };
    case 'EROFS':
      return { reason: 'the file system is read-only', fix: `choose a ${flag} on a writable file system` };
    case 'ENOSPC':
      return { reason: 'no space left on the device', fix: 'free some disk space' };
    case 'EADDRINUSE':
      return { reason: 'address already in use', fix: `another process listens there (another node?): stop it, or choose another ${flag} port` };
    case 'EADDRNOTAVAIL':
      return { reason: 'no interface of this machine has that address', fix: `choose for ${flag} an address this machine has, or 0.0.0.0` };
  }
  // LMDB reports some errno values as text ("Permission denied: Attempting to setup locks").
  if (/permission denied/i.test(text)) return osProblem({ code: 'EACCES' }, flag, on);
  if (/no space left/i.test(text)) return osProblem({ code: 'ENOSPC' }, flag, on);
  if (/read-only file system/i.test(text)) return osProblem({ code: 'EROFS' }, flag, on);
  return undefined;
}

/**
 * `reason; fix` from {@link osProblem}, or the error's own message for
 * errors it does not know: the tail of every such one-line message.
 */
export function osExplain(err: unknown, flag = '--datadir', on: 'path' | 'port' = 'path'): string {
  const p = osProblem(err, flag, on);
  if (p !== undefined) return `${p.reason}; ${p.fix}`;
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message !== '' ? message : String(err);
}
