/**
 * Test helpers for the transport: real nodes on loopback (port 0) and a
 * raw peer that sends hand-made packets and records what comes back.
 */
import * as dgram from 'node:dgram';
import { decodePacket, encodePacket, generatePrivateKey, nodeIdFromPrivateKey, Packet, PacketType } from '../../src';
import type { PacketFieldsByType } from '../../src/wire/types';
import { bindDgram, PacketSocket } from '../../src/transport/socket';
import { Transport, TransportConfig } from '../../src/transport/transport';

export type SocketFactory = (address: string) => Promise<PacketSocket>;

export const dgramFactory: SocketFactory = (address) => bindDgram({ address });

export interface TestNode {
  t: Transport;
  key: Buffer;
  /** How others reach it. */
  node: { id: Buffer; ip: string; udpPort: number };
}

export async function startNode(
  address = '127.0.0.1',
  cfg: Partial<TransportConfig> = {},
  factory: SocketFactory = dgramFactory,
): Promise<TestNode> {
  const key = generatePrivateKey();
  const socket = await factory(address);
  const t = new Transport({ privateKey: key, socket, respTimeoutMs: 300, ...cfg });
  return { t, key, node: { id: t.nodeId, ip: address, udpPort: socket.address().port } };
}

export interface Received {
  packet?: Packet;
  error?: string;
  size: number;
  from: { address: string; port: number };
}

/** A hand-driven peer: a dgram socket plus a key, recording every datagram it receives. */
export class RawPeer {
  readonly received: Received[] = [];
  readonly id: Buffer;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: dgram.Socket,
    readonly key: Buffer,
  ) {
    this.id = nodeIdFromPrivateKey(key);
    socket.on('message', (msg, rinfo) => {
      const r: Received = { size: msg.length, from: { address: rinfo.address, port: rinfo.port } };
      try {
        r.packet = decodePacket(Buffer.from(msg));
      } catch (err) {
        r.error = (err as Error).message;
      }
      this.received.push(r);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async bind(address = '127.0.0.1', key: Buffer = generatePrivateKey()): Promise<RawPeer> {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new RawPeer(socket, key);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  sendRaw(datagram: Uint8Array, to: { ip: string; udpPort: number }): void {
    this.socket.send(datagram, to.udpPort, to.ip);
  }

  /** Signs and sends a packet; returns its hash. */
  send<T extends PacketType>(type: T, fields: PacketFieldsByType[T], to: { ip: string; udpPort: number }, key: Buffer = this.key): Buffer {
    const pkt = encodePacket(type, fields, key);
    this.sendRaw(pkt, to);
    return pkt.subarray(0, 32);
  }

  /** Waits until `pred` holds for the received list, or `ms` passes; returns the matching packets. */
  async waitFor(pred: (r: Received[]) => boolean, ms = 1000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (!pred(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  ofType<T extends Packet['type']>(type: T): Array<Extract<Packet, { type: T }>> {
    return this.received.filter((r) => r.packet?.type === type).map((r) => r.packet as Extract<Packet, { type: T }>);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` every 5 ms for up to `ms`. */
export async function until(pred: () => boolean, ms = 1000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

export const farFuture = 4102444800;
export const pastExpiration = 1000000000;
