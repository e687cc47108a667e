/**
 * enode URLs (devp2p): enode://<128 hex id>@<ip>:<tcp-port>[?discport=<udp-port>].
 * IPv6 hosts are written in brackets. Host names are kept as text for the
 * caller to resolve (bootnodes); everything else is validated here.
 */
import { isIP } from 'node:net';
import { DiscError } from '../errors';
import { ipToBytes, ipToString } from '../wire/ip';

export interface EnodeInfo {
  id: Buffer;
  /** 4 or 16 bytes, or undefined when the URL names a host to resolve. */
  ip?: Buffer;
  host: string;
  tcpPort: number;
  udpPort: number;
}

export class EnodeError extends DiscError {
  constructor(message: string) {
    super('BAD_ENODE', message);
  }
}

function port(text: string | null, what: string, url: string): number {
  const n = Number(text);
  if (text === null || !/^\d+$/.test(text) || n > 0xffff) throw new EnodeError(`invalid ${what} port in ${url}`);
  return n;
}

export function parseEnode(url: string): EnodeInfo {
  const m = /^enode:\/\/([0-9a-fA-F]{128})@(\[[^\]]+\]|[^:/?]+):(\d+)(\?.*)?$/.exec(url.trim());
  if (m === null) {
    throw new EnodeError(`invalid enode URL ${JSON.stringify(url)}: expected enode://<128 hex chars>@<ip>:<port>[?discport=<port>]`);
  }
  const [, hexId, rawHost, tcpText, query] = m;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  const tcpPort = port(tcpText, 'TCP', url);
  let udpPort = tcpPort;
  if (query !== undefined) {
    const params = new URLSearchParams(query.slice(1));
    if (params.has('discport')) udpPort = port(params.get('discport'), 'discovery', url);
  }
  if (udpPort === 0) throw new EnodeError(`enode URL ${url} has no UDP (discovery) port`);
  const info: EnodeInfo = { id: Buffer.from(hexId, 'hex'), host, tcpPort, udpPort };
  if (isIP(host) !== 0) info.ip = ipToBytes(host);
  return info;
}

export function formatEnode(id: Uint8Array, ip: Uint8Array, tcpPort: number, udpPort: number): string {
  const text = ipToString(ip) ?? '0.0.0.0';
  const host = ip.length === 16 ? `[${text}]` : text;
  const disc = udpPort === tcpPort ? '' : `?discport=${udpPort}`;
  return `enode://${Buffer.from(id).toString('hex')}@${host}:${tcpPort}${disc}`;
}
