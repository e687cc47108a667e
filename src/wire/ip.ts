/**
 * IP addresses as discv4 carries them: 4 bytes for IPv4, 16 for IPv6.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors';

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes. Throws on anything else. */
export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return parseV4(ip, Buffer.allocUnsafe(4), 0);
  if (isIPv6(ip)) return parseV6(ip);
  throw new InvalidArgumentError(`invalid IP address: ${JSON.stringify(ip)}`);
}

function parseV4(ip: string, out: Buffer, off: number): Buffer {
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) out[off + i] = Number(parts[i]);
  return out;
}

function parseV6(text: string): Buffer {
  const out = Buffer.alloc(16);
  // Strip a zone index (fe80::1%eth0): it is not part of the address bytes.
  const pct = text.indexOf('%');
  let ip = pct >= 0 ? text.slice(0, pct) : text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) fills the last 4 bytes.
  let tailV4 = false;
  const lastColon = ip.lastIndexOf(':');
  if (ip.indexOf('.', lastColon) >= 0) {
    parseV4(ip.slice(lastColon + 1), out, 12);
    ip = `${ip.slice(0, lastColon + 1)}0:0`;
    tailV4 = true;
  }
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = new Array<number>(8).fill(0);
  headGroups.forEach((g, i) => (groups[i] = parseInt(g, 16)));
  tailGroups.forEach((g, i) => (groups[8 - tailGroups.length + i] = parseInt(g, 16)));
  for (let i = 0; i < (tailV4 ? 6 : 8); i++) out.writeUInt16BE(groups[i], 2 * i);
  return out;
}

/**
 * Text form of 4 or 16 IP bytes: dotted IPv4, RFC 5952 IPv6 (longest run
 * of two or more zero groups compressed, lowercase). Other lengths, which
 * only broken or hostile peers send, give `undefined`.
 */
export function ipToString(ip: Uint8Array): string | undefined {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  if (ip.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8) | ip[i + 1]);
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Accepts 4/16 bytes or text and returns bytes; throws InvalidArgumentError otherwise. */
export function toIpBytes(ip: Uint8Array | string): Uint8Array {
  if (typeof ip === 'string') return ipToBytes(ip);
  if (ip instanceof Uint8Array && (ip.length === 4 || ip.length === 16)) return ip;
  throw new InvalidArgumentError('ip must be an address string or 4/16 bytes');
}
