/**
 * The one contract between the transport and the network: a connection
 * that delivers *opened* datagrams (outer hash checked, sender recovered,
 * or the status saying why not) and takes packet bodies to seal with our
 * key and send. geth keeps v4_udp.go free of I/O details behind its
 * 4-method UDPConn; this is that seam, with the crypto on the far side so
 * the native socket can do it on its own threads.
 *
 * Two implementations:
 * - NativeConn: the addon's socket with its crypto pool (our native key
 *   and crypto): datagrams are opened and replies sealed on all cores.
 * - CryptoConn: any PacketSocket (Node's dgram, a DPT user's socket, the
 *   native socket without its pool) plus a `Crypto` (native or custom),
 *   opening and sealing on the JS thread.
 *
 * The transport has one receive path (`start`) and one send path
 * (`send` with a SealMode) over either.
 */
import { Crypto, nativeCrypto } from '../crypto';
import { DiscError, NativeStatus } from '../errors';
import { NODE_ID_SIZE } from '../wire/types';
import { NativePacketSocket } from './native-socket';
import { Admit, OpenedFrom, OpenedHandler, PacketSocket, SocketAddress } from './socket';

export type { Admit, OpenedFrom, OpenedHandler };

/** How a send treats the packet's 97-byte head. */
export const enum SealMode {
  /** Sealed already (a request: its hash is the reply token, so we sealed it to read that first). */
  Sealed = 0,
  /** Seal it on the way out, wherever the connection seals (a reply: the native pool's threads). */
  Seal = 1,
}

export interface PacketConn {
  /** The socket underneath (address, stats, close). */
  readonly socket: PacketSocket;
  /** Starts delivery. Call once. */
  start(admit: Admit, handler: OpenedHandler): void;
  /**
   * Seals buf[off, off+len) (97 bytes of head, then type || RLP) in place
   * with our key, now, on this thread; the packet hash is then
   * buf[off, off+32). False if it could not be sealed (a bad key).
   */
  seal(buf: Uint8Array, off: number, len: number): boolean;
  /**
   * Sends buf[off, off+len) to ip:port, sealing it first for SealMode.Seal
   * (datagrams to one destination keep their order). `done` runs once
   * `buf` is free again, with an error if the send failed.
   */
  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, mode: SealMode, done: (err?: Error) => void): void;
  address(): SocketAddress;
  close(): Promise<void>;
}

/** The connection for `socket`: its own crypto pool when it has one and we use the native crypto, else `crypto` on this thread. */
export function openConn(socket: PacketSocket, privateKey: Uint8Array, crypto: Crypto): PacketConn {
  if (crypto === nativeCrypto && socket instanceof NativePacketSocket && socket.setCryptoKey(privateKey)) {
    return new NativeConn(socket, privateKey);
  }
  return new CryptoConn(socket, privateKey, crypto);
}

/** The native socket with its crypto pool: open and seal happen in the addon, on every core. */
class NativeConn implements PacketConn {
  private readonly priv: Buffer;
  constructor(
    readonly socket: NativePacketSocket,
    privateKey: Uint8Array,
  ) {
    this.priv = Buffer.from(privateKey);
  }

  start(admit: Admit, handler: OpenedHandler): void {
    this.socket.startOpened(admit, handler);
  }

  /** Requests are sealed here, on the JS thread: their hash is needed before they leave. */
  seal(buf: Uint8Array, off: number, len: number): boolean {
    return nativeCrypto.seal(buf, off, len, this.priv) === NativeStatus.Ok;
  }

  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, mode: SealMode, done: (err?: Error) => void): void {
    if (mode === SealMode.Seal) this.socket.sealSend(buf, off, len, ip, port, done);
    else this.socket.send(buf, off, len, ip, port, done);
  }

  address(): SocketAddress {
    return this.socket.address();
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/** Any PacketSocket, with `crypto` opening and sealing on the JS thread. */
class CryptoConn implements PacketConn {
  private readonly priv: Buffer;
  private readonly id = Buffer.alloc(NODE_ID_SIZE);

  constructor(
    readonly socket: PacketSocket,
    privateKey: Uint8Array,
    private readonly crypto: Crypto,
  ) {
    this.priv = Buffer.from(privateKey);
  }

  start(admit: Admit, handler: OpenedHandler): void {
    const id = this.id;
    const crypto = this.crypto;
    this.socket.start((buf, off, len, from) => {
      if (!admit(buf, off, len, from)) return;
      const opened = from as OpenedFrom;
      opened.openStatus = crypto.open(buf, off, len, id, 0);
      opened.nodeId = id;
      handler(buf, off, len, opened);
    });
  }

  seal(buf: Uint8Array, off: number, len: number): boolean {
    return this.crypto.seal(buf, off, len, this.priv) === NativeStatus.Ok;
  }

  send(buf: Uint8Array, off: number, len: number, ip: Uint8Array, port: number, mode: SealMode, done: (err?: Error) => void): void {
    if (mode === SealMode.Seal && !this.seal(buf, off, len)) {
      done(new DiscError('BAD_KEY', 'the packet could not be sealed'));
      return;
    }
    this.socket.send(buf, off, len, ip, port, done);
  }

  address(): SocketAddress {
    return this.socket.address();
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}
