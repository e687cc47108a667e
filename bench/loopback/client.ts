/**
 * The loopback bench's load generator. Runs in the bench's own process and
 * lives for the whole loopback run: every server child binds the same
 * 127.0.0.1 port, so the pings are signed once, before any timing.
 *
 * Sockets: socket 0 carries the pure ping->pong traffic (window, open loop)
 * from K pre-bonded keys; sockets 1..S carry the full path, where every
 * ping comes from a fresh key (one use each) and the server, not knowing
 * it, answers pong AND pings back. Each fresh key has its own source
 * endpoint for its lifetime: one in flight per socket, so a ping-back
 * arriving on socket s is for the key in flight there (exact, whatever
 * order the server's datagrams leave in). ethjs's DPT pings back the
 * endpoint claimed in ping.from, and it sends at most one ping per claimed
 * address:port per second (dpt/server.js `_requestsCache`, 1 s TTL), so the
 * fresh keys rotate over many sockets; ping.from also carries a per-key tag
 * in its TCP port, which ethjs echoes in its ping's `to` (that names the
 * key when ethjs re-pings an old peer, see kbucket 'ping').
 *
 * Pongs are matched without signature checks, so the client stays cheap:
 * parseBody into one reused PacketView, type === pong, the 32-byte reply
 * token looked up in an open-addressing table over the pre-signed pings.
 * Ping-backs are answered with a pong sealed (keccak + sign) by the native
 * core with the key they are for.
 *
 * Findnode mode (bench/loopback/scale.ts): pre-signed findnodes from the
 * bonded pure keys go out of sockets 1..W, one in flight per socket, so the
 * neighbors packets coming back to a socket are the answer to its request;
 * an answer is complete at 16 nodes (or a short last packet).
 *
 * Socket kind: the addon's native socket (recvmmsg batches, synchronous
 * sends; threads: 1) by default, or Node's dgram (connected, no callback).
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { DecodeStatus, PacketType, PacketView, parseBody, writeFindnodeRaw, writePingRaw, writePongRaw } from '../../src';
import { native } from '../../src/crypto/native';
import { BUCKET_SIZE } from '../../src/defaults';
import { bindNative } from '../../src/transport/native-socket';
import { MAX_NEIGHBORS_PER_PACKET } from '../../src/transport/transport';

/** 2100-01-01: the pre-signed pings stay valid for the whole run. */
export const FAR_FUTURE = 4102444800;
const HOST = '127.0.0.1';
const IP4 = new Uint8Array([127, 0, 0, 1]);
/** Socket 0 takes bursts of thousands of pongs; the full-path sockets see a few datagrams at a time. */
const MAIN_SOCKET_BUFFER = 4 * 1024 * 1024;
const SIDE_SOCKET_BUFFER = 256 * 1024;
/** Bytes per pre-signed ping in the slab (a ping with two IPv4 endpoints is ~130). */
const PING_STRIDE = 160;
/** Reply pongs are written into a ring of slots: dgram may still hold one while it sends. */
const REPLY_SLOTS = 1024;
const REPLY_SLOT_SIZE = 256;
/** Bytes per pre-signed findnode in its slab (97 header + ~75 body). */
const FINDNODE_STRIDE = 192;
/** A full neighbors answer, and what the server puts in one packet (12: a full answer is 12 + 4). */
const ANSWER_NODES = BUCKET_SIZE;
const NODES_PER_PACKET = MAX_NEIGHBORS_PER_PACKET;

/**
 * Fresh key j claims TCP port TAG_BASE + j % TAG_SPAN in ping.from: ethjs's
 * kbucket knows a peer by id AND by address:tcpPort, so keys sharing a TCP
 * port would pass for one peer it already has (no ping-back). ethjs writes
 * ports as two bytes, so a port under 256 would carry a leading zero:
 * non-canonical RLP, which our decoder (like geth's) rejects.
 */
const TAG_BASE = 256;
const TAG_SPAN = 0x10000 - TAG_BASE;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const NOOP = (): void => undefined;

export type ClientSocketKind = 'native' | 'dgram';

// ------------------------------------------------------------ kernel counters

/** UDP counters of /proc/net/snmp (system-wide). */
export interface UdpCounters {
  inDatagrams: number;
  inErrors: number;
  rcvbufErrors: number;
}

export function readUdpCounters(): UdpCounters | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/snmp', 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return null;
  const names = lines[0].trim().split(/\s+/).slice(1);
  const values = lines[1].trim().split(/\s+/).slice(1).map(Number);
  const get = (n: string) => {
    const i = names.indexOf(n);
    return i >= 0 && Number.isFinite(values[i]) ? values[i] : 0;
  };
  return { inDatagrams: get('InDatagrams'), inErrors: get('InErrors'), rcvbufErrors: get('RcvbufErrors') };
}

/**
 * Per-socket receive drops (the last column of /proc/net/udp) of the UDP
 * sockets bound to 127.0.0.1:port; null when the file is missing or no
 * such socket is listed. Unlike /proc/net/snmp these are ours alone.
 */
export function readSocketDrops(port: number): number | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return null;
  }
  // local_address is the IP as a host-order hex word (127.0.0.1 = 0100007F on little-endian) ':' the port in hex.
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const ipHex = os.endianness() === 'LE' ? '0100007F' : '7F000001';
  let found = false;
  let drops = 0;
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13 || cols[1] !== `${ipHex}:${portHex}`) continue;
    found = true;
    drops += Number(cols[cols.length - 1]) || 0;
  }
  return found ? drops : null;
}

interface DropSnapshot {
  udp: UdpCounters | null;
  server: number | null;
  client: number | null;
}

/** Kernel UDP receive drops over an interval; a field is null when its /proc file is missing. */
export interface KernelDrops {
  /** /proc/net/snmp Udp RcvbufErrors, system-wide (both sockets and anything else on the machine). */
  rcvbufErrors: number | null;
  /** /proc/net/snmp Udp InErrors, system-wide. */
  inErrors: number | null;
  /** /proc/net/udp drops of the server's socket(s) alone. */
  serverSocket: number | null;
  /** /proc/net/udp drops of the client's main socket (socket 0) alone. */
  clientSocket: number | null;
}

