/**
 * The loopback bench's server: one discv4 node bound on 127.0.0.1 in its
 * own process, driven by bench/loopback/index.ts over IPC.
 *
 *   node --expose-gc --import tsx bench/loopback/server.ts --impl ours-dgram|ours-native|ours-dpt|ethjs|ours-scale
 *        [--port P] [--threads N] [--ping-back]
 *        [--bucket-size N --known N --fork-filter strict|off --full-buckets N]
 *
 * --port: the 127.0.0.1 port to bind (default 0, any); --threads: crypto
 * threads of our native socket; --ping-back: ethjs only, shouldFindNeighbours
 * true so the DPT pings back unknown senders. ours-scale: a whole Discovery
 * (the bootnode setup of issue #19) with its table prefilled at
 * --bucket-size until the top --full-buckets buckets are full, --known
 * known-good nodes, and the fork filter of its neighbors answers
 * (bench/loopback/prefill.ts, scale.ts).
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
import { NodeDB } from '../../src/db';
import { DPT as OurDPT } from '../../src/dpt';
import { Discovery } from '../../src/node/discovery';
import { forkId, headAt, NETWORKS } from '../../src/node/forkid';
import { bindDgram, BindOptions, DgramPacketSocket, PacketSocket } from '../../src/transport/socket';
import { Transport, TransportConfig } from '../../src/transport/transport';
import { knownInfos, prefillTable, recordPool } from './prefill';
import type { ChildMessage, Impl, ParentMessage, ScaleReady, ServerArgs, ServerStats } from './protocol';

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
  /** ours-scale: what the prefilled node holds. */
  scale?: ScaleReady;
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
  return transportNode(t, () => t.close());
}

/** One of our transports as the bench sees it (ours-dgram, ours-native, ours-scale). */
function transportNode(t: Transport, close: () => Promise<void>): RunningNode {
  const socket = t.socket;
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
    close,
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

/** Random ids tried at most to fill the table (1024 per bucket in the top 10 buckets takes ~1.1 M). */
const MAX_PREFILL_CANDIDATES = 3_000_000;
/** Keys signing the prefilled nodes' records, per fork class. */
const RECORD_KEYS = 32;
/**
 * The prefilled entries are not nodes: a revalidation ping would go to a
 * 10.x address off this machine. The first revalidation of a list comes at
 * random() * interval after it gets its first entry; with these it comes
 * 12 hours after start, long past the server's 10-minute cap.
 */
const NO_REVALIDATION = { pingIntervalMs: 24 * 3600 * 1000, random: () => 0.5 } as const;

/**
 * A bootnode as issue #19 configures it (big buckets, known nodes, fork
 * filter), answering findnode from a table and known set prefilled as a
 * long-running bootnode's would be. It sends nothing but answers to
 * 127.0.0.1: no bootnodes, no refresh, no revalidation, inbound nodes kept
 * out of the (prefilled) table, every entry has a record (so none is fetched).
 */
async function startOursScale(args: ServerArgs): Promise<RunningNode> {
  const sc = args.scale;
  if (sc === undefined) throw new Error('ours-scale needs --bucket-size, --known, --fork-filter');
  const t0 = performance.now();
  // The prefill writes ~110,000 nodes in one synchronous go; with the default
  // bound on queued writes the DB would drop most of them (a bootnode's DB,
  // filled over days, never meets that bound), so it is lifted here.
  const db = await NodeDB.open(null, { maxPendingWrites: Number.MAX_SAFE_INTEGER });
  const d = await Discovery.start({
    privateKey: generatePrivateKey(),
    address: ADDRESS,
    port: args.port,
    socketKind: 'native',
    threads: args.threads ?? 1,
    externalIp: ADDRESS,
    db,
    refreshOnStart: false,
    refreshIntervalMs: 0,
    inboundNodes: 'never',
    autoBanMs: 0,
    table: { bucketSize: sc.bucketSize, ...NO_REVALIDATION },
    knownNodes: sc.known,
    fork: { network: 'mainnet', filter: sc.forkFilter },
    transport: UNLIMITED,
  });
  const head = headAt(Date.now());
  const pool = recordPool(RECORD_KEYS, forkId(NETWORKS.mainnet, head), forkId(NETWORKS.sepolia, head));
  const filled = prefillTable(d.table, { bucketSize: sc.bucketSize, fullBuckets: sc.fullBuckets, maxCandidates: MAX_PREFILL_CANDIDATES, pool });
  // A bootnode holds `known` known nodes in all, the table's among them
  // (they joined as they entered); it loaded them from its DB, which keeps them too.
  const known = d.known;
  if (known !== undefined) {
    const now = Date.now();
    const missing = Math.max(0, sc.known - known.size);
    for (const n of knownInfos(missing, pool, filled.entries)) {
      db.putNode({ ...n, lastPingSentMs: now, lastPongReceivedMs: now, findFails: 0 });
      known.add(n, now);
    }
  }
  await db.flush();
  // The fork filter caches each node's class: a bootnode that has answered
  // for a while has it for every table entry (the first look decodes and
  // verifies the record, ~50 µs). Known nodes are looked at only when the
  // table falls short, and are left cold.
  const forks = d.forks;
  if (forks !== undefined) for (const n of d.table.nodes()) forks.matches(n);
  const scale: ScaleReady = {
    tableEntries: filled.entries,
    perBucket: filled.perBucket,
    knownNodes: known?.size ?? 0,
    dbNodes: db.size,
    candidates: filled.candidates,
    prefillSec: (performance.now() - t0) / 1000,
    forkClasses: filled.forkClasses,
  };
  const node = transportNode(d.transport, async () => {
    await d.close();
    await db.close();
  });
  return { ...node, scale };
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
  if (impl === 'ours-scale') {
    const filter = flag('--fork-filter') ?? 'strict';
    if (filter !== 'strict' && filter !== 'off') throw new Error(`--fork-filter must be strict or off (got '${filter}')`);
    args.scale = {
      bucketSize: Number(flag('--bucket-size') ?? 16),
      known: Number(flag('--known') ?? 0),
      forkFilter: filter,
      fullBuckets: Number(flag('--full-buckets') ?? 10),
    };
  }
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
    node =
      impl === 'ethjs'
        ? await startEthjs(args)
        : impl === 'ours-dpt'
          ? await startOurDpt(args)
          : impl === 'ours-scale'
            ? await startOursScale(args)
            : await startOurs(args);
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

  send({
    type: 'ready',
    impl,
    port: node.port,
    id: node.id.toString('hex'),
    socketKind: node.socketKind,
    threads: node.threads,
    ...(node.scale !== undefined ? { scale: node.scale } : {}),
  });
}

main().catch((err) => {
  send({ type: 'error', message: (err as Error).stack ?? String(err) });
  setTimeout(() => process.exit(1), 50);
});
