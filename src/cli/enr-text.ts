/**
 * The text form of node records and the node arguments of the CLI.
 *
 * EIP-778: "The textual form of a node record is the base64 encoding of its
 * RLP representation, prefixed by enr:. Implementations should use the URL
 * safe base64 alphabet and omit padding characters."
 *
 * A node argument is an enode URL (enode://<id>@<host>:<tcp>[?discport=<udp>])
 * or an ENR (enr:...), whose signature is verified before anything is sent.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { decodeEnrText as decodeEnrTextStrict, EnrError, ENR_ERROR_MESSAGES, encodeEnrText } from '../enr/enr';
import { parseRecord, RecordError } from '../enr/record';
import { DiscError } from '../errors';
import { EnodeError, formatEnode, parseEnode } from '../node/enode';
import { ipToBytes, ipToString } from '../wire/ip';
import { readBigUint, readItem, RlpItem } from '../wire/rlp';
import { CliError } from './errors';
import type { NodeRecordInfo } from '../table/table';

/** An ENR argument that is not a valid record (a usage error in the CLI). */
export class EnrTextError extends DiscError {
  constructor(message: string) {
    super('BAD_ENR', message);
  }
}

/** The text form lives in src/enr; re-exported for the CLI's callers. */
export { encodeEnrText };

/** Short form of an argument for error messages: ENRs and enodes are long. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}

/**
 * The record RLP of `enr:<base64url>`. Checks the alphabet itself: Node's
 * base64url decoder skips characters outside it instead of failing.
 * Padding is tolerated (some tools emit it), whitespace around is trimmed.
 */
export function decodeEnrText(text: string): Buffer {
  try {
    return decodeEnrTextStrict(text);
  } catch (err) {
    // The CLI's usage error (code BAD_ENR), with the argument quoted.
    if (err instanceof EnrError) throw new EnrTextError(err.message.replace('invalid ENR text', `invalid ENR ${quote(text.trim())}`));
    throw err;
  }
}

const RECORD_ERRORS: Readonly<Record<RecordError, string>> = ENR_ERROR_MESSAGES;

/** A node to talk to, from an enode URL or an ENR (`record` set for an ENR). */
export interface NodeArg extends NodeRecordInfo {
  id: Buffer;
  ip: Buffer;
  record?: Buffer;
}

/** Decodes and verifies an ENR text into a node with a UDP endpoint. Throws EnrTextError. */
export function nodeFromEnr(text: string): NodeArg {
  const rlp = decodeEnrText(text);
  const rec = parseRecord(rlp);
  if (typeof rec === 'string') throw new EnrTextError(`invalid ENR ${quote(text.trim())}: ${RECORD_ERRORS[rec]}`);
  const ep = rec.udpEndpoint();
  if (ep === undefined) throw new EnrTextError(`ENR ${quote(text.trim())} has no IP and UDP port to reach the node at`);
  return { id: rec.nodeId, ip: ep.ip, udpPort: ep.udpPort, tcpPort: rec.tcpPort ?? 0, seq: rec.seq, record: rlp };
}

/**
 * An enode URL or ENR argument. Host names in enode URLs are resolved
 * (DNS failures are runtime errors, exit 1); malformed arguments throw
 * EnodeError / EnrTextError (usage errors, exit 2).
 */
export async function parseNodeArg(text: string): Promise<NodeArg> {
  const t = text.trim();
  if (t.startsWith('enr:')) return nodeFromEnr(t);
  if (!t.startsWith('enode://')) {
    throw new EnodeError(`invalid node ${quote(t)}: expected an enode URL (enode://<128 hex>@<ip>:<port>) or an ENR (enr:...)`);
  }
  const e = parseEnode(t);
  let ip = e.ip;
  if (ip === undefined) {
    try {
      ip = ipToBytes((await dnsLookup(e.host)).address);
    } catch (err) {
      throw new CliError(`cannot resolve host ${e.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return { id: e.id, ip, udpPort: e.udpPort, tcpPort: e.tcpPort };
}

/** Checks an enode URL or ENR without network access (for --bootnodes); returns what Discovery takes. */
export function checkBootnode(text: string): string | NodeArg {
  const t = text.trim();
  if (t.startsWith('enr:')) return nodeFromEnr(t);
  const e = parseEnode(t);
  if (e.ip === undefined && isIP(e.host) === 0 && !/^[A-Za-z0-9.-]+$/.test(e.host)) {
    throw new EnodeError(`invalid host ${JSON.stringify(e.host)} in ${quote(t)}`);
  }
  return t;
}

export function enodeOf(n: { id: Uint8Array; ip: Uint8Array; udpPort: number; tcpPort: number }): string {
  return formatEnode(n.id, n.ip, n.tcpPort, n.udpPort);
}

const item: RlpItem = { isList: false, start: 0, end: 0 };

/** The payload of a raw RLP string item, or undefined for a list or bad RLP. */
function payload(raw: Buffer): Buffer | undefined {
  if (!readItem(raw, 0, raw.length, item) || item.isList) return undefined;
  return raw.subarray(item.start, item.end);
}

function uintText(b: Buffer | undefined): string | undefined {
  if (b === undefined || b.length > 8) return undefined;
  return readBigUint(b, 0, b.length).toString();
}

/**
 * A verified record as `key value` lines for people: id, seq, endpoints,
 * the enode URL, then any other keys as hex of their RLP.
 */
export function describeRecord(rlp: Uint8Array): Array<[string, string]> {
  const rec = parseRecord(rlp);
  if (typeof rec === 'string') return [['invalid', RECORD_ERRORS[rec]]];
  const rows: Array<[string, string]> = [
    ['id', rec.nodeId.toString('hex')],
    ['seq', rec.seq.toString()],
  ];
  const known = new Set(['id', 'secp256k1']);
  for (const k of ['ip', 'udp', 'tcp', 'ip6', 'udp6', 'tcp6']) {
    const raw = rec.pairs.get(k);
    if (raw === undefined) continue;
    known.add(k);
    const v = payload(raw);
    const text = k.startsWith('ip') ? (v !== undefined ? ipToString(v) : undefined) : uintText(v);
    rows.push([k, text ?? `0x${raw.toString('hex')} (malformed)`]);
  }
  const ep = rec.udpEndpoint();
  if (ep !== undefined) rows.push(['enode', formatEnode(rec.nodeId, ep.ip, rec.tcpPort ?? 0, ep.udpPort)]);
  for (const [k, raw] of rec.pairs) {
    if (!known.has(k)) rows.push([k, `0x${raw.toString('hex')}`]);
  }
  return rows;
}

/** `rows` as aligned, indented lines. */
export function formatRows(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`).join('\n');
}
