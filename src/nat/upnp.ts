/**
 * UPnP IGD client, written for this package (see the README's NAT section
 * for why no npm library is used): SSDP M-SEARCH over UDP, the device
 * description over HTTP GET, then SOAP calls to the WANIPConnection /
 * WANPPPConnection control URL (GetExternalIPAddress, AddPortMapping,
 * DeletePortMapping), as geth's p2p/nat/natupnp.go does via goupnp.
 *
 * XML is read with bounded regexes: bodies are capped at MAX_BODY bytes and
 * every request has a deadline.
 */
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import { DiscError } from '../errors';
import { checkPort } from './pmp';
import type { NatMapping, PortMapper } from './types';

export const SSDP_ADDRESS = '239.255.255.250';
export const SSDP_PORT = 1900;
const MAX_BODY = 256 * 1024;
const IGD_TARGETS = [
  'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
];
const SERVICE_RE = /^urn:schemas-upnp-org:service:WAN(IP|PPP)Connection:\d+$/;

export interface UpnpOptions {
  /** Where M-SEARCH goes (default 239.255.255.250:1900; tests use loopback). */
  ssdpAddress?: string;
  ssdpPort?: number;
  /** Deadline of discovery and of each HTTP request (default 3000 ms). */
  timeoutMs?: number;
  /** Local address to bind the SSDP socket to. */
  localAddress?: string;
}

export async function discoverUpnp(opts: UpnpOptions = {}): Promise<PortMapper> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const deadline = Date.now() + timeoutMs;
  const locations = await ssdpSearch(opts, timeoutMs);
  const errors: string[] = [];
  for (const loc of locations) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const { body, localAddress } = await httpCall('GET', loc, undefined, {}, left);
      const svc = findWanService(body, loc);
      if (!svc) {
        errors.push(`${loc}: no WANIPConnection/WANPPPConnection service`);
        continue;
      }
      return new UpnpClient(svc.serviceType, svc.controlUrl, localAddress, timeoutMs);
    } catch (e) {
      errors.push(`${loc}: ${(e as Error).message}`);
    }
  }
  if (locations.length === 0) {
    throw new DiscError('NAT_TIMEOUT', `UPnP: no gateway answered SSDP discovery within ${timeoutMs} ms`);
  }
  throw new DiscError('NAT_FAILED', `UPnP: no usable internet gateway (${errors.join('; ') || 'timed out'})`);
}

