/**
 * The loopback bench's load generator. Runs in the bench's own process:
 * one dgram socket on 127.0.0.1 (connected to the server), K distinct keys
 * and one pre-signed ping per key (expiring in 2100, so the same bytes are
 * re-sent all run; discv4 has no replay protection and the server answers
 * every ping).
 *
 * Pongs are matched without signature checks, so the client stays cheap:
 * parseBody into one reused PacketView, type === pong, the 32-byte reply
 * token looked up in a map token -> key. Pings from the server (ping-backs
 * of a node that does not know us yet) are answered with a pong signed by
 * the key they are for: the server sends pong(k) then ping-back(k) for one
 * ping, and loopback keeps a socket pair's datagrams in order, so a
 * ping-back belongs to the key of the pong just before it.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { decodePacket, DecodeStatus, encodePacket, PacketType, PacketView, parseBody } from '../../src';

/** 2100-01-01: the pre-signed pings stay valid for the whole run. */
export const FAR_FUTURE = 4102444800;
const HOST = '127.0.0.1';
const SOCKET_BUFFER = 8 * 1024 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
  /** /proc/net/udp drops of the client's socket alone. */
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
  /** Keys the server treats as bonded (no ping-back in the last round). */
  bondedKeys: number;
  ms: number;
}

export interface WindowCounts {
  /** Matched pongs inside the measured interval. */
  pongs: number;
  seconds: number;
  pongsPerSec: number;
  /** Keys freed by the per-key timeout (lost ping or pong), whole run. */
  losses: number;
  /** Pongs for a key with nothing outstanding (late after a timeout, duplicates). */
  lateOrDuplicate: number;
  /** Client CPU during the measured interval (is the client the bottleneck?). */
  clientCpuCores: number;
  kernelDrops: KernelDrops;
  /** Pings still outstanding when the drain gave up. */
  undrained: number;
  /** Ping -> matched pong, measured interval. */
  rtt: Rtt | null;
}

export interface OpenLoopCounts {
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
  clientCpuCores: number;
  kernelDrops: KernelDrops;
}

type Mode = 'idle' | 'warmup' | 'window' | 'open';

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

export class LoopbackClient {
  readonly port: number;
  private readonly pings: Buffer[];
  private readonly tokens = new Map<string, number>();
  private readonly view = new PacketView();
  private mode: Mode = 'idle';
  /** Key of the last matched pong: who a following ping-back is for. */
  private lastPongKey = -1;

  // whole-life counters
  received = 0;
  pongs = 0;
  unknownPongs = 0;
  pingBacks = 0;
  pingBacksAnswered = 0;
  pingBacksUnattributed = 0;
  otherPackets = 0;
  badPackets = 0;
  socketErrors = 0;

  // warm-up
  private ponged: Uint8Array;

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

  private constructor(
    private readonly sock: dgram.Socket,
    private readonly keys: readonly Buffer[],
    private readonly serverPort: number,
  ) {
    this.port = sock.address().port;
    const from = { ip: HOST, udpPort: this.port, tcpPort: 0 };
    const to = { ip: HOST, udpPort: serverPort, tcpPort: 0 };
    this.pings = keys.map((k) => encodePacket(PacketType.Ping, { from, to, expiration: FAR_FUTURE, enrSeq: 1 }, k));
    this.pings.forEach((p, i) => this.tokens.set(p.toString('latin1', 0, 32), i));
    if (this.tokens.size !== keys.length) throw new Error('duplicate ping hashes: keys must be distinct');
    this.ponged = new Uint8Array(keys.length);
    this.sentAt = new Float64Array(keys.length);
    this.freeRing = new Int32Array(keys.length);
    this.lastSentAt = new Float64Array(keys.length);
    sock.on('message', this.onMessage);
    sock.on('error', () => this.socketErrors++);
  }

  /** A client for the server on 127.0.0.1:serverPort, one pre-signed ping per key. */
  static async open(serverPort: number, keys: readonly Buffer[]): Promise<LoopbackClient> {
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, HOST, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    await new Promise<void>((resolve) => sock.connect(serverPort, HOST, () => resolve()));
    return new LoopbackClient(sock, keys, serverPort);
  }

  get recvBufferSize(): number {
    return this.sock.getRecvBufferSize();
  }

