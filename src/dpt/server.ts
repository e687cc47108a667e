/**
 * The DPT's UDP server, shaped as @ethereumjs/devp2p's `Server` (bind,
 * destroy, ping, findneighbours, events) but running our Transport: packets
 * are verified and answered by the native core, findnode only after a bond,
 * replies only when solicited, datagrams never over 1280 bytes.
 *
 * The socket is bound in bind(): with `createSocket`, the dgram socket it
 * returns (as ethjs); otherwise our native UDP socket. A ping before bind()
 * binds an ephemeral port first, as a dgram socket does on its first send.
 */
import type * as dgram from 'node:dgram';
import { ClosedError, DiscError, InvalidArgumentError, TimeoutError } from '../errors';
import { bindNative } from '../transport/native-socket';
import { DgramPacketSocket, PacketSocket } from '../transport/socket';
import { Transport, VerifiedNode } from '../transport/transport';
import type { NodeBytes } from '../wire/encode';
import { ipToString } from '../wire/ip';
import { cryptoFromCommon } from './crypto';
import { DPTServerOptions, Events, PeerInfo, ServerEvent } from './types';

/** ethjs Server: `options.timeout ?? 4000`. */
export const DEFAULT_PING_TIMEOUT_MS = 4_000;

type Closest = (targetHash: Buffer, count: number) => readonly NodeBytes[];

/** The socket calls of a dgram socket that the server uses. */
type DgramLike = Pick<dgram.Socket, 'bind' | 'close' | 'once' | 'on' | 'send' | 'address'>;

export class Server {
  readonly events = new Events<ServerEvent>();
  private readonly privateKey: Buffer;
  private readonly timeoutMs: number;
  private readonly endpoint: PeerInfo;
  private readonly options: DPTServerOptions;
  private readonly dgramSocket: DgramLike | null;
  private transport?: Transport;
  private bindState: 'unbound' | 'binding' | 'bound' = 'unbound';
  /** Settles when the socket is bound (or the bind failed): what ready() waits for. */
  private waiter?: { promise: Promise<Transport>; resolve: (t: Transport) => void; reject: (err: Error) => void };
  private destroyed = false;
  private closest: Closest = () => [];
  /** Pings in flight by address:port: concurrent calls share one (ethjs's requests cache). */
  private readonly inflight = new Map<string, Promise<PeerInfo>>();

