/**
 * The loopback bench's server: one discv4 node bound on 127.0.0.1 in its
 * own process, driven by bench/loopback/index.ts over IPC.
 *
 *   node --expose-gc --import tsx bench/loopback/server.ts --impl ours-dgram|ours-native|ours-dpt|ethjs
 *        [--port P] [--threads N] [--ping-back]
 *
 * --port: the 127.0.0.1 port to bind (default 0, any); --threads: crypto
 * threads of our native socket; --ping-back: ethjs only, shouldFindNeighbours
 * true so the DPT pings back unknown senders.
 *
 * Tells the parent { port, id } once bound, then answers 'reset' (zero the
 * CPU / event-loop / bond baselines), 'stats' and 'exit'. Exits by itself
 * when the parent goes away (IPC disconnect) and after a hard cap of 10
 * minutes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { generatePrivateKey } from '../../src/crypto';
import { DPT as OurDPT } from '../../src/dpt';
import { bindDgram, BindOptions, DgramPacketSocket, PacketSocket } from '../../src/transport/socket';
import { Transport, TransportConfig } from '../../src/transport/transport';
import type { ChildMessage, Impl, ParentMessage, ServerArgs, ServerStats } from './protocol';

const HARD_CAP_MS = 10 * 60 * 1000;
/**
 * The whole load comes from one IP (127.0.0.1), so per-IP ingress limits
 * and the amplification ledger would measure themselves, not the node:
 * the bench turns them off (ethjs has neither). Spread from a constant so
 * this compiles against a transport without these options too.
 */
const UNLIMITED = { rateLimits: false, amplificationAllowance: Infinity } as const;
const ADDRESS = '127.0.0.1';

interface RunningNode {
  port: number;
  id: Buffer;
  socketKind: string;
  /** Crypto threads the socket says it runs (stats().threads), when it says. */
  threads: number | null;
  /** Bonds completed since start (see ServerStats.bondsSinceReset). */
  bonds(): number;
  recvBufferSize(): number | null;
  extra(): Partial<ServerStats>;
  close(): Promise<void>;
}

/** The native socket is optional: being written elsewhere, it may be missing or broken. */
class Unavailable extends Error {}

/**
 * Peak RSS of this process, KiB. /proc/self/status VmHWM belongs to this
 * process image; getrusage's maxRSS is not usable here because Linux
 * carries it over fork + exec, so it would report the parent's peak (the
 * bench process after the micro suites) whenever that was higher.
 */
function peakRssKb(): { kb: number; source: 'VmHWM' | 'maxRSS' } {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return { kb: Number(m[1]), source: 'VmHWM' };
  } catch {
    /* not Linux */
  }
  return { kb: process.resourceUsage().maxRSS, source: 'maxRSS' };
}

function send(msg: ChildMessage): void {
  if (process.send !== undefined && process.connected) process.send(msg);
}

function recvBufOf(sock: { getRecvBufferSize(): number }): number | null {
  try {
    return sock.getRecvBufferSize();
  } catch {
    return null;
  }
}

type BindNative = (o: BindOptions & { threads?: number }) => Promise<PacketSocket>;

async function loadBindNative(): Promise<BindNative> {
  // LOOPBACK_NATIVE_SOCKET overrides the module's path (to test the fallback).
  const file = process.env.LOOPBACK_NATIVE_SOCKET ?? path.join(__dirname, '..', '..', 'src', 'transport', 'native-socket.ts');
  if (!fs.existsSync(file)) throw new Unavailable(`${file} does not exist`);
  // A variable specifier: the module may not exist when this file is type-checked.
  const spec = pathToFileURL(file).href;
  let mod: { bindNative?: unknown };
  try {
    mod = (await import(spec)) as { bindNative?: unknown };
  } catch (err) {
    throw new Unavailable(`importing native-socket failed: ${(err as Error).message}`);
  }
  if (typeof mod.bindNative !== 'function') throw new Unavailable('native-socket does not export bindNative');
  return mod.bindNative as BindNative;
}