function dropsBetween(a: DropSnapshot, b: DropSnapshot): KernelDrops {
  const d = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
  return {
    rcvbufErrors: a.udp && b.udp ? b.udp.rcvbufErrors - a.udp.rcvbufErrors : null,
    inErrors: a.udp && b.udp ? b.udp.inErrors - a.udp.inErrors : null,
    serverSocket: d(a.server, b.server),
    clientSocket: d(a.client, b.client),
  };
}

// ------------------------------------------------------------ results

export interface WarmupResult {
  keys: number;
  /** Keys whose first ping got a pong. */
  keysPonged: number;
  /** Ping-backs answered during the bonding round. */
  pingBacksAnswered: number;
  /** Verification rounds run (each sends every key's ping once more). */
  verifyRounds: number;
  /** Ping-backs seen in the last verification round: 0 when every key is bonded. */
  pingBacksInLastVerify: number;
  /** Keys the server treats as bonded: no ping-back in the last round, and no more than it answered there. */
  bondedKeys: number;
  ms: number;
}

/** The client's own cost over a measured interval (it shares the machine with the server). */
export interface ClientCost {
  clientCpuCores: number;
  /** Datagrams the client sent and received in the interval. */
  clientDatagrams: number;
  /** Client CPU (user + system) per datagram sent or received, µs. */
  clientCpuUsPerDatagram: number | null;
}

export interface WindowCounts extends ClientCost {
  /** Matched pongs inside the measured interval. */
  pongs: number;
  seconds: number;
  pongsPerSec: number;
  /** Keys freed by the per-key timeout (lost ping or pong), whole run. */
  losses: number;
  /** Pongs for a key with nothing outstanding (late after a timeout, duplicates). */
  lateOrDuplicate: number;
  kernelDrops: KernelDrops;
  /** Pings still outstanding when the drain gave up. */
  undrained: number;
  /** Ping -> matched pong, measured interval. */
  rtt: Rtt | null;
}

export interface OpenLoopCounts extends ClientCost {
  offeredPps: number;
  seconds: number;
  sent: number;
  sentPerSec: number;
  /** Pongs with a known token, up to the end of the drain. */
  received: number;
  /** Pongs received while sending (the server's service rate under this load). */
  receivedWhileSending: number;
  /** receivedWhileSending / seconds. */
  receivedPerSec: number;
  /** How long pongs kept coming after the last send (the server's backlog), ms. */
  drainMs: number;
  /** Approximate: pong time minus the latest send of that key (keys repeat every K / rate seconds). */
  rtt: Rtt | null;
  lossPct: number;
  /** Sends the client could not make on schedule (fell behind the offered rate). */
  behind: number;
  kernelDrops: KernelDrops;
}

export interface FullPathCounts extends ClientCost {
  /** Fresh keys in flight at once. */
  window: number;
  seconds: number;
  /** Inside the measured interval: fresh pings sent, their pongs, ping-backs answered. */
  pings: number;
  pongs: number;
  pingBacksAnswered: number;
  pongsPerSec: number;
  pingBacksAnsweredPerSec: number;
  /** Whole phase: keys freed by the timeout before their ping-back came. */
  lost: number;
  /** Pings for keys whose cycle was over (ethjs re-pinging old peers), answered. */
  repingsAnswered: number;
  /** Pings the client could not attribute to a key (not answered). */
  unattributed: number;
  /** Keys skipped because their socket was still busy with a stuck key. */
  skipped: number;
  /** Fresh keys used so far (of poolSize); poolExhausted: the run ran out (figures then understate). */
  poolUsed: number;
  poolSize: number;
  poolExhausted: boolean;
  kernelDrops: KernelDrops;
  /** Fresh ping sent -> its ping-back answered, measured interval. */
  rtt: Rtt | null;
  undrained: number;
}

export interface FindnodeCounts extends ClientCost {
  /** Findnodes in flight at once (one per side socket). */
  window: number;
  seconds: number;
  /** Complete answers in the measured interval: 16 nodes, or fewer ending in a short packet. */
  answers: number;
  answersPerSec: number;
  /** Answers with fewer than 16 nodes (measured interval). */
  shortAnswers: number;
  /** Mean nodes per answer (measured interval). */
  nodesPerAnswer: number | null;
  /** Neighbors packets received in the measured interval. */
  neighborsPackets: number;
  /** Whole phase: findnodes given up after the timeout. */
  lost: number;
  /** Whole phase: neighbors packets for a socket with nothing in flight (late after a timeout). */
  stray: number;
  kernelDrops: KernelDrops;
  /** Findnode sent -> answer complete, measured interval. */
  rtt: Rtt | null;
  undrained: number;
}

type Mode = 'idle' | 'warmup' | 'window' | 'open' | 'full' | 'findnode';

