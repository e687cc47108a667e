/**
 * A tiny authoritative DNS server for tests: UDP on 127.0.0.1, port 0,
 * answering TXT queries from a map of names. Only what Node's resolver
 * (c-ares) needs: header + one question in, the question echoed and TXT
 * answers out (RFC 1035 sections 4.1 and 3.3.14).
 */
import * as dgram from 'node:dgram';

const TYPE_TXT = 16;
const TYPE_ANY = 255;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

export class TestDnsServer {
  /** TXT data by lowercased name; an array gives several records. */
  readonly records = new Map<string, string | string[]>();
  /** Queries received (including ones not answered). */
  queries = 0;
  /** The lowercased name of each parsed query, in order. */
  readonly log: string[] = [];
  /** When set, queries are counted but never answered: a server that times out. */
  silent = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly port: number,
  ) {}

  static async start(records: ReadonlyMap<string, string | string[]> = new Map()): Promise<TestDnsServer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new TestDnsServer(socket, socket.address().port);
    for (const [name, text] of records) server.set(name, text);
    socket.on('message', (msg, rinfo) => server.onQuery(msg, rinfo));
    return server;
  }

  /** `ip:port`, the form DNS's `dnsServerAddress` option takes. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  set(name: string, text: string | string[]): void {
    this.records.set(name.toLowerCase(), text);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onQuery(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.queries++;
    if (this.silent) return;
    const reply = answer(msg, this.records, this.log);
    if (reply) this.socket.send(reply, rinfo.port, rinfo.address);
  }
}

/** The response to one query, or undefined for something too broken to answer. */
function answer(msg: Buffer, records: ReadonlyMap<string, string | string[]>, log: string[]): Buffer | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let p = 12;
  for (;;) {
    if (p >= msg.length) return undefined;
    const len = msg[p++];
    if (len === 0) break;
    // Queries carry no compression pointers (0xc0) or extended labels.
    if (len > 63 || p + len > msg.length) return reply(msg, 12, RCODE_FORMERR, []);
    labels.push(msg.toString('latin1', p, p + len));
    p += len;
  }
  if (p + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(p);
  const questionEnd = p + 4;
  const name = labels.join('.').toLowerCase();
  log.push(name);
  const data = records.get(name);
  if (data === undefined) return reply(msg, questionEnd, RCODE_NXDOMAIN, []);
  if (qtype !== TYPE_TXT && qtype !== TYPE_ANY) return reply(msg, questionEnd, 0, []); // NODATA
  return reply(msg, questionEnd, 0, typeof data === 'string' ? [data] : data);
}

function reply(query: Buffer, questionEnd: number, rcode: number, texts: string[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // QR | opcode and RD copied from the query | AA | rcode.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | rcode, 2);
  header.writeUInt16BE(questionEnd > 12 ? 1 : 0, 4);
  header.writeUInt16BE(texts.length, 6);
  const parts = [header, query.subarray(12, questionEnd)];
  for (const text of texts) {
    const rdata = characterStrings(Buffer.from(text, 'utf8'));
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(TYPE_TXT, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(60, 6); // TTL seconds
    rr.writeUInt16BE(rdata.length, 10);
    parts.push(rr, rdata);
  }
  return Buffer.concat(parts);
}

/** A TXT RDATA: the text as <length><bytes> strings of at most 255 bytes each. */
function characterStrings(text: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length || i === 0; i += 255) {
    const chunk = text.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}