/** stats().threads of a socket that reports it (the crypto pool's), else null. */
function threadsOf(socket: PacketSocket): number | null {
  const n = socket.stats().threads;
  return typeof n === 'number' ? n : null;
}

async function startOurs(args: ServerArgs): Promise<RunningNode> {
  let socket: PacketSocket;
  if (args.impl === 'ours-native') {
    const bindNative = await loadBindNative();
    try {
      socket = await bindNative({ address: ADDRESS, port: args.port, ...(args.threads !== undefined ? { threads: args.threads } : {}) });
    } catch (err) {
      throw new Unavailable(`bindNative failed: ${(err as Error).message}`);
    }
  } else {
    socket = await bindDgram({ address: ADDRESS, port: args.port });
  }
  const t = new Transport({ privateKey: generatePrivateKey(), socket, ...UNLIMITED } as TransportConfig);
  t.on('handlerError', () => undefined);
  return {
    port: socket.address().port,
    id: t.nodeId,
    socketKind: socket.kind,
    threads: threadsOf(socket),
    // Every ping the bench's server sends is a ping-back: a pong that
    // matched one completed a bond (unmatched ones count as unsolicited).
    bonds: () => {
      const st = t.stats();
      return st.packetsIn.pong - st.drops.unsolicited;
    },
    recvBufferSize: () => (socket instanceof DgramPacketSocket ? recvBufOf(socket.socket) : (socket.stats().recvBufferSize ?? null)),
    extra: () => ({ transport: t.stats(), socket: socket.stats() }),
    close: () => t.close(),
  };
}

interface DptLike {
  id: Uint8Array | undefined;
  events: { once(e: string, f: () => void): void; on(e: string, f: (err: unknown) => void): void };
  bind(port: number, address: string): void;
  destroy(): void;
  _server: { _socket: { address(): { port: number }; getRecvBufferSize(): number } };
}

async function startEthjs(args: ServerArgs): Promise<RunningNode> {
  const { DPT } = await import('@ethereumjs/devp2p');
  const dpt = new DPT(generatePrivateKey(), {
    endpoint: { address: ADDRESS, udpPort: null, tcpPort: null },
    timeout: 1000,
    refreshInterval: 600_000,
    // dpt/server.js: a ping from a node not in the table emits 'peers' with
    // ping.from 100 ms later; DPT only acts on it (addPeer: ping that
    // endpoint) when shouldFindNeighbours is set.
    shouldFindNeighbours: args.pingBack === true,
    shouldGetDnsPeers: false,
  }) as unknown as DptLike;
  let dptErrors = 0;
  let peersNew = 0;
  const samples: string[] = [];
  dpt.events.on('error', (err) => {
    dptErrors++;
    if (samples.length < 3) samples.push(String((err as Error)?.message ?? err));
  });
  dpt.events.on('peer:new', () => peersNew++);
  const listening = new Promise<void>((resolve) => dpt.events.once('listening', () => resolve()));
  dpt.bind(args.port, ADDRESS);
  await listening;
  const sock = dpt._server._socket;
  return {
    port: sock.address().port,
    id: Buffer.from(dpt.id!),
    socketKind: args.pingBack ? 'dgram (DPT, shouldFindNeighbours)' : 'dgram (DPT)',
    threads: null,
    bonds: () => peersNew,
    recvBufferSize: () => recvBufOf(sock),
    extra: () => ({ dptErrors, dptErrorSamples: [...samples] }),
    close: async () => dpt.destroy(),
  };
}