/** Round-trip times, ms. */
export interface Rtt {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** Keeps the first `cap` RTT samples of an interval. */
class RttLog {
  private readonly a: Float64Array;
  n = 0;
  constructor(cap: number) {
    this.a = new Float64Array(cap);
  }
  add(ms: number): void {
    if (this.n < this.a.length) this.a[this.n++] = ms;
  }
  summary(): Rtt | null {
    if (this.n === 0) return null;
    const s = this.a.slice(0, this.n).sort();
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { samples: this.n, p50: q(0.5), p99: q(0.99), max: s[s.length - 1] };
  }
}

// ------------------------------------------------------------ sockets

interface ClientSocket {
  readonly port: number;
  /** Sets the destination of every send (the server's port). */
  connect(port: number): Promise<void>;
  send(buf: Uint8Array, off: number, len: number): void;
  recvBufferSize(): number | null;
  close(): Promise<void>;
}

type OnDatagram = (buf: Uint8Array, off: number, len: number) => void;

async function openNativeSocket(bufSize: number, on: OnDatagram): Promise<ClientSocket> {
  const s = await bindNative({ address: HOST, port: 0, threads: 1, recvBufferSize: bufSize, sendBufferSize: bufSize });
  s.start((buf, off, len) => on(buf, off, len));
  let to = 0;
  return {
    port: s.address().port,
    connect: async (port) => {
      to = port;
    },
    // Synchronous try_send (or a copy into the socket's queue): `done` runs at once.
    send: (buf, off, len) => s.send(buf, off, len, IP4, to, NOOP),
    recvBufferSize: () => s.stats().recvBufferSize ?? null,
    close: () => s.close(),
  };
}

async function openDgramSocket(bufSize: number, on: OnDatagram): Promise<ClientSocket> {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: bufSize, sendBufferSize: bufSize });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, HOST, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('message', (msg: Buffer) => on(msg, 0, msg.length));
  sock.on('error', NOOP);
  return {
    port: sock.address().port,
    // Connected: each send skips the address lookup and the kernel's route search.
    connect: (port) => new Promise<void>((resolve) => sock.connect(port, HOST, () => resolve())),
    send: (buf, off, len) => sock.send(buf, off, len),
    recvBufferSize: () => sock.getRecvBufferSize(),
    close: () =>
      new Promise((resolve) => {
        try {
          sock.close(() => resolve());
        } catch {
          resolve();
        }
      }),
  };
}

/** A 127.0.0.1 UDP port free right now (bound and released). */
async function pickFreePort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.bind(0, HOST, () => resolve());
  });
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

// ------------------------------------------------------------ pre-signed pings

/**
 * Pings by index in one slab (no Buffer per ping) and an open-addressing
 * table from a ping's hash (the pong's reply token) to its index.
 */
class PingTable {
  readonly pings: Buffer;
  readonly lens: Uint16Array;
  readonly keys: Buffer;
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(readonly size: number) {
    this.pings = Buffer.alloc(size * PING_STRIDE);
    this.lens = new Uint16Array(size);
    this.keys = Buffer.alloc(size * 32);
    let cap = 1;
    while (cap < size * 2) cap <<= 1;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /**
   * Signs ping i from a random key (a random 32-byte value is a valid
   * secp256k1 key but with probability ~2^-128; seal says so if not).
   */
  sign(i: number, fromPort: number, fromTcp: number, toPort: number): void {
    const off = i * PING_STRIDE;
    for (let attempt = 0; attempt < 8; attempt++) {
      randomBytes(32).copy(this.keys, i * 32);
      const len = writePingRaw(this.pings, off, 4, IP4, fromPort, fromTcp, IP4, toPort, 0, FAR_FUTURE, 1);
      if (len < 0 || len > PING_STRIDE) throw new Error('ping does not fit its slab slot');
      if (native.seal(this.pings, off, len, this.keys, i * 32) !== 0) continue;
      this.lens[i] = len;
      if (this.insert(i)) return;
      // Two pings with the same hash: keccak256 would be broken. Draw again.
    }
    throw new Error('could not sign a ping with a fresh random key in 8 draws');
  }

  private hashAt(buf: Uint8Array, off: number): number {
    return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) & this.mask;
  }

  private insert(i: number): boolean {
    const off = i * PING_STRIDE;
    let h = this.hashAt(this.pings, off);
    for (;;) {
      const v = this.slots[h];
      if (v === 0) {
        this.slots[h] = i + 1;
        return true;
      }
      if (this.equals(v - 1, this.pings, off)) return false;
      h = (h + 1) & this.mask;
    }
  }

  private equals(i: number, buf: Uint8Array, off: number): boolean {
    const p = this.pings;
    const o = i * PING_STRIDE;
    for (let k = 0; k < 32; k++) if (p[o + k] !== buf[off + k]) return false;
    return true;
  }

  /** Index of the ping whose hash is buf[off, off+32), or -1. */
  lookup(buf: Uint8Array, off: number): number {
    let h = this.hashAt(buf, off);
    for (;;) {
      const v = this.slots[h];
      if (v === 0) return -1;
      if (this.equals(v - 1, buf, off)) return v - 1;
      h = (h + 1) & this.mask;
    }
  }
}

// ------------------------------------------------------------ the client

export interface ClientOptions {
  /** Pre-bonded keys of the pure ping->pong traffic (socket 0). */
  keys: number;
  /** Fresh keys for the full path (one use each, per server). */
  freshKeys: number;
  /** Sockets for the full path (1..S, beside socket 0); the full-path window must not exceed S. */
  fullPathSockets: number;
  kind: ClientSocketKind;
}

export class LoopbackClient {
  readonly kind: ClientSocketKind;
  /** The port every server child binds on 127.0.0.1 (picked once the client's sockets are bound). */
  serverPort = 0;
  readonly keyCount: number;
  readonly freshCount: number;
  /** Seconds spent signing the pings (before any timing). */
  signSeconds = 0;
  private readonly table: PingTable;
  private readonly socks: ClientSocket[] = [];
  private readonly view = new PacketView();
  private mode: Mode = 'idle';
  /** Key of the last matched pong on socket 0: who a following ping-back is for (warm-up only). */
  private lastPongKey = -1;
  private readonly reply = Buffer.alloc(REPLY_SLOTS * REPLY_SLOT_SIZE);
  private replySlot = 0;

  // whole-life counters
  sentDatagrams = 0;
  receivedDatagrams = 0;
  pongs = 0;
  unknownPongs = 0;
  pingBacks = 0;
  pingBacksAnswered = 0;
  pingBacksUnattributed = 0;
  otherPackets = 0;
  badPackets = 0;

  // warm-up
  private readonly ponged: Uint8Array;

  // window mode
  private readonly sentAt: Float64Array;
  private readonly freeRing: Int32Array;
  private freeHead = 0;
  private freeCount = 0;
  private inflight = 0;
  private windowSending = false;
  private matched = 0;
  private losses = 0;
  private lateOrDup = 0;

