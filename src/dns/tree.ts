/**
 * EIP-1459 node trees (`enrtree://`): entry parsing, root signatures,
 * subdomain names, and a tree builder for operators and tests. Pure: no
 * I/O. Behaviour follows go-ethereum's p2p/dnsdisc/tree.go.
 *
 * A tree is a set of TXT entries. The root, at the domain itself, is
 *   enrtree-root:v1 e=<enr-root> l=<link-root> seq=<n> sig=<base64url r||s||v>
 * and every other entry lives at `<name>.<domain>`, where name is
 * base32(keccak256(entry text)[0:16]): the tree is content-addressed, so a
 * client checks each fetched entry against the name it asked for.
 */
import { Crypto, keccak256, nativeCrypto, sign } from '../crypto';
import { decodeEnr, decodeEnrText, encodeEnrText } from '../enr/enr';
import { compressNodeId, DecodedRecord } from '../enr/record';
import { DiscError, InvalidArgumentError } from '../errors';

export type DnsErrorCode =
  /** The `enrtree://<key>@<domain>` URL (or a link entry) is malformed. */
  | 'DNS_BAD_URL'
  /** A TXT entry has an unknown type or bad syntax, or its record is invalid. */
  | 'DNS_BAD_ENTRY'
  /** The root is not signed by the tree's key. */
  | 'DNS_BAD_SIGNATURE'
  /** An entry does not hash to the name it was fetched under. */
  | 'DNS_HASH_MISMATCH'
  /** The lookup failed, timed out or returned no usable TXT record. */
  | 'DNS_LOOKUP_FAILED'
  /** `dnsServerAddress` is not an IP or IP:port. */
  | 'DNS_BAD_SERVER';

export class DnsError extends DiscError {
  declare readonly code: DnsErrorCode;
  constructor(code: DnsErrorCode, message: string) {
    super(code, message);
  }
}

export const ROOT_PREFIX = 'enrtree-root:';
export const LINK_PREFIX = 'enrtree://';
export const BRANCH_PREFIX = 'enrtree-branch:';
export const RECORD_PREFIX = 'enr:';
const ROOT_V1 = 'enrtree-root:v1';

/**
 * Children per branch (geth tree.go): a child is 26 base32 characters plus
 * a comma, and a branch must stay under ~370 bytes so that the UDP answer,
 * with the query name echoed, fits in 512 bytes: 370 / (1 + 16*13/8) = 13.
 */
export const MAX_CHILDREN = 13;
/** Names are at least 12 bytes of hash (geth minHashLength) and at most 32. */
const MIN_HASH_BYTES = 12;
/** Bytes of keccak256 in a name: 16, base32-encoded in 26 characters. */
const NAME_HASH_BYTES = 16;

export interface RootEntry {
  type: 'root';
  /** Name of the root of the record subtree. */
  eroot: string;
  /** Name of the root of the link subtree. */
  lroot: string;
  seq: number;
  /** 65 bytes r || s || v. */
  signature: Buffer;
  /** What the signature covers: the text up to (not including) ` sig=`. */
  signedText: string;
}

export interface BranchEntry {
  type: 'branch';
  children: string[];
}

export interface EnrEntry {
  type: 'enr';
  text: string;
  record: DecodedRecord;
}

export interface LinkEntry {
  type: 'link';
  /** 33-byte compressed secp256k1 key of the linked tree. */
  publicKey: Buffer;
  domain: string;
}

export type TreeEntry = RootEntry | BranchEntry | EnrEntry | LinkEntry;

