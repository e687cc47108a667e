/**
 * Error types of the whole library. Every error carries a stable string
 * `code` that callers can switch on; messages are for humans and may change.
 *
 * The read loop never constructs these per datagram: it works with the
 * numeric {@link DecodeStatus} and counts drops. Errors are thrown only at
 * API edges (decodePacket, promises, key and DB loading).
 */
export class DiscError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Numeric decode results: what the hot path returns and counts. */
export enum DecodeStatus {
  Ok = 0,
  // 1..4 are produced by the native `open` (native/core.h Status).
  TooSmall = 1,
  TooLarge = 2,
  BadHash = 3,
  BadSignature = 4,
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
