/**
 * IP classification and CIDR lists, as geth's p2p/netutil: which addresses
 * may be relayed to which peers (CheckRelayIP), and the netrestrict list.
 * IPs are 4 or 16 raw bytes throughout.
 */
import { DiscError } from '../errors';
import { ipToBytes, ipToString } from '../wire/ip';

export interface Cidr {
  /** Network bytes (4 or 16), host bits cleared. */
  net: Uint8Array;
  bits: number;
}

/** Parses "a.b.c.d/n" or "x::/n". Throws DiscError('BAD_CIDR'). */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  let net: Uint8Array;
  try {
    net = ipToBytes(slash < 0 ? text : text.slice(0, slash));
  } catch {
    throw new DiscError('BAD_CIDR', `invalid CIDR ${JSON.stringify(text)}: bad address`);
  }
  const max = net.length * 8;
  const bits = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))) {
    throw new DiscError('BAD_CIDR', `invalid CIDR ${JSON.stringify(text)}: prefix length must be 0..${max}`);
  }
  const masked = new Uint8Array(net);
  for (let i = 0; i < masked.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    masked[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return { net: masked, bits };
}

export function cidrContains(c: Cidr, ip: Uint8Array): boolean {
  if (ip.length !== c.net.length) return false;
  const full = c.bits >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== c.net[i]) return false;
  const rest = c.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[full] & mask) === c.net[full];
}

export function cidrToString(c: Cidr): string {
  return `${ipToString(c.net)}/${c.bits}`;
}

/** A list of networks (geth's netutil.Netlist): the netrestrict option. */
export class Netlist {
  readonly cidrs: Cidr[];
  constructor(cidrs: Iterable<string | Cidr> = []) {
    this.cidrs = [...cidrs].map((c) => (typeof c === 'string' ? parseCidr(c) : c));
  }
  /** Parses "10.0.0.0/8, 192.168.0.0/16" (commas and/or whitespace). */
  static parse(text: string): Netlist {
    return new Netlist(text.split(/[\s,]+/).filter((s) => s !== ''));
  }
  contains(ip: Uint8Array): boolean {
    for (const c of this.cidrs) if (cidrContains(c, ip)) return true;
    return false;
  }
  toString(): string {
    return this.cidrs.map(cidrToString).join(',');
  }
}

const lan4 = new Netlist(['0.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
const lan6 = new Netlist(['fe80::/10', 'fc00::/7']);
// Documentation, benchmarking, 6to4 relay and other special-purpose blocks
// (IANA special-purpose registries, as geth's special4/special6).
const special4 = new Netlist([
  '0.0.0.0/8',
  '192.0.0.0/29',
  '192.0.0.9/32',
  '192.0.0.170/32',
  '192.0.0.171/32',
  '192.0.2.0/24',
  '192.31.196.0/24',
  '192.52.193.0/24',
  '192.88.99.0/24',
  '192.175.48.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '255.255.255.255/32',
]);
const special6 = new Netlist([
  '100::/64',
  '2001::/32',
  '2001:1::1/128',
  '2001:2::/48',
  '2001:3::/32',
  '2001:4:112::/48',
  '2001:5::/32',
  '2001:10::/28',
  '2001:20::/28',
  '2001:db8::/32',
  '2002::/16',
]);

export function isLoopback(ip: Uint8Array): boolean {
  if (ip.length === 4) return ip[0] === 127;
  if (ip.length !== 16) return false;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}

export function isUnspecified(ip: Uint8Array): boolean {
  for (let i = 0; i < ip.length; i++) if (ip[i] !== 0) return false;
  return true;
}

function isMulticast(ip: Uint8Array): boolean {
  return ip.length === 4 ? ip[0] >= 224 && ip[0] <= 239 : ip[0] === 0xff;
}

/** Loopback or private-network address (geth netutil.IsLAN). */
export function isLAN(ip: Uint8Array): boolean {
  if (isLoopback(ip)) return true;
  return ip.length === 4 ? lan4.contains(ip) : lan6.contains(ip);
}

/** Special-purpose address that no node should advertise (geth netutil.IsSpecialNetwork). */
export function isSpecialNetwork(ip: Uint8Array): boolean {
  if (isMulticast(ip)) return true;
  return ip.length === 4 ? special4.contains(ip) : special6.contains(ip);
}

/**
 * Why `addr` must not be relayed to `sender`, or undefined if it may be
 * (geth netutil.CheckRelayIP): loopback addresses only go to loopback
 * senders and LAN addresses only to LAN senders, so a node never hands a
 * remote peer addresses it cannot reach (or, worse, could abuse).
 */
export function relayIPError(sender: Uint8Array, addr: Uint8Array): string | undefined {
  if (addr.length !== 4 && addr.length !== 16) return 'invalid IP';
  if (isUnspecified(addr)) return 'unspecified IP';
  if (isSpecialNetwork(addr)) return 'special network';
  if (isLoopback(addr) && !isLoopback(sender)) return 'loopback address from non-loopback host';
  if (isLAN(addr) && !isLAN(sender)) return 'LAN address from WAN host';
  return undefined;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d), 16 bytes. */
export function isV4Mapped(ip: Uint8Array): boolean {
  if (ip.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}
