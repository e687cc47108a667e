/**
 * NAT-PMP client (RFC 6886), written for this package: no npm NAT-PMP
 * client is maintained (nat-pmp 1.0.0 is a decade old).
 *
 * Each request uses its own UDP socket and is retransmitted (250 ms,
 * doubling, RFC 6886 section 3.1) until an answer from the gateway arrives
 * or `timeoutMs` passes. IPv4 only, as the protocol is.
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { DiscError } from '../errors';
import type { NatMapping, PortMapper } from './types';

export const NAT_PMP_PORT = 5351;

const RESULT_TEXT: Record<number, string> = {
  1: 'unsupported version',
  2: 'not authorized / refused',
  3: 'network failure',
  4: 'out of resources',
  5: 'unsupported opcode',
};

export interface NatPmpOptions {
  gateway: string;
  /** Gateway UDP port; 5351 unless a test points it elsewhere. */
  port?: number;
  /** Overall deadline of one request, retransmissions included (default 3000 ms). */
  timeoutMs?: number;
}

export function natPmp(opts: NatPmpOptions): PortMapper {
  if (!isIPv4(opts.gateway)) {
    throw new DiscError('BAD_NAT', `NAT-PMP gateway must be an IPv4 address, got "${opts.gateway}"`);
  }
  return new NatPmpClient(opts.gateway, opts.port ?? NAT_PMP_PORT, opts.timeoutMs ?? 3000);
}

class NatPmpClient implements PortMapper {
  readonly kind = 'pmp' as const;
  private closed = false;
  private readonly inflight = new Set<() => void>();

  constructor(
    readonly gateway: string,
    readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  async externalIp(): Promise<string> {
    const res = await this.request(Buffer.from([0, 0]), 0, 12);
    return `${res[8]}.${res[9]}.${res[10]}.${res[11]}`;
  }

  async map(
    protocol: 'udp' | 'tcp',
    internalPort: number,
    externalPort: number,
    lifetimeSec: number,
    _description: string,
  ): Promise<NatMapping> {
    checkPort(internalPort, 'internal');
    checkPort(externalPort, 'external', true);
    const op = protocol === 'udp' ? 1 : 2;
    const req = Buffer.alloc(12);
    req[1] = op;
    req.writeUInt16BE(internalPort, 4);
    req.writeUInt16BE(externalPort, 6);
    req.writeUInt32BE(Math.max(0, Math.floor(lifetimeSec)) >>> 0, 8);
    const res = await this.request(req, op, 16);
    return {
      protocol,
      internalPort: res.readUInt16BE(8),
      externalPort: res.readUInt16BE(10),
      lifetimeSec: res.readUInt32BE(12),
    };
  }

  async unmap(protocol: 'udp' | 'tcp', internalPort: number, _externalPort: number): Promise<void> {
    checkPort(internalPort, 'internal');
    // RFC 6886 3.4: delete = lifetime 0, suggested external port 0.
    const op = protocol === 'udp' ? 1 : 2;
    const req = Buffer.alloc(12);
    req[1] = op;
    req.writeUInt16BE(internalPort, 4);
    await this.request(req, op, 16);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const abort of [...this.inflight]) abort();
  }

  private request(req: Buffer, op: number, minLen: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new DiscError('CLOSED', 'NAT-PMP client closed'));
    const what = op === 0 ? 'external address' : op === 1 ? 'UDP mapping' : 'TCP mapping';
    const where = `${this.gateway}:${this.port}`;
    return new Promise<Buffer>((resolve, reject) => {
      const sock = createSocket('udp4');
      let retry: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (err: Error | null, res?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearTimeout(retry);
        this.inflight.delete(abort);
        try {
          sock.close();
        } catch {
          /* already closed */
        }
        if (err) reject(err);
        else resolve(res!);
      };
      const abort = () => finish(new DiscError('CLOSED', 'NAT-PMP client closed'));
      this.inflight.add(abort);
      const deadline = setTimeout(
        () => finish(new DiscError('NAT_TIMEOUT', `NAT-PMP ${what} request to ${where}: no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      sock.on('error', (e) => finish(new DiscError('NAT_FAILED', `NAT-PMP ${what} request to ${where}: ${e.message}`)));
      sock.on('message', (msg, rinfo) => {
        if (rinfo.address !== this.gateway || rinfo.port !== this.port) return;
        if (msg.length < 4 || msg[1] !== 128 + op) return; // not our answer
        if (msg[0] !== 0) {
          finish(new DiscError('NAT_FAILED', `NAT-PMP ${what} at ${where}: unsupported version ${msg[0]} in answer`));
          return;
        }
        const code = msg.readUInt16BE(2);
        if (code !== 0) {
          const text = RESULT_TEXT[code] ?? 'unknown error';
          finish(new DiscError('NAT_FAILED', `NAT-PMP ${what} refused by ${where}: result code ${code} (${text})`));
          return;
        }
        if (msg.length < minLen) {
          finish(new DiscError('NAT_FAILED', `NAT-PMP ${what} at ${where}: short answer (${msg.length} bytes)`));
          return;
        }
        finish(null, msg);
      });
      let wait = 250;
      const send = () => {
        sock.send(req, this.port, this.gateway, (e) => {
          if (e) finish(new DiscError('NAT_FAILED', `NAT-PMP ${what} request to ${where}: ${e.message}`));
        });
        retry = setTimeout(send, wait);
        wait *= 2;
      };
      sock.bind(0, () => {
        if (!done) send();
      });
    });
  }
}

export function checkPort(p: number, what: string, zeroOk = false): void {
  if (!Number.isInteger(p) || p < (zeroOk ? 0 : 1) || p > 65535) {
    throw new DiscError('INVALID_ARGUMENT', `bad ${what} port ${p}`);
  }
}