  // open-loop mode
  private openReceived = 0;
  private lastPongAt = 0;
  private readonly lastSentAt: Float64Array;
  private rttOn = false;
  private readonly rtts = new RttLog(200_000);

  // full path: fresh key j uses socket 1 + j % S and claims TCP port (tag) TAG_BASE + j % TAG_SPAN
  private readonly sideSockets: number;
  /** 0 unused, 1 ping sent, 2 pong received, 3 ping-back answered, 4 lost (timed out). */
  private readonly phase: Uint8Array;
  private readonly inflightKey: Int32Array;
  private readonly keySentAt: Float64Array;
  private freshNext = 0;
  private fullInflight = 0;
  private fullSending = false;
  private fullPings = 0;
  private fullPongs = 0;
  private fullAnswered = 0;
  private fullLost = 0;
  private repings = 0;
  private fullUnattributed = 0;
  private fullSkipped = 0;
  private poolExhausted = false;

  // findnode mode: pre-signed request i comes from pure key i % K; socket s (1..S) has one in flight
  private fnSlab = Buffer.alloc(0);
  private fnLens = new Uint16Array(0);
  private fnNext = 0;
  /** Per socket: nodes received for the request in flight, -1 when none is. */
  private readonly fnNodes: Int32Array;
  private readonly fnSentAt: Float64Array;
  private fnSending = false;
  private fnInflight = 0;
  private fnAnswers = 0;
  private fnShort = 0;
  private fnNodesTotal = 0;
  private fnPacketsIn = 0;
  private fnLost = 0;
  private fnStray = 0;

  private constructor(opts: ClientOptions, table: PingTable) {
    this.kind = opts.kind;
    this.keyCount = opts.keys;
    this.freshCount = opts.freshKeys;
    this.table = table;
    this.sideSockets = opts.fullPathSockets;
    const K = opts.keys;
    this.ponged = new Uint8Array(K);
    this.sentAt = new Float64Array(K);
    this.freeRing = new Int32Array(K);
    this.lastSentAt = new Float64Array(K);
    this.phase = new Uint8Array(opts.freshKeys);
    this.inflightKey = new Int32Array(opts.fullPathSockets + 1).fill(-1);
    this.keySentAt = new Float64Array(opts.fullPathSockets + 1);
    this.fnNodes = new Int32Array(opts.fullPathSockets + 1).fill(-1);
    this.fnSentAt = new Float64Array(opts.fullPathSockets + 1);
  }

  /**
   * Binds the sockets (1 + fullPathSockets on 127.0.0.1), picks the port
   * the servers will bind, and signs every ping: K pure ones from socket 0,
   * `freshKeys` spread over the others.
   */
  static async open(opts: ClientOptions): Promise<LoopbackClient> {
    const S = opts.fullPathSockets;
    const table = new PingTable(opts.keys + opts.freshKeys);
    const client = new LoopbackClient(opts, table);
    const opener = opts.kind === 'native' ? openNativeSocket : openDgramSocket;
    try {
      for (let s = 0; s <= S; s++) {
        const on: OnDatagram = (buf, off, len) => client.onDatagram(s, buf, off, len);
        client.socks.push(await opener(s === 0 ? MAIN_SOCKET_BUFFER : SIDE_SOCKET_BUFFER, on));
      }
      // After the client's sockets: the kernel cannot hand this port to one of them.
      client.serverPort = await pickFreePort();
      for (const sock of client.socks) await sock.connect(client.serverPort);
    } catch (err) {
      await client.close();
      throw err;
    }
    const t0 = performance.now();
    const K = opts.keys;
    for (let i = 0; i < K; i++) table.sign(i, client.socks[0].port, 0, client.serverPort);
    for (let j = 0; j < opts.freshKeys; j++) {
      table.sign(K + j, client.socks[1 + (j % S)].port, TAG_BASE + (j % TAG_SPAN), client.serverPort);
    }
    client.signSeconds = (performance.now() - t0) / 1000;
    return client;
  }

  get recvBufferSize(): number | null {
    return this.socks[0].recvBufferSize();
  }

  /** Forgets the full-path state: the fresh keys are fresh again for the next server (a new process). */
  resetForServer(): void {
    this.phase.fill(0);
    this.inflightKey.fill(-1);
    this.freshNext = 0;
    this.fullInflight = 0;
    this.poolExhausted = false;
    this.lastPongKey = -1;
  }

  async close(): Promise<void> {
    this.mode = 'idle';
    this.windowSending = false;
    this.fullSending = false;
    await Promise.all(this.socks.map((s) => s.close().catch(() => undefined)));
  }

  private dropSnapshot(): DropSnapshot {
    return { udp: readUdpCounters(), server: readSocketDrops(this.serverPort), client: readSocketDrops(this.socks[0].port) };
  }

  private sendPing(i: number, sock: number): void {
    this.sentDatagrams++;
    this.socks[sock].send(this.table.pings, i * PING_STRIDE, this.table.lens[i]);
  }

  private cost(c0: NodeJS.CpuUsage, d0: number, seconds: number): ClientCost {
    const c = process.cpuUsage(c0);
    const us = c.user + c.system;
    const n = this.sentDatagrams + this.receivedDatagrams - d0;
    return { clientCpuCores: us / 1e6 / seconds, clientDatagrams: n, clientCpuUsPerDatagram: n > 0 ? us / n : null };
  }

  // ------------------------------------------------------------ receive

