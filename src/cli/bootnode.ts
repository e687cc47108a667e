/**
 * The bootnode command: a discovery node that others join through.
 *
 * First run: creates <datadir>/nodekey (0600) and the node DB in
 * <datadir>/nodes, prints the enode URL and ENR, keeps running. Later runs
 * reuse both, so the enode URL stays the same and the DB seeds the table.
 *
 * Shutdown (SIGINT/SIGTERM): stop taking packets and close the DB
 * (Discovery.close: transport first, then a DB flush and close), remove
 * NAT mappings (none yet: no NAT module), stop the metrics server, exit 0.
 * If that takes more than SHUTDOWN_TIMEOUT_MS, or a second signal comes,
 * exit at once (1, or 128 + the signal number). Signals are caught from
 * the start (StopSignals): one that comes during startup is honoured once
 * the node has started.
 */
import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { osExplain, osProblem } from '../errors';
import { nodeIdFromPrivateKey, generatePrivateKey } from '../crypto';
import { startDiscv5, type V5Service } from '../v5';
import { Discovery } from '../node/discovery';
import { BindError } from '../transport/socket';
import { TransportStats } from '../transport/transport';
import { ipToBytes, ipToString } from '../wire/ip';
import { encodeEnrText, formatRows } from './enr-text';
import { CliError, usageError } from './errors';
import { Options } from './flags';
import { loadOrCreateKey, parseKeyHex, readKeyFile, writeKeyFile } from './keyfile';
import { createLogger, Logger, LogLimiter } from './log';
import { createMetrics, MetricsServer, metricsFailure, NodeMetrics, serveMetrics } from './metrics';
import { formatNat } from './nat';
import type { NatMapping } from '../nat/types';
import { parseRecord } from '../enr/record';
import { packageVersion } from './version';
import { HttpApi, httpFailure, startHttpApi } from './http';
import { checkTcpPortFree } from './listen';
import { SHUTDOWN_TIMEOUT_MS } from '../defaults';

export { SHUTDOWN_TIMEOUT_MS };

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** The key from --nodekeyhex, --nodekey, or <datadir>/nodekey (created if missing). */
export async function bootnodeKey(o: Options, log: Logger): Promise<{ key: Buffer; path?: string; created: boolean }> {
  const warn = (m: string) => log.warn(m);
  if (o.nodekeyhex !== undefined) {
    try {
      return { key: parseKeyHex(o.nodekeyhex, '--nodekeyhex'), created: false };
    } catch (err) {
      throw usageError((err as Error).message);
    }
  }
  if (o.nodekey !== undefined) return { key: await readKeyFile(o.nodekey, warn, '--nodekey'), path: o.nodekey, created: false };
  const path = join(o.datadir, 'nodekey');
  if (o.writeaddress) return { key: await readKeyFile(path, warn, '--datadir'), path, created: false };
  return { ...(await loadOrCreateKey(path, warn, '--datadir')), path };
}

/**
 * Binds, then releases, the UDP port (--addr), the metrics port
 * (--metrics-addr) and the HTTP API's (--http-addr) when they are fixed; a CliError saying which is taken
 * and what to do. (Port 0 is always free.)
 */
export async function checkPortsFree(o: Pick<Options, 'addr' | 'metricsAddr'> & Partial<Pick<Options, 'httpAddr'>>): Promise<void> {
  if (o.addr.port !== 0) {
    const sock = dgram.createSocket(isIPv6(o.addr.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (err) => {
        sock.close();
        reject(bindFailure(o.addr, err));
      });
      sock.bind(o.addr.port, o.addr.host, () => sock.close(() => resolve()));
    });
  }
  const { metricsAddr: m, httpAddr: h } = o;
  await checkTcpPortFree(m, (err) => metricsFailure(m!, err));
  await checkTcpPortFree(h, (err) => httpFailure(h!, err));
}

/**
 * The one line for a UDP port the node cannot bind (`err`: the socket's
 * error, or the BindError around it), same as checkPortsFree's.
 */