// --- base32 (RFC 4648 alphabet, no padding), as names and keys use ---

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(data: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes base32, case-insensitively (DNS names are) and tolerating `=`
 * padding. Returns undefined for characters outside the alphabet or a
 * length no byte string encodes to (1, 3 or 6 characters mod 8).
 */
export function base32Decode(text: string): Buffer | undefined {
  const s = text.replace(/=+$/, '').toUpperCase();
  const rem = s.length % 8;
  if (rem === 1 || rem === 3 || rem === 6) return undefined;
  const out = Buffer.allocUnsafe(Math.floor((s.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B32.indexOf(s[i]);
    if (v < 0) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** True for a base32 name of 12..32 bytes of hash (geth isValidHash). */
export function isValidHash(name: string): boolean {
  const b = base32Decode(name);
  return b !== undefined && b.length >= MIN_HASH_BYTES && b.length <= 32;
}

/** The name an entry is published under: base32(keccak256(text)[0:16]). */
export function subdomainOf(text: string): string {
  return base32Encode(keccak256(Buffer.from(text, 'utf8')).subarray(0, NAME_HASH_BYTES));
}

/** True if `text` hashes to `name` (names may be truncated hashes, as geth allows). */
export function hashMatches(name: string, text: string): boolean {
  const want = base32Decode(name);
  if (want === undefined || want.length < MIN_HASH_BYTES || want.length > 32) return false;
  return keccak256(Buffer.from(text, 'utf8')).subarray(0, want.length).equals(want);
}

// --- tree URLs and link entries ---

/** Parses `enrtree://<base32 compressed key>@<domain>`. Throws DnsError('DNS_BAD_URL'). */
export function parseTreeUrl(url: string): { publicKey: Buffer; domain: string } {
  if (typeof url !== 'string' || !url.startsWith(LINK_PREFIX)) {
    throw new DnsError('DNS_BAD_URL', `tree URL must start with '${LINK_PREFIX}'`);
  }
  const rest = url.slice(LINK_PREFIX.length);
  const at = rest.indexOf('@');
  if (at < 0) throw new DnsError('DNS_BAD_URL', 'tree URL has no public key (expected enrtree://<key>@<domain>)');
  const publicKey = base32Decode(rest.slice(0, at));
  if (publicKey === undefined || publicKey.length !== 33 || !isCompressedPoint(publicKey)) {
    throw new DnsError('DNS_BAD_URL', 'tree URL public key is not a base32 compressed secp256k1 key');
  }
  const domain = rest.slice(at + 1);
  if (domain.length === 0 || /[\s@/]/.test(domain)) throw new DnsError('DNS_BAD_URL', 'tree URL has no valid domain');
  return { publicKey, domain };
}

/** `enrtree://<key>@<domain>` for a 33-byte compressed key or a 64-byte node id. */
export function formatTreeUrl(publicKey: Uint8Array, domain: string): string {
  const key = publicKey.length === 64 ? compressNodeId(publicKey) : publicKey;
  if (key.length !== 33) throw new InvalidArgumentError('publicKey must be 33 (compressed) or 64 bytes');
  return `${LINK_PREFIX}${base32Encode(key)}@${domain}`;
}

// secp256k1 field prime: a compressed key's x must give a y on y^2 = x^3 + 7.
const P = 2n ** 256n - 2n ** 32n - 977n;

function isCompressedPoint(key: Buffer): boolean {
  if (key[0] !== 0x02 && key[0] !== 0x03) return false;
  const x = BigInt(`0x${key.toString('hex', 1)}`);
  if (x >= P) return false;
  // Euler's criterion: x^3 + 7 must be a square mod p.
  return modPow((x * x * x + 7n) % P, (P - 1n) / 2n) === 1n;
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  for (let b = base % P, e = exp; e > 0n; e >>= 1n, b = (b * b) % P) {
    if (e & 1n) result = (result * b) % P;
  }
  return result;
}

// --- entries ---

const ROOT_RE = /^enrtree-root:v1 e=(\S+) l=(\S+) seq=(\d+) sig=(\S+)\s*$/;

/**
 * Parses any tree entry. Records are decoded and their signatures checked;
 * a root's signature is not (see {@link verifyRoot}: it needs the URL's key).
 * Throws DnsError('DNS_BAD_ENTRY').
 */
export function parseEntry(text: string, crypto: Crypto = nativeCrypto): TreeEntry {
  if (text.startsWith(ROOT_PREFIX)) return parseRoot(text);
  if (text.startsWith(LINK_PREFIX)) {
    try {
      return { type: 'link', ...parseTreeUrl(text) };
    } catch (e) {
      throw new DnsError('DNS_BAD_ENTRY', `invalid link entry: ${(e as Error).message}`);
    }
  }
  if (text.startsWith(BRANCH_PREFIX)) {
    const body = text.slice(BRANCH_PREFIX.length);
    // An empty branch is valid: the subtree of a tree without links.
    const children = body === '' ? [] : body.split(',');
    if (!children.every(isValidHash)) throw new DnsError('DNS_BAD_ENTRY', 'invalid branch entry: bad child hash');
    return { type: 'branch', children };
  }
  if (text.startsWith(RECORD_PREFIX)) {
    try {
      return { type: 'enr', text, record: decodeEnr(text, crypto) };
    } catch (e) {
      throw new DnsError('DNS_BAD_ENTRY', `invalid enr entry: ${(e as Error).message}`);
    }
  }
  throw new DnsError('DNS_BAD_ENTRY', 'unknown entry type');
}

function parseRoot(text: string): RootEntry {
  const m = ROOT_RE.exec(text);
  if (m === null) throw new DnsError('DNS_BAD_ENTRY', 'invalid root entry: syntax');
  const [, eroot, lroot, seqText, sigText] = m;
  if (!isValidHash(eroot) || !isValidHash(lroot)) throw new DnsError('DNS_BAD_ENTRY', 'invalid root entry: bad child hash');
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq)) throw new DnsError('DNS_BAD_ENTRY', 'invalid root entry: seq out of range');
  // Unpadded base64url is the spec; padding is tolerated. Node's decoder
  // skips foreign characters instead of failing, so check the alphabet here.
  const sig64 = sigText.replace(/=+$/, '');
  const signature = /^[A-Za-z0-9_-]+$/.test(sig64) ? Buffer.from(sig64, 'base64url') : undefined;
  if (signature === undefined || signature.length !== 65) {
    throw new DnsError('DNS_BAD_ENTRY', 'invalid root entry: signature is not 65 bytes of base64url');
  }
  return { type: 'root', eroot, lroot, seq, signature, signedText: text.slice(0, text.indexOf(' sig=')) };
}

const HALF_ORDER = Buffer.from('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 'hex');

/**
 * True if the root is signed by `publicKey` (33 bytes, compressed). Like
 * geth's VerifySignature, the recovery byte is not trusted (both recids are
 * tried) and high-S signatures are rejected.
 */
export function verifyRoot(root: RootEntry, publicKey: Uint8Array, crypto: Crypto = nativeCrypto): boolean {
  const sig = root.signature;
  if (sig.length !== 65 || Buffer.compare(sig.subarray(32, 64), HALF_ORDER) > 0) return false;
  const hash = keccak256(Buffer.from(root.signedText, 'utf8'), crypto);
  const key = Buffer.from(publicKey);
  const out = Buffer.allocUnsafe(64);
  for (let recid = 0; recid < 2; recid++) {
    if (crypto.recoverInto(sig, 0, recid, hash, 0, out, 0) === 0 && compressNodeId(out).equals(key)) return true;
  }
  return false;
}

// --- building and signing trees ---

/** The signed root text for the given subtree roots. */
export function signRoot(eroot: string, lroot: string, seq: number, privateKey: Uint8Array, crypto: Crypto = nativeCrypto): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new InvalidArgumentError('seq must be a non-negative integer');
  const signed = `${ROOT_V1} e=${eroot} l=${lroot} seq=${seq}`;
  const sig = sign(keccak256(Buffer.from(signed, 'utf8'), crypto), privateKey, crypto);
  return `${signed} sig=${sig.toString('base64url')}`;
}

/**
 * All TXT entries of a tree of `records` (ENR text or RLP) and `links`
 * (`enrtree://` URLs), signed with `privateKey`: fully qualified name ->
 * text, the root under `domain` itself. Laid out as geth's MakeTree, so the
 * same input gives the same tree: records sorted by node id, branches of at
 * most 13 children. Throws EnrError for an invalid record, DnsError for a
 * bad link. Publish the tree at `formatTreeUrl(nodeId, domain)`.
 */
export function makeTree(
  records: ReadonlyArray<string | Uint8Array>,
  links: readonly string[],
  seq: number,
  privateKey: Uint8Array,
  domain: string,
  crypto: Crypto = nativeCrypto,
): Map<string, string> {
  const decoded = records.map((r) => {
    const rlp = typeof r === 'string' ? decodeEnrText(r) : r;
    return { nodeId: decodeEnr(rlp, crypto).nodeId, text: encodeEnrText(rlp) };
  });
  decoded.sort((a, b) => Buffer.compare(a.nodeId, b.nodeId));
  for (const l of links) parseTreeUrl(l);

  const entries = new Map<string, string>();
  const subtree = (leaves: string[]): string => {
    const top = build(leaves, entries);
    const name = subdomainOf(top);
    entries.set(name, top);
    return name;
  };
  const eroot = subtree(decoded.map((d) => d.text));
  const lroot = subtree([...links]);

  const out = new Map<string, string>([[domain, signRoot(eroot, lroot, seq, privateKey, crypto)]]);
  for (const [name, text] of entries) out.set(`${name}.${domain}`, text);
  return out;
}

/**
 * The top entry of a subtree over `leaves`; every other entry of it goes
 * into `entries` by name. One leaf is its own subtree (geth Tree.build).
 */
function build(leaves: string[], entries: Map<string, string>): string {
  if (leaves.length === 1) return leaves[0];
  if (leaves.length <= MAX_CHILDREN) {
    for (const e of leaves) entries.set(subdomainOf(e), e);
    return BRANCH_PREFIX + leaves.map(subdomainOf).join(',');
  }
  const subtrees: string[] = [];
  for (let i = 0; i < leaves.length; i += MAX_CHILDREN) subtrees.push(build(leaves.slice(i, i + MAX_CHILDREN), entries));
  return build(subtrees, entries);
}
