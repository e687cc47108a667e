/**
 * The datagram socket under the transport, behind one small interface so
 * the transport runs over Node's `dgram` (any dgram-like socket, e.g. one
 * from the DPT facade's `createSocket`) or over the addon's native UDP
 * socket (recvmmsg batches into a reused slab).
 *
 * Receive contract: `start(handler)` calls `handler` synchronously for each
 * datagram with a view of memory that is reused as soon as the handler
 * returns. Whatever the transport keeps must be copied.
 */
import * as dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import { DiscError } from '../errors';
import { ipToBytes, ipToString } from '../wire/ip';
import { isV4Mapped } from './netutil';
import { SOCKET_BUFFER_BYTES } from '../defaults';

/** Where a datagram came from. One object is reused for every datagram. */
export interface RemoteAddress {
  /** 4 for IPv4 (IPv4-mapped IPv6 sources are unwrapped), 6 for IPv6. */
  family: 4 | 6;
  /** 4 or 16 bytes; valid during the handler call only. */
  ip: Uint8Array;
  port: number;
}

/** Where an opened datagram came from, and what opening it found (see conn.ts). One object is reused for every datagram. */
export interface OpenedFrom extends RemoteAddress {
  /** The open status (DecodeStatus: 0 = hash and signature good). */
  openStatus: number;
  /** The sender's node id when openStatus is 0 (a view valid during the handler call only). */
  nodeId: Uint8Array;
}

export type DatagramHandler = (buf: Uint8Array, off: number, len: number, from: RemoteAddress) => void;
/** Called for each datagram `admit` let through, opened; buf and from are valid during the call only. */
export type OpenedHandler = (buf: Uint8Array, off: number, len: number, from: OpenedFrom) => void;
/** The cheap checks before any crypto (netrestrict, bans, rate limits); false drops the datagram unopened. */
export type Admit = (buf: Uint8Array, off: number, len: number, from: RemoteAddress) => boolean;

export interface SocketAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface PacketSocket {
  /** Which implementation: 'dgram' or 'native'. */
  readonly kind: string;
  /** Starts delivering datagrams to `handler`. Call once. */
  start(handler: DatagramHandler): void;
  /**
   * Sends buf[off, off+len) to ip:port (ip: 4 or 16 bytes). `done` runs
   * once the socket no longer needs `buf` (at once for synchronous sends),
   * with an error if the send failed. Never throws for network errors.
   */
  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void): void;
  address(): SocketAddress;
  /** Stops receiving and releases the socket. Idempotent. */
  close(): Promise<void>;
  /** Counters the socket keeps itself (native: kernel batch sizes, EAGAIN drops...). */
  stats(): Record<string, number>;
}

export interface BindOptions {
  /** Default '0.0.0.0'. An IPv6 address binds an IPv6 socket. */
  address?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** SO_RCVBUF in bytes. Default 4 MiB (a burst of ~3,000 full-size datagrams). */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes. Default 4 MiB. */
  sendBufferSize?: number;
}

export const DEFAULT_SOCKET_BUFFER_SIZE = SOCKET_BUFFER_BYTES;

/** The socket could not be bound (port in use, bad address...). */
export class BindError extends DiscError {
  constructor(message: string, cause?: unknown) {
    super('BIND_FAILED', message);
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

/**
 * A PacketSocket over Node's `dgram`. Node allocates a Buffer and an rinfo
 * object per datagram; we parse the source address into one reused
 * RemoteAddress so the transport sees the same shape as the native socket.
 */
export class DgramPacketSocket implements PacketSocket {
  readonly kind = 'dgram';
  private readonly from: RemoteAddress = { family: 4, ip: new Uint8Array(4), port: 0 };
  private readonly ip4 = new Uint8Array(4);
  private readonly ip6 = new Uint8Array(16);
  private closed = false;
  private sendErrors = 0;

  constructor(readonly socket: dgram.Socket) {}

  start(handler: DatagramHandler): void {
    this.socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      const from = this.from;
      if (!this.parseAddress(rinfo.address)) return;
      from.port = rinfo.port;
      handler(msg, 0, msg.length, from);
    });
  }

  /** Fills this.from from text; false for an address we cannot represent. */
  private parseAddress(address: string): boolean {
    const from = this.from;
    if (isIPv4(address)) {
      const ip = this.ip4;
      let part = 0;
      let n = 0;
      for (let i = 0; i < address.length; i++) {
        const c = address.charCodeAt(i);
        if (c === 46) {
          ip[part++] = n;
          n = 0;
        } else n = n * 10 + (c - 48);
      }
      ip[3] = n;
      from.family = 4;
      from.ip = ip;
      return true;
    }
    let bytes: Buffer;
    try {
      bytes = ipToBytes(address);
    } catch {
      return false;
    }
    // Unwrap IPv4-mapped sources (::ffff:a.b.c.d), as geth does.
    if (bytes.length === 16 && isV4Mapped(bytes)) {
      this.ip4.set(bytes.subarray(12));
      from.family = 4;
      from.ip = this.ip4;
    } else {
      this.ip6.set(bytes);
      from.family = 6;
      from.ip = this.ip6;
    }
    return true;
  }

  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, done: (err?: Error) => void): void {
    if (this.closed) {
      done(new DiscError('CLOSED', 'socket closed'));
      return;
    }
    let address = ipToString(ip) ?? '';
    // An IPv6 socket reaches IPv4 peers through mapped addresses.
    if (ip.length === 4 && this.socket.address().family === 'IPv6') address = `::ffff:${address}`;
    try {
      this.socket.send(buf, off, len, port, address, (err) => {
        if (err) this.sendErrors++;
        done(err ?? undefined);
      });
    } catch (err) {
      this.sendErrors++;
      done(err as Error);
    }
  }

  address(): SocketAddress {
    const a = this.socket.address();
    return { address: a.address, port: a.port, family: a.family === 'IPv6' ? 6 : 4 };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed by its owner
      }
    });
  }

  stats(): Record<string, number> {
    return { sendErrors: this.sendErrors };
  }
}

/** Binds a dgram socket with the given options. Rejects with BindError. */
export function bindDgram(opts: BindOptions = {}): Promise<DgramPacketSocket> {
  const address = opts.address ?? '0.0.0.0';
  const type = isIPv4(address) ? 'udp4' : 'udp6';
  const socket = dgram.createSocket({
    type,
    recvBufferSize: opts.recvBufferSize ?? DEFAULT_SOCKET_BUFFER_SIZE,
    sendBufferSize: opts.sendBufferSize ?? DEFAULT_SOCKET_BUFFER_SIZE,
  });
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      socket.close();
      reject(new BindError(`cannot bind UDP ${address}:${opts.port ?? 0}: ${err.code ?? err.message}`, err));
    };
    socket.once('error', onError);
    socket.bind(opts.port ?? 0, address, () => {
      socket.off('error', onError);
      // Errors after bind (ICMP unreachable on some systems) must never
      // crash the process; the transport counts send failures itself.
      socket.on('error', () => undefined);
      resolve(new DgramPacketSocket(socket));
    });
  });
}