  private onDatagram(s: number, buf: Uint8Array, off: number, len: number): void {
    this.receivedDatagrams++;
    const view = this.view;
    if (parseBody(view, buf, off, len) !== DecodeStatus.Ok) {
      this.badPackets++;
      return;
    }
    if (view.type === PacketType.Pong) {
      const i = this.table.lookup(buf, view.tokenStart);
      if (i < 0) {
        this.unknownPongs++;
        return;
      }
      this.pongs++;
      if (i >= this.keyCount) {
        const j = i - this.keyCount;
        if (this.phase[j] === 1) {
          this.phase[j] = 2;
          if (this.mode === 'full') this.fullPongs++;
        }
        return;
      }
      this.lastPongKey = i;
      switch (this.mode) {
        case 'window':
          this.onWindowPong(i);
          break;
        case 'open':
          this.openReceived++;
          this.lastPongAt = performance.now();
          if (this.rttOn) this.rtts.add(this.lastPongAt - this.lastSentAt[i]);
          break;
        case 'warmup':
          this.ponged[i] = 1;
          break;
        default:
          break;
      }
    } else if (view.type === PacketType.Neighbors && this.mode === 'findnode') {
      this.onNeighbors(s);
    } else if (view.type === PacketType.Ping) {
      this.pingBacks++;
      if (s === 0) this.answerWarmupPingBack(buf, off);
      else this.answerFullPathPing(s, buf, off);
    } else {
      this.otherPackets++;
    }
  }

  /** Seals a pong answering the ping whose hash is at buf[off..], with key i, and sends it from socket s. */
  private answer(i: number, s: number, buf: Uint8Array, off: number): boolean {
    const o = this.replySlot * REPLY_SLOT_SIZE;
    this.replySlot = (this.replySlot + 1) % REPLY_SLOTS;
    const r = this.reply;
    const len = writePongRaw(r, o, IP4, this.serverPort, 0, buf, off, FAR_FUTURE, 1);
    if (len < 0 || native.seal(r, o, len, this.table.keys, i * 32) !== 0) {
      this.badPackets++;
      return false;
    }
    this.sentDatagrams++;
    this.socks[s].send(r, o, len);
    this.pingBacksAnswered++;
    return true;
  }

  /**
   * Socket 0 (pure keys, bonding during warm-up): our server sends pong(k)
   * then its ping-back to k, so a ping-back is taken to be for the key of
   * the pong just before it. Should the two arrive swapped (with crypto
   * threads the pong is sealed on a worker, the ping-back on the JS
   * thread), the wrong key answers, the server stays unbonded with k, and
   * warmup()'s check rounds ping k again until it is bonded.
   */
  private answerWarmupPingBack(buf: Uint8Array, off: number): void {
    if (this.lastPongKey < 0) {
      this.pingBacksUnattributed++;
      return;
    }
    this.answer(this.lastPongKey, 0, buf, off);
  }

  /** Sockets 1..S: the key is named by the tag ethjs echoes, else it is the key in flight on this socket. */
  private answerFullPathPing(s: number, buf: Uint8Array, off: number): void {
    const tag = this.view.toTcp;
    let j = tag === 0 ? this.inflightKey[s] : this.keyOfTag(tag, s);
    if (j >= this.freshCount || (j >= 0 && this.phase[j] === 0)) j = -1;
    if (j < 0) {
      this.pingBacksUnattributed++;
      if (this.mode === 'full') this.fullUnattributed++;
      return;
    }
    if (!this.answer(this.keyCount + j, s, buf, off)) return;
    const ph = this.phase[j];
    if (ph >= 3) {
      // An old peer being re-checked (ethjs kbucket eviction pings): a live node answers.
      if (this.mode === 'full') this.repings++;
      return;
    }
    this.phase[j] = 3;
    if (this.inflightKey[s] !== j) return;
    this.inflightKey[s] = -1;
    this.fullInflight--;
    if (this.mode !== 'full') return;
    this.fullAnswered++;
    if (this.rttOn) this.rtts.add(performance.now() - this.keySentAt[s]);
    if (this.fullSending) this.sendNextFresh();
  }

  /** The most recently sent fresh key with this tag on socket s, or -1. */
  private keyOfTag(tag: number, s: number): number {
    if (tag < TAG_BASE) return -1;
    for (let j = tag - TAG_BASE + Math.floor((this.freshNext - 1 - (tag - TAG_BASE)) / TAG_SPAN) * TAG_SPAN; j >= 0; j -= TAG_SPAN) {
      if (j < this.freshNext && 1 + (j % this.sideSockets) === s) return j;
    }
    return -1;
  }

  // ------------------------------------------------------------ warm-up / bonding

  /**
   * Sends every pure key's ping (in batches) so the server pings each key
   * back and bonds once answered; then verification rounds (every ping
   * again) until no ping-back comes, at most `maxVerifyRounds`. Bounded in time.
   */
  async warmup(opts: { batch?: number; maxVerifyRounds?: number; timeoutMs?: number } = {}): Promise<WarmupResult> {
    const batch = opts.batch ?? 32;
    const maxVerify = opts.maxVerifyRounds ?? 3;
    const deadline = performance.now() + (opts.timeoutMs ?? 8000);
    const t0 = performance.now();
    const K = this.keyCount;
    this.mode = 'warmup';
    this.ponged.fill(0);

    const round = async (): Promise<number> => {
      const pbBefore = this.pingBacks;
      for (let start = 0; start < K && performance.now() < deadline; start += batch) {
        const end = Math.min(K, start + batch);
        for (let k = start; k < end; k++) {
          this.ponged[k] = 0;
          this.sendPing(k, 0);
        }
        // Wait for the batch's pongs (a lost one is retried by the next round).
        const until = Math.min(deadline, performance.now() + 1000);
        for (;;) {
          let all = true;
          for (let k = start; k < end; k++) if (this.ponged[k] === 0) all = false;
          if (all || performance.now() >= until) break;
          await sleep(2);
        }
      }
      // Let the last ping-backs arrive and be answered.
      let last = this.pingBacks;
      let quietSince = performance.now();
      while (performance.now() - quietSince < 100 && performance.now() < deadline) {
        await sleep(10);
        if (this.pingBacks !== last) {
          last = this.pingBacks;
          quietSince = performance.now();
        }
      }
      await sleep(50); // our pongs reach the server
      return this.pingBacks - pbBefore;
    };

    const answeredBefore = this.pingBacksAnswered;
    await round();
    let keysPonged = 0;
    for (let k = 0; k < K; k++) keysPonged += this.ponged[k];
    const pingBacksAnswered = this.pingBacksAnswered - answeredBefore;
    let verifyRounds = 0;
    let lastPb = 0;
    let lastPonged = 0;
    while (verifyRounds < maxVerify && performance.now() < deadline) {
      verifyRounds++;
      lastPb = await round();
      lastPonged = 0;
      for (let k = 0; k < K; k++) lastPonged += this.ponged[k];
      // A round proves the bonds only if the server answered every ping in
      // it: a server that fell behind (a busy machine) sends no ping-backs
      // either, and its late ones may be answered with the wrong key.
      if (lastPb === 0 && lastPonged === K) break;
    }
    this.mode = 'idle';
    return {
      keys: K,
      keysPonged,
      pingBacksAnswered,
      verifyRounds,
      pingBacksInLastVerify: lastPb,
      bondedKeys: Math.min(K - lastPb, lastPonged),
      ms: performance.now() - t0,
    };
  }

