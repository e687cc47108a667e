/** Fake NAT gateways on 127.0.0.1 for the NAT tests. Nothing here sends off-host. */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PmpRequest {
  op: number;
  internalPort: number;
  externalPort: number;
  lifetime: number;
}

export class FakePmpGateway {
  readonly requests: PmpRequest[] = [];
  /** 'ok' answers, 'silent' never answers, a number answers with that result code. */
  mode: 'ok' | 'silent' | number = 'ok';
  externalIp = '203.0.113.5';
  /** If set, the gateway assigns this external port instead of the suggested one. */
  assignPort: number | undefined;
  private sock: Socket | undefined;
  port = 0;

  async start(): Promise<this> {
    const sock = createSocket('udp4');
    this.sock = sock;
    sock.on('message', (msg, rinfo) => {
      if (msg.length < 2 || msg[0] !== 0) return;
      const op = msg[1]!;
      if (op === 0) this.requests.push({ op, internalPort: 0, externalPort: 0, lifetime: 0 });
      else if ((op === 1 || op === 2) && msg.length >= 12) {
        this.requests.push({
          op,
          internalPort: msg.readUInt16BE(4),
          externalPort: msg.readUInt16BE(6),
          lifetime: msg.readUInt32BE(8),
        });
      } else return;
      if (this.mode === 'silent') return;
      const code = this.mode === 'ok' ? 0 : this.mode;
      let res: Buffer;
      if (op === 0) {
        res = Buffer.alloc(12);
        res.set(this.externalIp.split('.').map(Number), 8);
      } else {
        const req = this.requests[this.requests.length - 1]!;
        res = Buffer.alloc(16);
        res.writeUInt16BE(req.internalPort, 8);
        res.writeUInt16BE(req.lifetime === 0 ? 0 : (this.assignPort ?? req.externalPort), 10);
        res.writeUInt32BE(req.lifetime, 12);
      }
      res[1] = 128 + op;
      res.writeUInt16BE(code, 2);
      res.writeUInt32BE(1234, 4);
      sock.send(res, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    this.port = (sock.address() as AddressInfo).port;
    return this;
  }

  maps(): PmpRequest[] {
    return this.requests.filter((r) => r.op !== 0);
  }

  async close(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

export interface SoapCall {
  action: string;
  args: Record<string, string>;
  soapAction: string;
}

const SERVICE = 'urn:schemas-upnp-org:service:WANIPConnection:1';

export class FakeUpnpGateway {
  readonly calls: SoapCall[] = [];
  readonly searches: string[] = [];
  externalIp = '198.51.100.9';
  /** Answer AddPortMapping with this UPnP error code (a SOAP fault, HTTP 500). */
  addFault: number | undefined;
  /** Answer only lease 0 (error 725 otherwise). */
  permanentOnly = false;
  /** Accept SOAP requests but never answer them. */
  soapHang = false;
  /** Serve a description without any WAN*Connection service. */
  noWanService = false;
  /** Don't answer SSDP at all. */
  ssdpSilent = false;
  ssdpPort = 0;
  httpPort = 0;
  private ssdp: Socket | undefined;
  private http: Server | undefined;

  async start(): Promise<this> {
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/desc.xml') {
          res.writeHead(200, { 'Content-Type': 'text/xml' });
          res.end(this.description());
          return;
        }
        if (req.method === 'POST' && req.url === '/ctl/ipconn') {
          if (this.soapHang) return;
          const body = Buffer.concat(chunks).toString('utf8');
          const m = /<u:(\w+)[^>]*>([\s\S]*)<\/u:\1>/.exec(body);
          if (!m) {
            res.writeHead(400).end();
            return;
          }
          const args: Record<string, string> = {};
          for (const a of m[2]!.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) args[a[1]!] = a[2]!;
          this.calls.push({ action: m[1]!, args, soapAction: String(req.headers.soapaction ?? '') });
          this.answer(m[1]!, args, res);
          return;
        }
        res.writeHead(404).end();
      });
    });
    this.http = http;
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    this.httpPort = (http.address() as AddressInfo).port;

    const ssdp = createSocket('udp4');
    this.ssdp = ssdp;
    ssdp.on('message', (msg, rinfo) => {
      const text = msg.toString('latin1');
      if (!text.startsWith('M-SEARCH * HTTP/1.1')) return;
      this.searches.push(text);
      if (this.ssdpSilent) return;
      const st = /\r\nST: ([^\r\n]+)/i.exec(text)?.[1] ?? '';
      const res =
        'HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nEXT:\r\n' +
        `LOCATION: http://127.0.0.1:${this.httpPort}/desc.xml\r\nSERVER: fake/1.0 UPnP/1.0\r\nST: ${st}\r\n` +
        'USN: uuid:fake-igd::' + st + '\r\n\r\n';
      ssdp.send(Buffer.from(res, 'latin1'), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => ssdp.bind(0, '127.0.0.1', () => r()));
    this.ssdpPort = (ssdp.address() as AddressInfo).port;
    return this;
  }

  callsOf(action: string): SoapCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  private description(): string {
    return `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
 <specVersion><major>1</major><minor>0</minor></specVersion>
 <device>
  <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
  <friendlyName>Fake IGD</friendlyName>
  <serviceList><service>
   <serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
   <serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId>
   <controlURL>/ctl/l3f</controlURL><eventSubURL>/evt/l3f</eventSubURL><SCPDURL>/l3f.xml</SCPDURL>
  </service></serviceList>
  <deviceList><device>
   <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
   <deviceList><device>
    <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
    <serviceList><service>
     <serviceType>${this.noWanService ? 'urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1' : SERVICE}</serviceType>
     <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
     <controlURL>/ctl/ipconn</controlURL><eventSubURL>/evt/ipconn</eventSubURL><SCPDURL>/ipconn.xml</SCPDURL>
    </service></serviceList>
   </device></deviceList>
  </device></deviceList>
 </device>
</root>`;
  }

  private answer(action: string, args: Record<string, string>, res: import('node:http').ServerResponse): void {
    const ok = (inner: string) => {
      res.writeHead(200, { 'Content-Type': 'text/xml; charset="utf-8"' });
      res.end(
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' +
          `<u:${action}Response xmlns:u="${SERVICE}">${inner}</u:${action}Response></s:Body></s:Envelope>`,
      );
    };
    const fault = (code: number, desc: string) => {
      res.writeHead(500, { 'Content-Type': 'text/xml; charset="utf-8"' });
      res.end(
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>' +
          '<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>' +
          `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode>` +
          `<errorDescription>${desc}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`,
      );
    };
    if (action === 'GetExternalIPAddress') return ok(`<NewExternalIPAddress>${this.externalIp}</NewExternalIPAddress>`);
    if (action === 'AddPortMapping') {
      if (this.addFault !== undefined) return fault(this.addFault, 'ConflictInMappingEntry');
      if (this.permanentOnly && args['NewLeaseDuration'] !== '0') return fault(725, 'OnlyPermanentLeasesSupported');
      return ok('');
    }
    if (action === 'DeletePortMapping') return ok('');
    return fault(401, 'Invalid Action');
  }

  async close(): Promise<void> {
    const s = this.ssdp;
    const h = this.http;
    this.ssdp = undefined;
    this.http = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    if (h) {
      h.closeAllConnections();
      await new Promise<void>((r) => h.close(() => r()));
    }
  }
}
