/**
 * @chainsafe/discv5's packet transport (ITransportService) over our
 * discv4 socket: one UDP port serves both protocols, as in geth, where
 * UDPv4 hands the datagrams it cannot decode to discv5 (its "unhandled"
 * channel, p2p/discover/v4_udp.go, and p2p/server.go's shared conn).
 *
 * - In: our Transport calls `onDatagram` for datagrams that are not discv4
 *   (TransportConfig.onUnhandled: the outer hash does not match). The bytes are copied
 *   (the receive buffer is reused after the call), size-checked, then
 *   decoded with the package's own `decodePacket` (what its UDP transport
 *   does) and emitted as 'packet'.
 * - Out: `encodePacket` (the package's) into a fresh array, sent through
 *   our PacketSocket with a plain `send` (discv5 packets are not sealed).
 *
 * discv5's WHOAREYOU is 63 bytes, shorter than any discv4 packet (98): the
 * transport must hand TOO_SMALL datagrams over too, or the handshakes we
 * start never complete (peers that contact us first are served either way).
 *
 * Costs kept off the per-datagram path: the source multiaddr is built from
 * bytes (no string) and cached per address (bounded), and datagrams of
 * impossible sizes are counted, not thrown at. The package's decoder still
 * throws for malformed packets (emitted as 'decodeError', counted).
 */
import { EventEmitter } from 'node:events';
import { ipKeyOf, Transport } from '../transport/transport';
import { ipToBytes } from '../wire/ip';
import type { PacketSocket, RemoteAddress } from '../transport/socket';
import type { ENR, IPacket, IPMode, ITransportService, Multiaddr, V5Lib } from './lib';

/** Source multiaddrs kept (by IP and port): more than enough for a session cache of 2,000 peers' hot set. */
export const ADDR_CACHE_SIZE = 1024;

export interface V5TransportStats {
  /** Datagrams handed to us by the discv4 transport, and their bytes. */
  packetsIn: number;
  bytesIn: number;
  /** Packets sent, and their bytes. */
  packetsOut: number;
  bytesOut: number;
  /** Datagrams shorter than 63 or longer than 1280 bytes (dropped before decoding). */
  badSize: number;
  /** Datagrams the discv5 decoder rejected (wrong protocol id, version, flag, authdata size). */
  decodeErrors: number;
  /** Sends the socket reported as failed, and sends to an address it cannot reach (family). */
  sendErrors: number;
  /** Exceptions thrown by the discv5 session layer while handling a packet (caught here). */
  handlerErrors: number;
}

export interface V5TransportConfig {
  /** Our discv4 transport: its unhandled datagrams are ours once started. */
  transport: Transport;
  /** The socket to send on (default: the transport's). */
  socket?: PacketSocket;
  /** Our discv5 node id: keccak256 of the public key, 64 hex chars (unmasks headers). */
  nodeId: string;
  lib: V5Lib;
}

/**
 * The adapter. Implements @chainsafe/discv5's ITransportService: give it to
 * `Discv5.create({ transport })`; the session service calls start/stop.
 */
export class V5Transport extends EventEmitter {
  readonly bindAddrs: Multiaddr[];
  readonly ipMode: IPMode;
  private readonly transport: Transport;
  private readonly socket: PacketSocket;
  private readonly srcId: string;
  private readonly lib: V5Lib;
  private readonly addrs = new Map<string, Multiaddr>();
  private started = false;
  private readonly counters: V5TransportStats = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    badSize: 0,
    decodeErrors: 0,
    sendErrors: 0,
    handlerErrors: 0,
  };

  constructor(cfg: V5TransportConfig) {
    super();
    this.transport = cfg.transport;
    this.socket = cfg.socket ?? cfg.transport.socket;
    this.srcId = cfg.nodeId;
    this.lib = cfg.lib;
    const a = this.socket.address();
    // An IPv6 socket bound to :: also reaches IPv4 peers (mapped addresses),
    // as the dgram socket does for discv4; one bound to a v6 address does not.
    this.ipMode = a.family === 4 ? { ip4: true, ip6: false } : a.address === '::' ? { ip4: true, ip6: true } : { ip4: false, ip6: true };
    const ip = ipToBytes(a.address);
    this.bindAddrs = [this.lib.multiaddrFromSocketAddress({ ip: { type: a.family, octets: ip }, port: a.port })];
  }

  /** As an ITransportService (the types of the package's event emitter differ from Node's only nominally). */
  asService(): ITransportService {
    return this as unknown as ITransportService;
  }

  start(): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.transport.setUnhandledHandler(this.onDatagram);
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.started) {
      this.started = false;
      this.transport.setUnhandledHandler(undefined);
      this.addrs.clear();
    }
    return Promise.resolve();
  }

  send(to: Multiaddr, toId: string, packet: IPacket): Promise<void> {
    if (!this.started || this.transport.isClosed) return Promise.resolve();
    const sa = this.lib.multiaddrToSocketAddress(to);
    if ((sa.ip.type === 4 && !this.ipMode.ip4) || (sa.ip.type === 6 && !this.ipMode.ip6)) {
      this.counters.sendErrors++;
      return Promise.resolve();
    }
    const bytes = this.lib.encodePacket(toId, packet);
    this.counters.packetsOut++;
    this.counters.bytesOut += bytes.length;
    // `bytes` is ours alone (encodePacket allocates it), so nothing waits for `done`.
    this.socket.send(bytes, 0, bytes.length, sa.ip.octets, sa.port, this.onSent);
    return Promise.resolve();
  }

  getContactableAddr(enr: ENR): ReturnType<V5Lib['getSocketAddressOnENR']> {
    return this.lib.getSocketAddressOnENR(enr, this.ipMode);
  }

  stats(): V5TransportStats {
    return { ...this.counters };
  }

  private readonly onSent = (err?: Error): void => {
    if (err !== undefined) this.counters.sendErrors++;
  };

  /** Our Transport's unhandled-datagram handler (valid views during the call only). */
  private readonly onDatagram = (buf: Uint8Array, off: number, len: number, from: RemoteAddress): void => {
    const c = this.counters;
    c.packetsIn++;
    c.bytesIn += len;
    if (len < this.lib.MIN_PACKET_SIZE || len > this.lib.MAX_PACKET_SIZE) {
      c.badSize++;
      return;
    }
    // The only copy: the receive slab is reused once we return, and the
    // decoder keeps views (Buffer.slice) into what it is given.
    const data = Buffer.from(buf.subarray(off, off + len));
    const src = this.addrOf(from);
    let packet: IPacket;
    try {
      packet = this.lib.decodePacket(this.srcId, data);
    } catch (err) {
      c.decodeErrors++;
      if (this.listenerCount('decodeError') > 0) this.emit('decodeError', err, src);
      return;
    }
    try {
      this.emit('packet', src, packet);
    } catch {
      // Our caller is the discv4 read loop: nothing from discv5 may stop it.
      c.handlerErrors++;
    }
  };

  /** The multiaddr of a datagram's source, from a bounded cache keyed by IP bytes and port. */
  private addrOf(from: RemoteAddress): Multiaddr {
    const key = ipKeyOf(from.ip) + String.fromCharCode(from.port);
    let m = this.addrs.get(key);
    if (m === undefined) {
      m = this.lib.multiaddrFromSocketAddress({ ip: { type: from.family, octets: Uint8Array.from(from.ip) }, port: from.port });
      if (this.addrs.size >= ADDR_CACHE_SIZE) this.addrs.delete(this.addrs.keys().next().value as string);
      this.addrs.set(key, m);
    }
    return m;
  }
}