  // ------------------------------------------------------------ window mode

  private pushFree(k: number): void {
    const K = this.keyCount;
    this.freeRing[(this.freeHead + this.freeCount) % K] = k;
    this.freeCount++;
  }

  private sendNextWindow(): void {
    if (this.freeCount === 0) return;
    const k = this.freeRing[this.freeHead];
    this.freeHead = (this.freeHead + 1) % this.keyCount;
    this.freeCount--;
    this.sentAt[k] = performance.now();
    this.inflight++;
    this.sendPing(k, 0);
  }

  private onWindowPong(k: number): void {
    if (this.sentAt[k] === 0) {
      this.lateOrDup++;
      return;
    }
    if (this.rttOn) this.rtts.add(performance.now() - this.sentAt[k]);
    this.sentAt[k] = 0;
    this.inflight--;
    this.matched++;
    this.pushFree(k);
    if (this.windowSending) this.sendNextWindow();
  }

  /**
   * The timing every window phase shares: `warmupMs` unmeasured, then
   * `measureMs` measured (drop, CPU and datagram counters and the phase's
   * own, via `mark`, taken at its start; RTTs sampled), then `end` builds the
   * counts, sending stops, and once nothing is in flight (at most the loss
   * timeout and a little more) the timeout scan stops and `done` resolves
   * the phase.
   */
  private measurePhase<B, C>(
    opts: { warmupMs: number; measureMs: number; onStart?: () => void; onEnd?: () => void },
    p: {
      mark: () => B;
      end: (base: B, seconds: number, common: ClientCost & { kernelDrops: ReturnType<typeof dropsBetween> }) => C;
      stopSending: () => void;
      inflight: () => number;
      lossTimeoutMs: number;
      scan: NodeJS.Timeout;
      done: (counts: C) => void;
    },
  ): void {
    let base: B = p.mark();
    let t0 = 0;
    let c0 = process.cpuUsage();
    let d0 = 0;
    let s0: DropSnapshot | null = null;
    setTimeout(() => {
      s0 = this.dropSnapshot();
      base = p.mark();
      t0 = performance.now();
      c0 = process.cpuUsage();
      d0 = this.sentDatagrams + this.receivedDatagrams;
      this.rtts.n = 0;
      this.rttOn = true;
      opts.onStart?.();
    }, opts.warmupMs);
    setTimeout(() => {
      this.rttOn = false;
      const seconds = (performance.now() - t0) / 1000;
      const counts = p.end(base, seconds, { ...this.cost(c0, d0, seconds), kernelDrops: dropsBetween(s0 ?? this.dropSnapshot(), this.dropSnapshot()) });
      opts.onEnd?.();
      p.stopSending();
      const drainStart = performance.now();
      const drain = setInterval(() => {
        if (p.inflight() > 0 && performance.now() - drainStart < p.lossTimeoutMs + 200) return;
        clearInterval(drain);
        clearInterval(p.scan);
        this.mode = 'idle';
        p.done(counts);
      }, 10);
    }, opts.warmupMs + opts.measureMs);
  }

  private scanTimeouts(lossTimeoutMs: number): void {
    const now = performance.now();
    const sentAt = this.sentAt;
    for (let k = 0; k < sentAt.length; k++) {
      if (sentAt[k] !== 0 && now - sentAt[k] > lossTimeoutMs) {
        sentAt[k] = 0;
        this.inflight--;
        this.losses++;
        this.pushFree(k);
        if (this.windowSending) this.sendNextWindow();
      }
    }
  }

  /**
   * `window` pings in flight, each matched pong sends the next (round-robin
   * over the pure keys, one outstanding ping per key). Runs warmupMs
   * unmeasured, then measureMs measured (onStart / onEnd mark the
   * interval), then drains.
   */
  runWindow(opts: {
    window: number;
    warmupMs: number;
    measureMs: number;
    lossTimeoutMs?: number;
    onStart?: () => void;
    onEnd?: () => void;
  }): Promise<WindowCounts> {
    const K = this.keyCount;
    if (opts.window >= K) throw new Error('window must be smaller than the number of keys');
    const lossTimeoutMs = opts.lossTimeoutMs ?? 1000;
    this.sentAt.fill(0);
    this.freeHead = 0;
    this.freeCount = 0;
    for (let k = 0; k < K; k++) this.pushFree(k);
    this.inflight = 0;
    this.matched = 0;
    this.losses = 0;
    this.lateOrDup = 0;
    this.mode = 'window';
    this.windowSending = true;

    return new Promise((resolve) => {
      const scan = setInterval(() => this.scanTimeouts(lossTimeoutMs), 100);
      for (let i = 0; i < opts.window; i++) this.sendNextWindow();
      this.measurePhase(opts, {
        mark: () => this.matched,
        end: (m0, seconds, common) => {
          const pongs = this.matched - m0;
          return { pongs, seconds, pongsPerSec: pongs / seconds, ...common };
        },
        stopSending: () => (this.windowSending = false),
        inflight: () => this.inflight,
        lossTimeoutMs,
        scan,
        done: (counts) => resolve({ ...counts, losses: this.losses, lateOrDuplicate: this.lateOrDup, undrained: this.inflight, rtt: this.rtts.summary() }),
      });
    });
  }