export function bindFailure(addr: Options['addr'], err: unknown): CliError {
  const cause = err instanceof BindError ? ((err as { cause?: unknown }).cause ?? err) : err;
  if (osProblem(cause) === undefined && err instanceof BindError) return new CliError(err.message); // already names the address
  return new CliError(`cannot bind UDP ${addr.host}:${addr.port}: ${osExplain(cause, '--addr', 'port')}`);
}

/** Packets per second between two snapshots. */
function rate(now: number, before: number, sec: number): string {
  return ((now - before) / sec).toFixed(1);
}

function sum(o: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(o)) n += v;
  return n;
}

/**
 * SIGINT/SIGTERM, caught from the moment the command starts: a signal is
 * fatal to the process until a handler is installed, and a service manager
 * may stop us while the DB opens, or right after the enode URL appears. The
 * first signal is remembered (shutdown starts once startup is done); a
 * second one exits at once.
 */
class StopSignals {
  private sig?: NodeJS.Signals;
  private waiter?: (sig: NodeJS.Signals) => void;

  constructor(private readonly io: Io) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  private readonly handler = (sig: NodeJS.Signals): void => {
    if (this.sig !== undefined) {
      this.io.err(`discv4: second ${sig}: exiting now\n`);
      process.exit(SIGNAL_EXIT[sig] ?? 1);
    }
    this.sig = sig;
    this.waiter?.(sig);
  };