/** Our DPT facade (src/dpt), configured as the ethjs DPT above: what an ethjs user gets by switching the import. */
async function startOurDpt(args: ServerArgs): Promise<RunningNode> {
  const dpt = new OurDPT(generatePrivateKey(), {
    endpoint: { address: ADDRESS, udpPort: null, tcpPort: null },
    timeout: 1000,
    refreshInterval: 600_000,
    shouldFindNeighbours: false,
    shouldGetDnsPeers: false,
    // As for our node above: no per-IP limits against the one loopback client.
    ...UNLIMITED,
  });
  let dptErrors = 0;
  dpt.events.on('error', () => dptErrors++);
  const listening = new Promise<void>((resolve) => dpt.events.once('listening', () => resolve()));
  dpt.bind(args.port, ADDRESS);
  await listening;
  const t = dpt.service!.transport;
  return {
    port: t.socket.address().port,
    id: Buffer.from(dpt.id),
    socketKind: 'native (our DPT)',
    threads: threadsOf(t.socket),
    bonds: () => {
      const st = t.stats();
      return st.packetsIn.pong - st.drops.unsolicited;
    },
    recvBufferSize: () => t.socket.stats().recvBufferSize ?? null,
    extra: () => ({ dptErrors, transport: t.stats(), socket: t.socket.stats() }),
    close: async () => dpt.destroy(),
  };
}

async function main(): Promise<void> {
  const flag = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const impl = (flag('--impl') ?? 'ours-dgram') as Impl;
  const threads = flag('--threads');
  const args: ServerArgs = {
    impl,
    port: Number(flag('--port') ?? 0),
    ...(threads !== undefined ? { threads: Number(threads) } : {}),
    pingBack: process.argv.includes('--ping-back'),
  };
  const hardCap = setTimeout(() => process.exit(3), HARD_CAP_MS);
  hardCap.unref();
  // The parent is gone: nothing left to serve.
  process.on('disconnect', () => process.exit(0));
  if (process.send === undefined) {
    console.error('bench/loopback/server.ts must be started by the bench (needs an IPC channel)');
    process.exit(2);
  }

  let node: RunningNode;
  try {
    node = impl === 'ethjs' ? await startEthjs(args) : impl === 'ours-dpt' ? await startOurDpt(args) : await startOurs(args);
  } catch (err) {
    if (err instanceof Unavailable) send({ type: 'unavailable', reason: err.message });
    else send({ type: 'error', message: (err as Error).stack ?? String(err) });
    setTimeout(() => process.exit(1), 50);
    return;
  }

  let cpuBase = process.cpuUsage();
  let wallBase = performance.now();
  let eluBase = performance.eventLoopUtilization();
  let bondsBase = node.bonds();
  const gc = (globalThis as { gc?: () => void }).gc;

  const stats = (wantGc: boolean): ServerStats => {
    // CPU first, so the gc below is not billed to the measured interval.
    const cpu = process.cpuUsage(cpuBase);
    const wallUs = (performance.now() - wallBase) * 1000;
    const elu = performance.eventLoopUtilization(eluBase).utilization;
    const peak = peakRssKb();
    let heapUsedAfterGc: number | null = null;
    if (wantGc && gc !== undefined) {
      gc();
      gc();
      heapUsedAfterGc = process.memoryUsage().heapUsed;
    }
    return {
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      wallUs,
      cpuCoresUsed: wallUs > 0 ? (cpu.user + cpu.system) / wallUs : 0,
      elu,
      maxRssKb: peak.kb,
      maxRssSource: peak.source,
      rssKb: Math.round(process.memoryUsage.rss() / 1024),
      heapUsedAfterGc,
      recvBufferSize: node.recvBufferSize(),
      bondsSinceReset: node.bonds() - bondsBase,
      threads: node.threads,
      ...node.extra(),
    };
  };

  process.on('message', (raw: unknown) => {
    const msg = raw as ParentMessage;
    switch (msg.type) {
      case 'reset':
        cpuBase = process.cpuUsage();
        wallBase = performance.now();
        eluBase = performance.eventLoopUtilization();
        bondsBase = node.bonds();
        send({ type: 'reset', seq: msg.seq });
        break;
      case 'stats':
        send({ type: 'stats', seq: msg.seq, ...stats(msg.gc) });
        break;
      case 'exit':
        void node.close().finally(() => process.exit(0));
        setTimeout(() => process.exit(0), 1000).unref();
        break;
    }
  });

  send({ type: 'ready', impl, port: node.port, id: node.id.toString('hex'), socketKind: node.socketKind, threads: node.threads });
}

main().catch((err) => {
  send({ type: 'error', message: (err as Error).stack ?? String(err) });
  setTimeout(() => process.exit(1), 50);
});