  close(): Promise<void> {
    this.mode = 'idle';
    this.windowSending = false;
    return new Promise((resolve) => {
      try {
        this.sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private dropSnapshot(): DropSnapshot {
    return { udp: readUdpCounters(), server: readSocketDrops(this.serverPort), client: readSocketDrops(this.port) };
  }

  private send(k: number): void {
    this.sock.send(this.pings[k]);
  }

  // ------------------------------------------------------------ receive

  private readonly onMessage = (msg: Buffer): void => {
    this.received++;
    const view = this.view;
    if (parseBody(view, msg, 0, msg.length) !== DecodeStatus.Ok) {
      this.badPackets++;
      return;
    }
    if (view.type === PacketType.Pong) {
      const k = this.tokens.get(msg.toString('latin1', view.tokenStart, view.tokenStart + 32));
      if (k === undefined) {
        this.unknownPongs++;
        return;
      }
      this.pongs++;
      this.lastPongKey = k;
      switch (this.mode) {
        case 'window':
          this.onWindowPong(k);
          break;
        case 'open':
          this.openReceived++;
          this.lastPongAt = performance.now();
          if (this.rttOn) this.rtts.add(this.lastPongAt - this.lastSentAt[k]);
          break;
        case 'warmup':
          this.ponged[k] = 1;
          break;
        case 'idle':
          break;
      }
    } else if (view.type === PacketType.Ping) {
      this.pingBacks++;
      this.answerPingBack(msg);
    } else {
      this.otherPackets++;
    }
  };

  /** Answers the server's ping-back with a pong from the key it is for. Rare: bonding only. */
  private answerPingBack(msg: Buffer): void {
    const k = this.lastPongKey;
    if (k < 0) {
      this.pingBacksUnattributed++;
      return;
    }
    let hash: Buffer;
    try {
      hash = Buffer.from(decodePacket(msg).hash);
    } catch {
      this.badPackets++;
      return;
    }
    const pong = encodePacket(
      PacketType.Pong,
      { to: { ip: HOST, udpPort: this.port, tcpPort: 0 }, replyToken: hash, expiration: FAR_FUTURE, enrSeq: 1 },
      this.keys[k],
    );
    this.sock.send(pong);
    this.pingBacksAnswered++;
  }

  // ------------------------------------------------------------ warm-up / bonding

  /**
   * Sends every key's ping (in batches) so the server pings each key back
   * and bonds once answered; then verification rounds (every ping again)
   * until no ping-back comes, at most `maxVerifyRounds`. Bounded in time.
   */
  async warmup(opts: { batch?: number; maxVerifyRounds?: number; timeoutMs?: number } = {}): Promise<WarmupResult> {
    const batch = opts.batch ?? 32;
    const maxVerify = opts.maxVerifyRounds ?? 3;
    const deadline = performance.now() + (opts.timeoutMs ?? 8000);
    const t0 = performance.now();
    const K = this.keys.length;
    this.mode = 'warmup';
    this.ponged.fill(0);

    const round = async (): Promise<number> => {
      const pbBefore = this.pingBacks;
      for (let start = 0; start < K && performance.now() < deadline; start += batch) {
        const end = Math.min(K, start + batch);
        for (let k = start; k < end; k++) {
          this.ponged[k] = 0;
          this.send(k);
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
    while (verifyRounds < maxVerify && performance.now() < deadline) {
      verifyRounds++;
      lastPb = await round();
      if (lastPb === 0) break;
    }
    this.mode = 'idle';
    return {
      keys: K,
      keysPonged,
      pingBacksAnswered,
      verifyRounds,
      pingBacksInLastVerify: lastPb,
      bondedKeys: K - lastPb,
      ms: performance.now() - t0,
    };
  }

  // ------------------------------------------------------------ window mode

  private pushFree(k: number): void {
    const K = this.keys.length;
    this.freeRing[(this.freeHead + this.freeCount) % K] = k;
    this.freeCount++;
  }

  private sendNextWindow(): void {
    if (this.freeCount === 0) return;
    const k = this.freeRing[this.freeHead];
    this.freeHead = (this.freeHead + 1) % this.keys.length;
    this.freeCount--;
    this.sentAt[k] = performance.now();
    this.inflight++;
    this.send(k);
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
   * over the keys, one outstanding ping per key). Runs warmupMs unmeasured,
   * then measureMs measured (onStart / onEnd mark the interval), then drains.
   */
  runWindow(opts: {
    window: number;
    warmupMs: number;
    measureMs: number;
    lossTimeoutMs?: number;
    onStart?: () => void;
    onEnd?: () => void;
  }): Promise<WindowCounts> {
    const K = this.keys.length;
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
      let m0 = 0;
      let t0 = 0;
      let c0 = process.cpuUsage();
      let s0: DropSnapshot | null = null;
      let counts: Omit<WindowCounts, 'losses' | 'lateOrDuplicate' | 'undrained' | 'rtt'>;
      const scan = setInterval(() => this.scanTimeouts(lossTimeoutMs), 100);
      for (let i = 0; i < opts.window; i++) this.sendNextWindow();
      setTimeout(() => {
        s0 = this.dropSnapshot();
        m0 = this.matched;
        t0 = performance.now();
        c0 = process.cpuUsage();
        this.rtts.n = 0;
        this.rttOn = true;
        opts.onStart?.();
      }, opts.warmupMs);
      setTimeout(() => {
        this.rttOn = false;
        const seconds = (performance.now() - t0) / 1000;
        const pongs = this.matched - m0;
        const c = process.cpuUsage(c0);
        counts = {
          pongs,
          seconds,
          pongsPerSec: pongs / seconds,
          clientCpuCores: (c.user + c.system) / 1e6 / seconds,
          kernelDrops: dropsBetween(s0 ?? this.dropSnapshot(), this.dropSnapshot()),
        };
        opts.onEnd?.();
        this.windowSending = false;
        const drainStart = performance.now();
        const drain = setInterval(() => {
          if (this.inflight > 0 && performance.now() - drainStart < lossTimeoutMs + 200) return;
          clearInterval(drain);
          clearInterval(scan);
          this.mode = 'idle';
          resolve({ ...counts, losses: this.losses, lateOrDuplicate: this.lateOrDup, undrained: this.inflight, rtt: this.rtts.summary() });
        }, 10);
      }, opts.warmupMs + opts.measureMs);
    });
  }

  // ------------------------------------------------------------ open-loop mode

  /**
   * Offers `rate` pings/s for durationMs, in small bursts from a timer
   * (keys round-robin, outstanding or not), counts pongs until the server
   * falls quiet (at most graceMaxMs after the last send).
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
    const K = this.keys.length;
    this.openReceived = 0;
    this.lastPongAt = 0;
    this.mode = 'open';
    let sent = 0;
    let behind = 0;
    let rr = 0;

    return new Promise((resolve) => {
      const s0 = this.dropSnapshot();
      const c0 = process.cpuUsage();
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
          this.send(rr);
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
          const c = process.cpuUsage(c0);
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
            clientCpuCores: (c.user + c.system) / 1e6 / ((n - t0) / 1000),
            kernelDrops: drops,
          });
        }, 10);
      }, tickMs);
    });
  }
}
