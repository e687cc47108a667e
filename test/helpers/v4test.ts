/**
 * A black-box port of geth's `devp2p discv4 test` (cmd/devp2p/internal/v4test):
 * its 14 cases, in its order, each from a fresh key and fresh sockets on
 * 127.0.0.1 (l1) and 127.0.0.2 (l2), with its 300 ms read window. Our own
 * code written from the cases' descriptions; what each case sends and
 * expects is geth's.
 *
 * A case returns undefined when it passes, else why it failed.
 */
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { decodePacket, encodePacket, generatePrivateKey, nodeIdFromPrivateKey, Packet, PacketType } from '../../src';
import type { PacketFieldsByType } from '../../src/wire/types';
import { rawPacket, sealBody, typeAndData } from './packets';

/** geth framework.go waitTime: how long one read waits for a datagram. */
const WAIT_MS = 300;

export interface Remote {
  id: Buffer;
  ip: string;
  udpPort: number;
}

/** One UDP socket of a test case: reads one datagram at a time, as geth's net.PacketConn does. */
class Conn {
  private readonly queue: Buffer[] = [];
  private waiter?: () => void;
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      this.queue.push(Buffer.from(msg));
      this.waiter?.();
    });
  }
  static async bind(address: string): Promise<Conn> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, address, () => {
        s.off('error', reject);
        resolve();
      });
    });
    return new Conn(s);
  }
  get address(): string {
    return this.socket.address().address;
  }
  get port(): number {
    return this.socket.address().port;
  }
  /** The next datagram within WAIT_MS, decoded; undefined on timeout (geth: read error). */
  async read(): Promise<{ packet?: Packet; error?: string; hash?: Buffer } | undefined> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WAIT_MS);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const d = this.queue.shift();
    if (d === undefined) return undefined;
    try {
      return { packet: decodePacket(d), hash: d.subarray(0, 32) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** What a read got, for failure messages: the packet type's name, or the decode error. */
const got = (r: { packet?: Packet; error?: string }): string => (r.packet ? PacketType[r.packet.type] : String(r.error));

/** geth's futureExpiration(): now + 20 s. */
const futureExpiration = (): bigint => BigInt(Math.floor(Date.now() / 1000) + 20);
/** geth's -futureExpiration() as a uint64: 2^64 - (now + 20), which geth reads as a negative int64. */
const pastExpiration = (): bigint => (1n << 64n) - futureExpiration();
const WRONG_ENDPOINT = { ip: '192.0.2.0', udpPort: 0, tcpPort: 0 };
/** geth wrongPacket: a type byte no discv4 packet has. */
const WRONG_PACKET = 66;

class TestEnv {
  readonly key = generatePrivateKey();
  private constructor(
    readonly remote: Remote,
    readonly l1: Conn,
    readonly l2: Conn,
  ) {}
  static async open(remote: Remote): Promise<TestEnv> {
    return new TestEnv(remote, await Conn.bind('127.0.0.1'), await Conn.bind('127.0.0.2'));
  }
  local(c: Conn) {
    return { ip: c.address, udpPort: c.port, tcpPort: 0 };
  }
  remoteEndpoint() {
    return { ip: this.remote.ip, udpPort: this.remote.udpPort, tcpPort: 0 };
  }
  sendRaw(c: Conn, datagram: Buffer): Buffer {
    c.socket.send(datagram, this.remote.udpPort, this.remote.ip);
    return datagram.subarray(0, 32);
  }
  send<T extends PacketType>(c: Conn, type: T, fields: PacketFieldsByType[T]): Buffer {
    return this.sendRaw(c, encodePacket(type, fields, this.key));
  }
  ping(c: Conn, from = this.local(c), expiration = futureExpiration()): Buffer {
    return this.send(c, PacketType.Ping, { version: 4, from, to: this.remoteEndpoint(), expiration });
  }
  /** A ping with two junk elements after its expiration (EIP-8). */
  pingWithJunk(c: Conn, from: { ip: string; udpPort: number; tcpPort: number }): Buffer {
    const body = typeAndData(
      { type: PacketType.Ping, fields: { version: 4, from, to: this.remoteEndpoint(), expiration: futureExpiration() } },
      [Buffer.from([42]), Buffer.from([0x89, 9, 8, 7, 6, 5, 4, 3, 2, 1])],
    );
    return this.sendRaw(c, sealBody(body, this.key));
  }
  close(): Promise<unknown> {
    return Promise.all([this.l1.close(), this.l2.close()]);
  }

  /** geth checkPong: the reply is a pong for `pingHash`, addressed to l1, not expired. */
  checkPong(p: Packet | undefined, pingHash: Buffer): string | undefined {
    if (p === undefined) return 'expected PONG reply, got nothing';
    if (p.type !== PacketType.Pong) return `expected PONG reply, got ${PacketType[p.type]}`;
    if (!p.replyToken.equals(pingHash)) return 'PONG reply token mismatch';
    const want = this.local(this.l1);
    if (p.to.ip.join('.') !== want.ip || p.to.udpPort !== want.udpPort) return `PONG 'to' endpoint mismatch: got ${p.to.ip.join('.')}:${p.to.udpPort}`;
    return undefined;
  }

  /** geth checkPingPong: exactly one PONG (for pingHash) and one PING, in either order. */
  async checkPingPong(pingHash: Buffer): Promise<string | undefined> {
    let pings = 0;
    let pongs = 0;
    for (let i = 0; i < 2; i++) {
      const r = await this.l1.read();
      if (r === undefined) return `read timeout after ${pongs} PONG and ${pings} PING`;
      if (r.packet === undefined) return `undecodable reply: ${r.error}`;
      if (r.packet.type === PacketType.Pong) {
        const err = this.checkPong(r.packet, pingHash);
        if (err !== undefined) return err;
        pongs++;
      } else if (r.packet.type === PacketType.Ping) pings++;
      else return `expected PING or PONG, got ${PacketType[r.packet.type]}`;
    }
    return pongs === 1 && pings === 1 ? undefined : `expected 1 PING (got ${pings}) and 1 PONG (got ${pongs})`;
  }

  /** geth bond(): ping, answer the remote's ping-back, until both its PONG and PING came. */
  async bond(pongToken?: 'wrong'): Promise<string | undefined> {
    const pingHash = this.ping(this.l1);
    let gotPing = false;
    let gotPong = false;
    while (!gotPing || !gotPong) {
      const r = await this.l1.read();
      if (r === undefined) return `bond: read timeout (ping ${gotPing}, pong ${gotPong})`;
      if (r.packet === undefined) return `bond: undecodable reply: ${r.error}`;
      if (r.packet.type === PacketType.Ping) {
        this.send(this.l1, PacketType.Pong, {
          to: this.remoteEndpoint(),
          replyToken: pongToken === 'wrong' ? Buffer.alloc(32) : r.hash!,
          expiration: futureExpiration(),
        });
        gotPing = true;
      } else if (r.packet.type === PacketType.Pong) {
        if (pongToken === undefined) {
          const err = this.checkPong(r.packet, pingHash);
          if (err !== undefined) return err;
        }
        gotPong = true;
      }
    }
    return undefined;
  }

  /** Reads until a quiet read window; fails on any packet `bad` rejects. */
  async expectNone(c: Conn, bad: (p: Packet | undefined) => boolean, what: string): Promise<string | undefined> {
    for (;;) {
      const r = await c.read();
      if (r === undefined) return undefined;
      if (bad(r.packet)) return `${what}, got ${got(r)}`;
    }
  }
}

type Case = (te: TestEnv) => Promise<string | undefined>;

const randomTarget = () => randomBytes(64);

/** geth's AllTests, in its order. */
export const V4_TESTS: ReadonlyArray<{ name: string; run: Case }> = [
  { name: 'Ping/Basic', run: (te) => te.checkPingPong(te.ping(te.l1)) },
  {
    name: 'Ping/WrongTo',
    run: (te) =>
      te.checkPingPong(te.send(te.l1, PacketType.Ping, { version: 4, from: te.local(te.l1), to: WRONG_ENDPOINT, expiration: futureExpiration() })),
  },
  { name: 'Ping/WrongFrom', run: (te) => te.checkPingPong(te.ping(te.l1, WRONG_ENDPOINT)) },
  { name: 'Ping/ExtraData', run: (te) => te.checkPingPong(te.pingWithJunk(te.l1, te.local(te.l1))) },
  { name: 'Ping/ExtraDataWrongFrom', run: (te) => te.checkPingPong(te.pingWithJunk(te.l1, WRONG_ENDPOINT)) },
  {
    name: 'Ping/PastExpiration',
    run: async (te) => {
      te.ping(te.l1, te.local(te.l1), pastExpiration());
      const r = await te.l1.read();
      return r === undefined ? undefined : `expected no reply, got ${got(r)}`;
    },
  },
  {
    name: 'Ping/WrongPacketType',
    run: async (te) => {
      const data = typeAndData({ type: PacketType.Ping, fields: { version: 4, from: te.local(te.l1), to: te.remoteEndpoint(), expiration: futureExpiration() } });
      te.sendRaw(te.l1, rawPacket(WRONG_PACKET, data.subarray(1), te.key));
      const r = await te.l1.read();
      return r === undefined ? undefined : `expected no reply, got ${got(r)}`;
    },
  },
  {
    name: 'Ping/BondThenPingWithWrongFrom',
    run: async (te) => {
      const err = await te.bond();
      if (err !== undefined) return err;
      const pingHash = te.ping(te.l1, WRONG_ENDPOINT);
      for (;;) {
        const r = await te.l1.read();
        if (r === undefined) return 'read timeout waiting for PONG';
        if (r.packet?.type === PacketType.Pong) return te.checkPong(r.packet, pingHash);
        // A FINDNODE from the node is acceptable: the endpoint proof was done.
        if (r.packet?.type !== PacketType.Findnode) return `expected PONG, got ${got(r)}`;
      }
    },
  },
  {
    name: 'Findnode/WithoutEndpointProof',
    run: (te) => {
      te.send(te.l1, PacketType.Findnode, { target: randomTarget(), expiration: futureExpiration() });
      // A PING from the node is fine; anything else is not.
      return te.expectNone(te.l1, (p) => p?.type !== PacketType.Ping, 'expected no reply');
    },
  },
  {
    name: 'Findnode/BasicFindnode',
    run: async (te) => {
      const err = await te.bond();
      if (err !== undefined) return err;
      te.send(te.l1, PacketType.Findnode, { target: randomTarget(), expiration: futureExpiration() });
      const r = await te.l1.read();
      if (r === undefined) return 'read find nodes: timeout';
      return r.packet?.type === PacketType.Neighbors ? undefined : `expected NEIGHBORS, got ${got(r)}`;
    },
  },
  {
    name: 'Findnode/UnsolicitedNeighbors',
    run: async (te) => {
      const err = await te.bond();
      if (err !== undefined) return err;
      const fake = nodeIdFromPrivateKey(generatePrivateKey());
      te.send(te.l1, PacketType.Neighbors, { nodes: [{ id: fake, ip: '1.2.3.4', udpPort: 30303, tcpPort: 30303 }], expiration: futureExpiration() });
      te.send(te.l1, PacketType.Findnode, { target: fake, expiration: futureExpiration() });
      const r = await te.l1.read();
      if (r === undefined) return 'read find nodes: timeout';
      if (r.packet?.type !== PacketType.Neighbors) return `expected NEIGHBORS, got ${got(r)}`;
      return r.packet.nodes.some((n) => n.id.equals(fake)) ? 'NEIGHBORS contains the node of an unsolicited NEIGHBORS' : undefined;
    },
  },
  {
    name: 'Findnode/PastExpiration',
    run: async (te) => {
      const err = await te.bond();
      if (err !== undefined) return err;
      te.send(te.l1, PacketType.Findnode, { target: randomTarget(), expiration: pastExpiration() });
      return te.expectNone(te.l1, (p) => p?.type === PacketType.Neighbors, 'unexpected NEIGHBORS for an expired FINDNODE');
    },
  },
  {
    name: 'Amplification/InvalidPongHash',
    run: async (te) => {
      const err = await te.bond('wrong');
      if (err !== undefined) return err;
      te.send(te.l1, PacketType.Findnode, { target: randomTarget(), expiration: futureExpiration() });
      const r = await te.l1.read();
      return r?.packet?.type === PacketType.Neighbors ? 'got NEIGHBORS without a valid endpoint proof' : undefined;
    },
  },
  {
    name: 'Amplification/WrongIP',
    run: async (te) => {
      const err = await te.bond();
      if (err !== undefined) return err;
      te.send(te.l2, PacketType.Findnode, { target: randomTarget(), expiration: futureExpiration() });
      const r = await te.l2.read();
      return r === undefined ? undefined : 'got a reply to a FINDNODE from an IP without an endpoint proof';
    },
  },
];

export interface CaseResult {
  name: string;
  error?: string;
}

/** Runs every case against `remote`, one after the other, each with a fresh key and sockets. */
export async function runV4Tests(remote: Remote): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of V4_TESTS) {
    const te = await TestEnv.open(remote);
    try {
      results.push({ name: c.name, error: await c.run(te) });
    } finally {
      await te.close();
    }
  }
  return results;
}