  // ------------------------------------------------------------ open-loop mode

  /**
   * Offers `rate` pings/s for durationMs, in small bursts from a timer
   * (pure keys round-robin, outstanding or not), counts pongs until the
   * server falls quiet (at most graceMaxMs after the last send).
   */
  runOpenLoop(opts: {
    rate: number;
    durationMs: number;
    tickMs?: number;
    graceQuietMs?: number;
    graceMaxMs?: number;
    onStart?: () => void;
    onEnd?: () => void;
  }): Promise<OpenLoopCounts> {
    const tickMs = opts.tickMs ?? 5;
    const quietMs = opts.graceQuietMs ?? 250;
    const graceMaxMs = opts.graceMaxMs ?? 2000;
    const total = Math.round((opts.rate * opts.durationMs) / 1000);
    // A stalled timer must not turn into one giant burst: at most 4 ticks' worth at once.
    const maxBurst = Math.max(1, Math.ceil((opts.rate * tickMs * 4) / 1000));
    const K = this.keyCount;
    this.openReceived = 0;
    this.lastPongAt = 0;
    this.mode = 'open';
    let sent = 0;
    let behind = 0;
    let rr = 0;

    return new Promise((resolve) => {
      const s0 = this.dropSnapshot();
      const c0 = process.cpuUsage();
      const d0 = this.sentDatagrams + this.receivedDatagrams;
      const t0 = performance.now();
      opts.onStart?.();
      this.rtts.n = 0;
      this.rttOn = true;
      let sendEnd = 0;
      let whileSending = 0;
      const tick = setInterval(() => {
        const now = performance.now();
        const elapsed = Math.min(now - t0, opts.durationMs);
        let due = Math.min(total, Math.floor((opts.rate * elapsed) / 1000)) - sent;
        if (due > maxBurst) {
          behind += due - maxBurst;
          due = maxBurst;
        }
        for (let i = 0; i < due; i++) {
          this.lastSentAt[rr] = now;
          this.sendPing(rr, 0);
          rr = rr + 1 === K ? 0 : rr + 1;
        }
        sent += due;
        if (now - t0 < opts.durationMs) return;
        clearInterval(tick);
        sendEnd = now;
        whileSending = this.openReceived;
        const grace = setInterval(() => {
          const n = performance.now();
          const quiet = n - Math.max(this.lastPongAt, sendEnd) >= quietMs;
          if (!(this.openReceived >= sent || quiet || n - sendEnd >= graceMaxMs)) return;
          clearInterval(grace);
          this.rttOn = false;
          const seconds = (sendEnd - t0) / 1000;
          const drops = dropsBetween(s0, this.dropSnapshot());
          opts.onEnd?.();
          this.mode = 'idle';
          resolve({
            offeredPps: opts.rate,
            seconds,
            sent,
            sentPerSec: sent / seconds,
            received: this.openReceived,
            receivedWhileSending: whileSending,
            receivedPerSec: whileSending / seconds,
            drainMs: Math.max(0, this.lastPongAt - sendEnd),
            rtt: this.rtts.summary(),
            lossPct: sent > 0 ? (100 * Math.max(0, sent - this.openReceived)) / sent : 0,
            behind,
            ...this.cost(c0, d0, (n - t0) / 1000),
            kernelDrops: drops,
          });
        }, 10);
      }, tickMs);
    });
  }

  // ------------------------------------------------------------ full path

  /** Sends the next fresh key's ping from its own socket. False when the pool is used up. */
  private sendNextFresh(): boolean {
    const S = this.sideSockets;
    while (this.freshNext < this.freshCount) {
      const j = this.freshNext++;
      const s = 1 + (j % S);
      if (this.inflightKey[s] >= 0) {
        // A stuck key still holds this endpoint; one key per endpoint keeps attribution exact.
        this.fullSkipped++;
        continue;
      }
      this.inflightKey[s] = j;
      this.keySentAt[s] = performance.now();
      this.phase[j] = 1;
      this.fullInflight++;
      this.fullPings++;
      this.sendPing(this.keyCount + j, s);
      return true;
    }
    this.poolExhausted = true;
    return false;
  }

  private scanFullTimeouts(lossTimeoutMs: number): void {
    const now = performance.now();
    for (let s = 1; s <= this.sideSockets; s++) {
      const j = this.inflightKey[s];
      if (j >= 0 && now - this.keySentAt[s] > lossTimeoutMs) {
        this.phase[j] = 4;
        this.inflightKey[s] = -1;
        this.fullInflight--;
        this.fullLost++;
        if (this.fullSending) this.sendNextFresh();
      }
    }
  }

  /**
   * The full path: `window` fresh keys in flight, each on its own socket;
   * a key's cycle is ping -> pong + ping-back -> our signed pong, and the
   * answer sends the next fresh key. Runs warmupMs unmeasured, then
   * measureMs measured (onStart / onEnd mark the interval), then drains.
   * Bonds completed are counted by the server (what it accepted).
   */
  runFullPath(opts: {
    window: number;
    warmupMs: number;
    measureMs: number;
    lossTimeoutMs?: number;
    onStart?: () => void;
    onEnd?: () => void;
  }): Promise<FullPathCounts> {
    if (opts.window > this.sideSockets) throw new Error('the full-path window needs one socket per key in flight');
    const lossTimeoutMs = opts.lossTimeoutMs ?? 2000;
    this.fullLost = 0;
    this.repings = 0;
    this.fullUnattributed = 0;
    this.fullSkipped = 0;
    this.mode = 'full';
    this.fullSending = true;

    return new Promise((resolve) => {
      const scan = setInterval(() => this.scanFullTimeouts(lossTimeoutMs), 50);
      for (let i = 0; i < opts.window; i++) if (!this.sendNextFresh()) break;
      this.measurePhase(opts, {
        mark: () => ({ pings: this.fullPings, pongs: this.fullPongs, answered: this.fullAnswered }),
        end: (base, seconds, common) => {
          const pongs = this.fullPongs - base.pongs;
          const answered = this.fullAnswered - base.answered;
          return {
            window: opts.window,
            seconds,
            pings: this.fullPings - base.pings,
            pongs,
            pingBacksAnswered: answered,
            pongsPerSec: pongs / seconds,
            pingBacksAnsweredPerSec: answered / seconds,
            ...common,
          };
        },
        stopSending: () => (this.fullSending = false),
        inflight: () => this.fullInflight,
        lossTimeoutMs,
        scan,
        done: (counts) =>
          resolve({
            ...counts,
            lost: this.fullLost,
            repingsAnswered: this.repings,
            unattributed: this.fullUnattributed,
            skipped: this.fullSkipped,
            undrained: this.fullInflight,
            rtt: this.rtts.summary(),
            poolUsed: this.freshNext,
            poolSize: this.freshCount,
            poolExhausted: this.poolExhausted,
          }),
      });
    });
  }