  /** The first signal, as soon as there is one. */
  first(): Promise<NodeJS.Signals> {
    if (this.sig !== undefined) return Promise.resolve(this.sig);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

/** Runs until SIGINT/SIGTERM; resolves with the exit code (0 after a clean shutdown). */
export async function runBootnode(o: Options, io: Io): Promise<number> {
  const signals = new StopSignals(io);
  try {
    return await run(o, io, signals);
  } finally {
    signals.dispose();
  }
}

async function run(o: Options, io: Io, signals: StopSignals): Promise<number> {
  const log = createLogger({ verbosity: o.verbosity, format: o.logFormat });
  const version = packageVersion();

  if (o.genkey !== undefined) {
    const key = generatePrivateKey();
    await writeKeyFile(o.genkey, key, '--genkey');
    if (o.writeaddress) io.out(`${nodeIdFromPrivateKey(key).toString('hex')}\n`);
    log.info({ file: o.genkey }, 'wrote a new node key');
    return 0;
  }

  // A taken port fails the start before the key file and the node DB are
  // created, so a failed first run leaves nothing behind. (--writeaddress
  // only reads the key: it works beside the running node.)
  if (!o.writeaddress) await checkPortsFree(o);
  const { key, path: keyPath, created } = await bootnodeKey(o, log);
  const nodeId = nodeIdFromPrivateKey(key);
  if (o.writeaddress) {
    io.out(`${nodeId.toString('hex')}\n`);
    return 0;
  }
  if (created) log.info({ file: keyPath }, 'created a new node key');

  const externalIp = o.nat.kind === 'extip' ? o.nat.ip : undefined;
  const dbDir = join(o.datadir, 'nodes');

  let d: Discovery;
  try {
    d = await Discovery.start({
      privateKey: key,
      address: o.addr.host,
      port: o.addr.port,
      db: dbDir,
      bootnodes: o.bootnodes,
      netrestrict: o.netrestrict,
      threads: o.threads,
      fork: o.fork,
      knownNodes: o.knownNodes,
      table: o.bucketSize === undefined ? undefined : { bucketSize: o.bucketSize },
      transport: o.rateLimits === undefined ? undefined : { rateLimits: o.rateLimits },
      // Discovery finds the gateway, maps the port, puts the external IP in
      // the record and removes the mapping on close(); we only log.
      nat: o.nat,
    });
  } catch (err) {
    // Taken since checkPortsFree, or refused for another reason (EADDRNOTAVAIL, EACCES).
    if (err instanceof BindError) throw bindFailure(o.addr, err);
    throw err;
  }

  // discv5 on the same port: the datagrams that are not discv4 go to it (src/v5).
  let v5: V5Service | undefined;
  if (o.v5) {
    try {
      const enrs = o.bootnodes.flatMap((b) => (typeof b !== 'string' && b.record !== undefined ? [b.record] : []));
      v5 = await startDiscv5(d, { privateKey: key, bootnodes: enrs });
    } catch (err) {
      await d.close();
      throw err;
    }
  }

  const port = d.transport.socket.address().port;
  d.on('natMapped', (m: NatMapping, kind: string, ip?: string) => {
    log.info({ externalIp: ip, externalPort: m.externalPort, lifetimeSec: m.lifetimeSec }, `mapped UDP port ${port} via ${kind}`);
    if (m.externalPort !== port) log.warn(`the gateway mapped UDP ${port} to external port ${m.externalPort}; the record still advertises ${port}`);
  });
  d.on('error', (err: Error) => log.error({ err: err.message }, 'discovery error (the node keeps running)'));
  d.on('banned', (b) =>
    log.warn({ kind: b.kind, target: b.target, reason: b.reason, until: Number.isFinite(b.untilMs) ? new Date(b.untilMs).toISOString() : 'lifted by hand' }, 'banned'),
  );
  d.on('natError', (err: Error) => log.warn({ err: err.message }, `--nat ${formatNat(o.nat)}: no usable gateway or mapping; running without a port mapping`));

  let metrics: NodeMetrics | undefined;
  let server: MetricsServer | undefined;
  if (o.metricsAddr !== undefined || o.httpAddr !== undefined) {
    try {
      metrics = createMetrics(d, { version });
      if (o.metricsAddr !== undefined) server = await serveMetrics(metrics.registry, o.metricsAddr);
    } catch (err) {
      metrics?.stop();
      await d.close();
      throw err;
    }
  }

  const bound = d.transport.socket.address();
  const unspecified = bound.address === '0.0.0.0' || bound.address === '::';
  const shownIp = externalIp ?? (d.nat !== undefined ? recordIp(d.localRecord) : undefined) ?? (unspecified ? '127.0.0.1' : bound.address);
  const enode = d.enode(ipToBytes(shownIp));
  const enr = encodeEnrText(d.localRecord);
  const rows: Array<[string, string]> = [
    ['id', nodeId.toString('hex')],
    ['enode', enode],
    ['enr', enr],
    ['listen', `${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}/udp`],
    ['threads', String(d.transport.socket.stats().threads ?? 1)],
    ['datadir', o.nodekeyhex !== undefined || o.nodekey !== undefined ? `${o.datadir} (node DB only)` : o.datadir],
  ];
  if (v5 !== undefined) rows.push(['discv5', 'on (same UDP port)']);
  if (server !== undefined) rows.push(['metrics', server.url]);
  let http: HttpApi | undefined;
  if (o.httpAddr !== undefined) {
    try {
      http = await startHttpApi(d, o.httpAddr, {
        version,
        metrics,
        v5,
        // The record follows the address peers report: show what it advertises now.
        enode: () => d.enode(ipToBytes(recordIp(d.localRecord) ?? shownIp)),
        enr: () => encodeEnrText(d.localRecord),
        forkSource: o.fork === undefined ? undefined : o.fork.id !== undefined ? '--fork-id' : (o.fork.file ?? o.fork.network),
      });
    } catch (err) {
      metrics?.stop();
      await v5?.stop();
      await d.close();
      await server?.close();
      throw err;
    }
    rows.push(['http', http.url]);
  }
  io.out(`discv4 bootnode ${version}\n${formatRows(rows)}\n`);

  log.info(
    { id: nodeId.toString('hex').slice(0, 16), listen: `${bound.address}:${bound.port}`, nat: formatNat(o.nat), dbNodes: d.db.size, bootnodes: o.bootnodes.length, seq: Number(d.localSeq) },
    'bootnode running',
  );
  if (unspecified && externalIp === undefined && d.nat === undefined) {
    log.warn(`bound to ${bound.address}: the ENR advertises 127.0.0.1; set --nat extip:<public IP> so other machines learn a reachable address`);
  }

  const limiter = new LogLimiter(log);
  limiter.start();
  d.transport.on('handlerError', (err) => limiter.event('handler_error', 'error', { err }, 'packet handler failed'));
  if (log.isLevelEnabled('debug')) {
    d.transport.on('inboundNode', (n) => limiter.event('inbound_node', 'debug', { id: n.id.toString('hex').slice(0, 16), addr: `${ipToString(n.ip)}:${n.udpPort}` }, 'bonded with an inbound node'));
    d.on('lookup', (e: { durationMs: number; found: number }) => limiter.event('lookup', 'debug', { ms: Math.round(e.durationMs), found: e.found }, 'lookup finished'));
  }
  if (log.isLevelEnabled('trace')) {
    // Building these events copies each packet: only at trace, and rate-limited like everything a peer can trigger.
    for (const type of ['ping', 'pong', 'findnode', 'neighbors', 'enrRequest', 'enrResponse'] as const) {
      d.transport.on(type, (p) => limiter.event(`packet_${type}`, 'trace', { from: `${p.from.address}:${p.from.port}`, id: p.packet.nodeId.toString('hex').slice(0, 16) }, `${type} received`));
    }
  }

  // The status line, and warnings for counters that mean trouble on our side.
  let prev: { t: number; s: TransportStats; writeErrors: number; droppedWrites: number } = {
    t: performance.now(),
    s: d.transport.stats(),
    writeErrors: 0,
    droppedWrites: 0,
  };
  const status = () => {
    const now = performance.now();
    const s = d.transport.stats();
    const db = d.db.stats();
    const sec = Math.max(0.001, (now - prev.t) / 1000);
    const drops = sum(s.drops) - sum(prev.s.drops);
    let top = '';
    let topN = 0;
    for (const [reason, n] of Object.entries(s.drops)) {
      const delta = n - (prev.s.drops as Record<string, number>)[reason];
      if (delta > topN) [top, topN] = [reason, delta];
    }
    log.info(
      {
        peers: d.table.size,
        bonded: s.bonds,
        in: `${rate(sum(s.packetsIn), sum(prev.s.packetsIn), sec)}/s`,
        out: `${rate(sum(s.packetsOut), sum(prev.s.packetsOut), sec)}/s`,
        drops: `${(drops / sec).toFixed(1)}/s`,
        ...(topN > 0 ? { top_drop: top } : {}),
        pending: s.pending,
        db: db.nodes,
        ...(v5 !== undefined ? { v5peers: v5.tableSize } : {}),
      },
      'status',
    );
    const exhausted = s.drops.send_pool_exhausted - prev.s.drops.send_pool_exhausted;
    if (exhausted > 0) limiter.event('send_pool_exhausted', 'warn', { count: exhausted }, 'send buffers exhausted: replies were dropped');
    if (db.writeErrors > prev.writeErrors) limiter.event('db_write_errors', 'error', { count: db.writeErrors - prev.writeErrors }, 'node DB writes failed');
    if (db.droppedWrites > prev.droppedWrites) limiter.event('db_dropped_writes', 'warn', { count: db.droppedWrites - prev.droppedWrites }, 'node DB write queue full: writes dropped');
    prev = { t: now, s, writeErrors: db.writeErrors, droppedWrites: db.droppedWrites };
  };
  const statusTimer = o.statusIntervalMs > 0 ? setInterval(status, o.statusIntervalMs) : undefined;
  statusTimer?.unref();

  const sig = await signals.first();
  const started = performance.now();
  log.info({ signal: sig }, 'shutting down');
  const hard = setTimeout(() => {
    io.err(`discv4: shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting\n`);
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  if (statusTimer !== undefined) clearInterval(statusTimer);
  metrics?.stop();
  try {
    await v5?.stop();
    await d.close(); // stops the socket first, then flushes and closes the DB
    await server?.close();
    await http?.close();
    limiter.stop();
    log.info({ ms: Math.round(performance.now() - started) }, 'stopped');
    return 0;
  } catch (err) {
    io.err(`discv4: shutdown failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    clearTimeout(hard);
  }
}

/** The IP our record advertises (the gateway's external IP when --nat mapped one). */
function recordIp(record: Buffer): string | undefined {
  const r = parseRecord(record);
  if (typeof r === 'string') return undefined;
  const ep = r.udpEndpoint();
  return ep === undefined ? undefined : ipToString(ep.ip);
}