  // The first parameter is ethjs's `dpt`; ours is wired through setClosest().
  constructor(_dpt: unknown, privateKey: Uint8Array, options: DPTServerOptions = {}) {
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
      throw new InvalidArgumentError('privateKey must be 32 bytes');
    }
    this.privateKey = Buffer.from(privateKey);
    this.options = options;
    this.timeoutMs = options.timeout ?? DEFAULT_PING_TIMEOUT_MS;
    this.endpoint = options.endpoint ?? { address: '0.0.0.0', udpPort: null, tcpPort: null };
    if (options.createSocket !== undefined) {
      const socket = options.createSocket() as DgramLike;
      this.dgramSocket = socket;
      socket.once('listening', () => this.onBound(new DgramPacketSocket(socket as dgram.Socket)));
      socket.on('error', (err: Error) => {
        // A failed bind() arrives here; after that, errors are the socket's to report.
        if (this.bindState === 'binding') this.bindFailed(err);
        this.events.emit('error', err);
      });
    } else {
      this.dgramSocket = null;
    }
  }

  /** Binds the socket: dgram's arguments, `(port?, address?, callback?)` or `(options, callback?)`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  bind(...args: any[]): void {
    this._isAliveCheck();
    if (this.bindState !== 'unbound') throw new DiscError('ALREADY_BOUND', 'Socket is already bound');
    if (this.dgramSocket !== null) {
      this.startBinding();
      (this.dgramSocket.bind as (...a: unknown[]) => void)(...args);
      return;
    }
    const { port, address, callback } = parseBindArgs(args);
    this.startBinding();
    bindNative({ address, port }).then(
      (socket) => {
        if (this.destroyed) {
          void socket.close();
          return;
        }
        this.onBound(socket);
        callback?.();
      },
      (err: Error) => {
        this.bindFailed(err);
        this.events.emit('error', err);
      },
    );
  }

  private startBinding(): void {
    this.bindState = 'binding';
    if (this.waiter !== undefined) return;
    let resolve!: (t: Transport) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<Transport>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers await ready(); a bind error is also reported as 'error'.
    promise.catch(() => undefined);
    this.waiter = { promise, resolve, reject };
  }

  private bindFailed(err: Error): void {
    this.bindState = 'unbound';
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  private onBound(socket: PacketSocket): void {
    try {
      const ep = this.endpoint;
      this.transport = new Transport({
        privateKey: this.privateKey,
        socket,
        crypto: cryptoFromCommon(this.options.common),
        endpoint: {
          ip: ep.address ?? '0.0.0.0',
          // ethjs sends an empty port when none is configured; ours tells
          // peers where we listen, so ethjs peers can ping us back.
          udpPort: ep.udpPort ?? socket.address().port,
          tcpPort: ep.tcpPort ?? 0,
        },
        closest: (hash, count) => this.closest(hash, count),
        rateLimits: this.options.rateLimits,
        amplificationAllowance: this.options.amplificationAllowance,
      });
    } catch (err) {
      void socket.close();
      this.bindFailed(err as Error);
      this.events.emit('error', err as Error);
      return;
    }
    this.bindState = 'bound';
    this.waiter?.resolve(this.transport);
    this.events.emit('listening');
  }

  /** The transport, binding an ephemeral port first if bind() was never called. */
  ready(): Promise<Transport> {
    if (this.transport !== undefined) return Promise.resolve(this.transport);
    if (this.destroyed) return Promise.reject(new ClosedError('Server already destroyed'));
    if (this.bindState === 'unbound') this.bind(0);
    return this.waiter!.promise;
  }

  /** The transport once bound (undefined before). */
  get bound(): Transport | undefined {
    return this.transport;
  }

  /** Where findnode answers come from (the DPT's table). */
  setClosest(closest: Closest): void {
    this.closest = closest;
  }

  /** Closes the socket; 'close' follows. Throws 'Server already destroyed' the second time (ethjs). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  destroy(...args: any[]): void {
    this._isAliveCheck();
    this.destroyed = true;
    const callback = args.find((a): a is () => void => typeof a === 'function');
    this.waiter?.reject(new ClosedError('Server already destroyed'));
    const closing = this.transport !== undefined ? this.transport.close() : this.closeUnbound();
    void closing.then(() => {
      callback?.();
      this.events.emit('close');
    });
  }

  private closeUnbound(): Promise<void> {
    const s = this.dgramSocket;
    if (s === null) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /**
   * Pings a peer; resolves with its PeerInfo (id from the pong's
   * signature). Without `id`, any node answering from that address with
   * our ping's hash counts (ethjs); with one, only that node.
   * Rejects with `Timeout error: ping <address>:<port>` (ethjs's text).
   */
  ping(peer: PeerInfo): Promise<PeerInfo> {
    this._isAliveCheck();
    const key = `${peer.address}:${peer.udpPort}`;
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const p = this.pingOnce(peer).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async pingOnce(peer: PeerInfo): Promise<PeerInfo> {
    const timeoutError = () => new TimeoutError(`Timeout error: ping ${peer.address}:${peer.udpPort}`);
    if (typeof peer.udpPort !== 'number' || typeof peer.address !== 'string') throw timeoutError();
    const t = await this.ready();
    const opts = { timeoutMs: this.timeoutMs };
    let id: Uint8Array;
    try {
      if (peer.id instanceof Uint8Array && peer.id.length === 64) {
        await t.ping({ id: peer.id, ip: peer.address, udpPort: peer.udpPort }, opts);
        id = peer.id;
      } else {
        id = (await t.pingAddress(peer.address, peer.udpPort, opts)).id;
      }
    } catch (err) {
      if (err instanceof TimeoutError) throw timeoutError();
      throw err;
    }
    return { id: new Uint8Array(id), address: peer.address, udpPort: peer.udpPort, tcpPort: peer.tcpPort };
  }

  /**
   * Asks `peer` for the nodes closest to `id`; they arrive as a 'peers'
   * event (ethjs). Needs the peer's id: replies are matched by it.
   */
  findneighbours(peer: PeerInfo, id: Uint8Array): void {
    this._isAliveCheck();
    const node = peer.id;
    if (!(node instanceof Uint8Array) || typeof peer.address !== 'string' || typeof peer.udpPort !== 'number') return;
    const udpPort = peer.udpPort;
    void this.ready()
      .then((t) => t.findnode({ id: node, ip: peer.address!, udpPort }, id))
      .then(
        (nodes) => this.events.emit('peers', nodes.map(peerInfoOf)),
        () => undefined,
      );
  }

  _isAliveCheck(): void {
    if (this.destroyed) throw new ClosedError('Server already destroyed');
  }
}

/** A verified node as ethjs's PeerInfo (port 0: none, null). */
export function peerInfoOf(n: VerifiedNode | { id: Uint8Array; ip: Uint8Array; udpPort: number; tcpPort: number }): PeerInfo {
  return {
    id: new Uint8Array(n.id),
    address: ipToString(n.ip),
    udpPort: n.udpPort,
    tcpPort: n.tcpPort === 0 ? null : n.tcpPort,
  };
}

function parseBindArgs(args: unknown[]): { port: number; address?: string; callback?: () => void } {
  const callback = args.find((a): a is () => void => typeof a === 'function');
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { port?: number; address?: string };
    return { port: o.port ?? 0, address: o.address, callback };
  }
  const port = typeof first === 'number' ? first : typeof first === 'string' ? Number(first) : 0;
  const address = typeof args[1] === 'string' ? args[1] : undefined;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new InvalidArgumentError(`bind: port must be 0..65535 (got ${String(first)})`);
  }
  return { port, address, callback };
}
