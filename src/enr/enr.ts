/**
 * The throwing API over records (EIP-778, "v4" identity scheme): typed
 * errors, the text form `enr:<base64url>` and a decoder that takes either
 * form. The non-throwing `parseRecord` (record.ts) stays what the transport
 * uses per packet; this is for API edges (CLI, config, user input).
 */
import { Crypto, nativeCrypto } from '../crypto';
import { DiscError } from '../errors';
import { ipToString } from '../wire/ip';
import { readBigUint, readItem, RlpItem } from '../wire/rlp';
import { DecodedRecord, parseRecord, RecordError } from './record';

/** The stable `code` of an {@link EnrError}, one per EIP-778 rule plus the text form. */
export type EnrErrorCode =
  | 'ENR_TOO_BIG'
  | 'ENR_BAD_RLP'
  | 'ENR_INCOMPLETE_LIST'
  | 'ENR_INCOMPLETE_PAIR'
  | 'ENR_NOT_SORTED'
  | 'ENR_DUPLICATE_KEY'
  | 'ENR_UNKNOWN_IDENTITY_SCHEME'
  | 'ENR_BAD_PUBKEY'
  | 'ENR_INVALID_SIGNATURE'
  | 'ENR_BAD_TEXT';

/** parseRecord's reasons (the enr.json errorKinds) -> error codes. */
export const ENR_ERROR_CODES: Readonly<Record<RecordError, EnrErrorCode>> = {
  'too-big': 'ENR_TOO_BIG',
  rlp: 'ENR_BAD_RLP',
  'incomplete-list': 'ENR_INCOMPLETE_LIST',
  'incomplete-pair': 'ENR_INCOMPLETE_PAIR',
  'not-sorted': 'ENR_NOT_SORTED',
  'duplicate-key': 'ENR_DUPLICATE_KEY',
  'unknown-identity-scheme': 'ENR_UNKNOWN_IDENTITY_SCHEME',
  'missing-or-bad-pubkey': 'ENR_BAD_PUBKEY',
  'invalid-signature': 'ENR_INVALID_SIGNATURE',
};

/** Human text of each reason (shared with the CLI). */
export const ENR_ERROR_MESSAGES: Readonly<Record<RecordError, string>> = {
  'too-big': 'larger than 300 bytes',
  rlp: 'malformed RLP',
  'incomplete-list': 'too few elements',
  'incomplete-pair': 'a key without a value',
  'not-sorted': 'keys not sorted',
  'duplicate-key': 'duplicate key',
  'unknown-identity-scheme': 'identity scheme is not "v4"',
  'missing-or-bad-pubkey': 'missing or bad secp256k1 key',
  'invalid-signature': 'invalid signature',
};

export class EnrError extends DiscError {
  declare readonly code: EnrErrorCode;
  /** The enr.json error kind, when the record itself was invalid (not its text form). */
  readonly kind?: RecordError;
  constructor(code: EnrErrorCode, message: string, kind?: RecordError) {
    super(code, message);
    this.kind = kind;
  }
  static fromKind(kind: RecordError): EnrError {
    return new EnrError(ENR_ERROR_CODES[kind], `invalid ENR: ${ENR_ERROR_MESSAGES[kind]}`, kind);
  }
}

/** `enr:` + URL-safe base64 without padding (EIP-778 text form). */
export function encodeEnrText(rlp: Uint8Array): string {
  return `enr:${Buffer.from(rlp.buffer, rlp.byteOffset, rlp.length).toString('base64url')}`;
}

/**
 * The record RLP of `enr:<base64url>`. Checks the alphabet itself: Node's
 * base64url decoder skips characters outside it instead of failing.
 * Padding is tolerated (some tools emit it), whitespace around is trimmed.
 * Throws EnrError('ENR_BAD_TEXT'); the record itself is not checked.
 */
export function decodeEnrText(text: string): Buffer {
  const t = text.trim();
  if (!t.startsWith('enr:')) throw new EnrError('ENR_BAD_TEXT', 'invalid ENR text: expected enr:<base64url>');
  const b64 = t.slice(4).replace(/=+$/, '');
  // A length of 4n+1 cannot come from base64 (a lone 6-bit group).
  if (b64.length === 0 || !/^[A-Za-z0-9_-]+$/.test(b64) || b64.length % 4 === 1) {
    throw new EnrError('ENR_BAD_TEXT', 'invalid ENR text: not base64url (A-Z a-z 0-9 - _)');
  }
  return Buffer.from(b64, 'base64url');
}

/** Decodes and verifies a record given as RLP bytes or `enr:` text. Throws EnrError. */
export function decodeEnr(input: Uint8Array | string, crypto: Crypto = nativeCrypto): DecodedRecord {
  const rlp = typeof input === 'string' ? decodeEnrText(input) : input;
  const r = parseRecord(rlp, crypto);
  if (typeof r === 'string') throw EnrError.fromKind(r);
  return r;
}

const item: RlpItem = { isList: false, start: 0, end: 0 };

/** The payload of a raw RLP string pair value, or undefined for a list or bad RLP. */
export function pairBytes(raw: Buffer | undefined): Buffer | undefined {
  if (raw === undefined || !readItem(raw, 0, raw.length, item) || item.isList) return undefined;
  return raw.subarray(item.start, item.end);
}

/** A pair value as an unsigned integer (ports, seq-like values), or undefined. */
export function pairUint(raw: Buffer | undefined): bigint | undefined {
  const b = pairBytes(raw);
  if (b === undefined || b.length > 8 || (b.length > 0 && b[0] === 0)) return undefined;
  return readBigUint(b, 0, b.length);
}

/** A pair value as an IP string (4 or 16 bytes), or undefined. */
export function pairIp(raw: Buffer | undefined): string | undefined {
  const b = pairBytes(raw);
  return b !== undefined && (b.length === 4 || b.length === 16) ? ipToString(b) : undefined;
}