/** M-SEARCH; collects LOCATIONs until the first answer plus a short grace, or the deadline. */
function ssdpSearch(opts: UpnpOptions, timeoutMs: number): Promise<string[]> {
  const address = opts.ssdpAddress ?? SSDP_ADDRESS;
  const port = opts.ssdpPort ?? SSDP_PORT;
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    const found: string[] = [];
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      try {
        sock.close();
      } catch {
        /* closed */
      }
      if (err) reject(err);
      else resolve(found);
    };
    const timer = setTimeout(() => finish(), Math.max(1, timeoutMs - 100));
    sock.on('error', (e) => finish(new DiscError('NAT_FAILED', `UPnP SSDP discovery: ${e.message}`)));
    sock.on('message', (msg) => {
      if (msg.length > 8192) return;
      const text = msg.toString('latin1');
      if (!/^HTTP\/1\.[01] 200/i.test(text)) return;
      const m = /\r?\nlocation:[ \t]*([^\r\n]+)/i.exec(text);
      if (!m) return;
      const loc = m[1]!.trim();
      if (!/^http:\/\//i.test(loc) || found.includes(loc)) return;
      found.push(loc);
      if (!grace) grace = setTimeout(() => finish(), 200);
    });
    sock.bind({ port: 0, address: opts.localAddress }, () => {
      if (done) return;
      if (/^2(2[4-9]|3\d)\./.test(address)) {
        try {
          sock.setMulticastTTL(2); // UDA 1.1: M-SEARCH TTL defaults to 2
        } catch {
          /* keep the default */
        }
      }
      const host = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
      for (const st of IGD_TARGETS) {
        const req = Buffer.from(
          `M-SEARCH * HTTP/1.1\r\nHOST: ${host}\r\nST: ${st}\r\nMAN: "ssdp:discover"\r\nMX: 2\r\n\r\n`,
          'latin1',
        );
        sock.send(req, port, address, (e) => {
          if (e) finish(new DiscError('NAT_FAILED', `UPnP SSDP discovery to ${host}: ${e.message}`));
        });
      }
    });
  });
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}\\b[^>]*>([^<]{0,2048})</(?:[\\w-]+:)?${name}>`, 'i').exec(xml);
  return m ? decodeXml(m[1]!.trim()) : undefined;
}

function findWanService(xml: string, location: string): { serviceType: string; controlUrl: string } | undefined {
  const base = tag(xml, 'URLBase') || location;
  const re = /<service\b[^>]*>([\s\S]{0,8192}?)<\/service>/gi;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const type = tag(m[1]!, 'serviceType');
    const ctl = tag(m[1]!, 'controlURL');
    if (type && ctl && SERVICE_RE.test(type)) {
      try {
        return { serviceType: type, controlUrl: new URL(ctl, base).toString() };
      } catch {
        continue;
      }
    }
  }
  return undefined;
}

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function encodeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface HttpResult {
  status: number;
  body: string;
  localAddress: string;
}

function httpCall(
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new DiscError('NAT_FAILED', `bad URL ${url}`));
      return;
    }
    if (u.protocol !== 'http:') {
      reject(new DiscError('NAT_FAILED', `unsupported URL ${url}`));
      return;
    }
    let done = false;
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const req = httpRequest(
      u,
      {
        method,
        headers: body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) fail(new DiscError('NAT_FAILED', `${method} ${url}: response larger than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('error', (e) => fail(new DiscError('NAT_FAILED', `${method} ${url}: ${e.message}`)));
        res.on('end', () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const local = (res.socket?.localAddress ?? '').replace(/^::ffff:/, '');
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), localAddress: local });
        });
      },
    );
    const timer = setTimeout(
      () => fail(new DiscError('NAT_TIMEOUT', `${method} ${url}: no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (e) => fail(new DiscError('NAT_FAILED', `${method} ${url}: ${e.message}`)));
    req.end(body);
  });
}

class UpnpClient implements PortMapper {
  readonly kind = 'upnp' as const;
  private closed = false;

  constructor(
    readonly serviceType: string,
    readonly controlUrl: string,
    /** Our address as the gateway sees it (NewInternalClient). */
    readonly internalClient: string,
    private readonly timeoutMs: number,
  ) {}

  async externalIp(): Promise<string> {
    const res = await this.soap('GetExternalIPAddress', []);
    const ip = tag(res, 'NewExternalIPAddress');
    if (!ip || !isIP(ip)) {
      throw new DiscError('NAT_FAILED', `UPnP GetExternalIPAddress at ${this.controlUrl}: no valid address in answer`);
    }
    return ip;
  }

  async map(
    protocol: 'udp' | 'tcp',
    internalPort: number,
    externalPort: number,
    lifetimeSec: number,
    description: string,
  ): Promise<NatMapping> {
    checkPort(internalPort, 'internal');
    checkPort(externalPort, 'external');
    const args = (lease: number): [string, string][] => [
      ['NewRemoteHost', ''],
      ['NewExternalPort', String(externalPort)],
      ['NewProtocol', protocol.toUpperCase()],
      ['NewInternalPort', String(internalPort)],
      ['NewInternalClient', this.internalClient],
      ['NewEnabled', '1'],
      ['NewPortMappingDescription', description],
      ['NewLeaseDuration', String(lease)],
    ];
    let lease = Math.max(0, Math.floor(lifetimeSec));
    try {
      await this.soap('AddPortMapping', args(lease));
    } catch (e) {
      // 725 OnlyPermanentLeasesSupported: retry with a permanent lease (removed on stop).
      if (lease === 0 || (e as { upnpCode?: number }).upnpCode !== 725) throw e;
      lease = 0;
      await this.soap('AddPortMapping', args(0));
    }
    return { protocol, internalPort, externalPort, lifetimeSec: lease };
  }

  async unmap(protocol: 'udp' | 'tcp', _internalPort: number, externalPort: number): Promise<void> {
    checkPort(externalPort, 'external');
    await this.soap('DeletePortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', String(externalPort)],
      ['NewProtocol', protocol.toUpperCase()],
    ]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async soap(action: string, args: [string, string][]): Promise<string> {
    if (this.closed) throw new DiscError('CLOSED', 'UPnP client closed');
    const body =
      '<?xml version="1.0"?>\r\n' +
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
      `<s:Body><u:${action} xmlns:u="${this.serviceType}">` +
      args.map(([k, v]) => `<${k}>${encodeXml(v)}</${k}>`).join('') +
      `</u:${action}></s:Body></s:Envelope>\r\n`;
    const res = await httpCall(
      'POST',
      this.controlUrl,
      body,
      { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: `"${this.serviceType}#${action}"` },
      this.timeoutMs,
    );
    if (res.status === 200) return res.body;
    const code = tag(res.body, 'errorCode');
    const desc = tag(res.body, 'errorDescription');
    const detail = code ? `UPnP error ${code}${desc ? ` (${desc})` : ''}` : `HTTP ${res.status}`;
    const err = new DiscError('NAT_FAILED', `UPnP ${action} at ${this.controlUrl} failed: ${detail}`);
    if (code && /^\d+$/.test(code)) (err as DiscError & { upnpCode?: number }).upnpCode = Number(code);
    throw err;
  }
}