  // ------------------------------------------------------------ findnode mode

  /**
   * Signs `n` findnodes for random targets, request i from pure key i % K
   * (bonded by warmup()), before any timing. The server keeps no replay
   * cache for findnode, so runFindnode cycles over them.
   */
  signFindnodes(n: number): void {
    const t0 = performance.now();
    const slab = Buffer.alloc(n * FINDNODE_STRIDE);
    const lens = new Uint16Array(n);
    const target = Buffer.alloc(64);
    for (let i = 0; i < n; i++) {
      randomFillSync(target);
      const off = i * FINDNODE_STRIDE;
      const len = writeFindnodeRaw(slab, off, target, FAR_FUTURE);
      if (len < 0 || len > FINDNODE_STRIDE) throw new Error('findnode does not fit its slab slot');
      if (native.seal(slab, off, len, this.table.keys, (i % this.keyCount) * 32) !== 0) throw new Error('sealing a findnode failed');
      lens[i] = len;
    }
    this.fnSlab = slab;
    this.fnLens = lens;
    this.fnNext = 0;
    this.signSeconds += (performance.now() - t0) / 1000;
  }

  private sendFindnode(s: number): void {
    const i = this.fnNext;
    this.fnNext = (i + 1) % this.fnLens.length;
    this.fnNodes[s] = 0;
    this.fnSentAt[s] = performance.now();
    this.fnInflight++;
    this.sentDatagrams++;
    this.socks[s].send(this.fnSlab, i * FINDNODE_STRIDE, this.fnLens[i]);
  }

  /**
   * A neighbors packet on socket s: the server answers in packets of 12, so
   * an answer is complete at 16 nodes or with a packet of fewer than 12 (an
   * answer of exactly 12 looks unfinished and ends at the timeout, as lost).
   */
  private onNeighbors(s: number): void {
    this.fnPacketsIn++;
    if (s === 0 || this.fnNodes[s] < 0) {
      this.fnStray++;
      return;
    }
    const n = this.view.nodeCount;
    const got = this.fnNodes[s] + n;
    if (got < ANSWER_NODES && n === NODES_PER_PACKET) {
      this.fnNodes[s] = got;
      return;
    }
    this.fnNodes[s] = -1;
    this.fnInflight--;
    this.fnAnswers++;
    this.fnNodesTotal += got;
    if (got < ANSWER_NODES) this.fnShort++;
    if (this.rttOn) this.rtts.add(performance.now() - this.fnSentAt[s]);
    if (this.fnSending) this.sendFindnode(s);
  }

  private scanFindnodeTimeouts(window: number, lossTimeoutMs: number): void {
    const now = performance.now();
    for (let s = 1; s <= window; s++) {
      if (this.fnNodes[s] < 0 || now - this.fnSentAt[s] <= lossTimeoutMs) continue;
      this.fnNodes[s] = -1;
      this.fnInflight--;
      this.fnLost++;
      if (this.fnSending) this.sendFindnode(s);
    }
  }

  /**
   * `window` findnodes in flight from bonded keys, one per side socket (the
   * neighbors packets come back to the socket that asked, so each answer is
   * attributed exactly); each complete answer sends the next. Runs warmupMs
   * unmeasured, then measureMs measured (onStart / onEnd), then drains.
   */
  runFindnode(opts: { window: number; warmupMs: number; measureMs: number; lossTimeoutMs?: number; onStart?: () => void; onEnd?: () => void }): Promise<FindnodeCounts> {
    if (opts.window > this.sideSockets) throw new Error('the findnode window needs one side socket per request in flight');
    if (this.fnLens.length === 0) throw new Error('signFindnodes() first');
    const lossTimeoutMs = opts.lossTimeoutMs ?? 1000;
    this.fnNodes.fill(-1);
    this.fnInflight = 0;
    this.fnLost = 0;
    this.fnStray = 0;
    this.mode = 'findnode';
    this.fnSending = true;

    return new Promise((resolve) => {
      const scan = setInterval(() => this.scanFindnodeTimeouts(opts.window, lossTimeoutMs), 50);
      for (let s = 1; s <= opts.window; s++) this.sendFindnode(s);
      this.measurePhase(opts, {
        mark: () => ({ answers: this.fnAnswers, short: this.fnShort, nodes: this.fnNodesTotal, packets: this.fnPacketsIn }),
        end: (base, seconds, common) => {
          const answers = this.fnAnswers - base.answers;
          return {
            window: opts.window,
            seconds,
            answers,
            answersPerSec: answers / seconds,
            shortAnswers: this.fnShort - base.short,
            nodesPerAnswer: answers > 0 ? (this.fnNodesTotal - base.nodes) / answers : null,
            neighborsPackets: this.fnPacketsIn - base.packets,
            ...common,
          };
        },
        stopSending: () => (this.fnSending = false),
        inflight: () => this.fnInflight,
        lossTimeoutMs,
        scan,
        done: (counts) => resolve({ ...counts, lost: this.fnLost, stray: this.fnStray, undrained: this.fnInflight, rtt: this.rtts.summary() }),
      });
    });
  }
}
