/**
 * Prometheus metrics of a running node (prom-client), served over HTTP.
 *
 * Nothing here runs per packet. The transport, table and DB already keep
 * counters (stats()); the metrics read them when Prometheus scrapes, and
 * counters advance by the difference since the previous scrape, so they
 * keep counter semantics. Two things are measured on the side:
 *
 * - Lookup durations: one `lookup` event from Discovery per lookup.
 * - Crypto time per packet: every 30 s a sampler times 16 seals (hash +
 *   sign, what each outgoing packet costs) and 16 opens (hash + recover +
 *   parse, what each incoming packet costs) of a ping-size packet on this
 *   process's native crypto, and feeds them to a summary. Timing every
 *   real packet would put two clock reads on the hot path and a hook in
 *   the read loop; the sample costs ~2 ms every 30 s and still shows when
 *   the machine (CPU contention, throttling) makes packets expensive.
 *
 * Event-loop lag and process memory/CPU are prom-client's default
 * metrics (nodejs_eventloop_lag_seconds, process_resident_memory_bytes...).
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { ListeningServer, listenHttp } from './listen';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { generatePrivateKey, nativeCrypto } from '../crypto';
import type { Discovery } from '../node/discovery';
import { DROP_REASONS, TransportStats } from '../transport/transport';
import { PacketView, readPacket } from '../wire/decode';
import { writePacket } from '../wire/encode';
import { PacketType } from '../wire/types';
import { osExplain } from '../errors';
import { CliError } from './errors';
import type { HostPort } from './flags';

export const CRYPTO_SAMPLE_INTERVAL_MS = 30_000;
const CRYPTO_SAMPLES = 16;

/** Transport names (camelCase) as Prometheus label values (snake_case). */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** Runs the crypto sampler now (it also runs every 30 s). */
  sampleCrypto(): void;
  stop(): void;
}

export function createMetrics(d: Discovery, info: { version: string }): NodeMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  // One transport snapshot serves every metric of a scrape: prom-client
  // starts all collect() calls in one turn; the next turn takes a new one.
  let snap: TransportStats | undefined;
  const stats = (): TransportStats => {
    if (snap === undefined) {
      snap = d.transport.stats();
      setImmediate(() => (snap = undefined));
    }
    return snap;
  };

  /** A counter that follows a monotonic source, per label value. */
  const mirror = (name: string, help: string, label: string | undefined, read: () => Record<string, number>) => {
    const last = new Map<string, number>();
    const c: Counter<string> = new Counter({
      name,
      help,
      labelNames: label === undefined ? [] : [label],
      registers,
      collect() {
        for (const [k, v] of Object.entries(read())) {
          const prev = last.get(k);
          const delta = v - (prev ?? 0);
          // A source that went back (it was replaced) only moves on from there.
          if (delta > 0 || prev === undefined) {
            const inc = Math.max(0, delta);
            if (label === undefined) c.inc(inc);
            else c.inc({ [label]: k }, inc);
          }
          last.set(k, v);
        }
      },
    });
  };
  const byName = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v]));
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });

  mirror('discv4_packets_in_total', 'Verified packets received, by type.', 'type', () => byName(stats().packetsIn));
  mirror('discv4_packets_out_total', 'Packets sent, by type.', 'type', () => byName(stats().packetsOut));
  mirror(
    'discv4_drops_total',
    `Datagrams dropped, by reason: ${DROP_REASONS.join(', ')}.`,
    'reason',
    () => stats().drops,
  );
  mirror('discv4_received_bytes_total', 'UDP payload bytes received, dropped datagrams included.', undefined, () => ({ all: stats().bytesIn }));
  mirror('discv4_sent_bytes_total', 'UDP payload bytes sent.', undefined, () => ({ all: stats().bytesOut }));
  mirror('discv4_request_timeouts_total', 'Requests (ping, findnode, ENR request) that got no reply in time.', undefined, () => ({ all: stats().timeouts }));
  gauge('discv4_pending_requests', 'Requests waiting for a reply (the pending-reply queue depth).', () => stats().pending);
  const sock = () => d.transport.socket.stats();
  gauge('discv4_crypto_threads', 'Threads doing packet crypto (verify, sign); 1 = the main thread only.', () => sock().threads ?? 1);
  mirror('discv4_work_queue_drops_total', 'Replies dropped because a crypto thread\'s queue was full.', undefined, () => ({ all: sock().workQueueDrops ?? 0 }));
  mirror('discv4_socket_send_drops_total', 'Datagrams the socket could not send (send queue full, send errors).', 'reason', () => {
    const x = sock();
    return { queue_full: x.sendDropped ?? 0, error: (x.sendErrors ?? 0) + (x.workerSendErrors ?? 0) };
  });
  gauge('discv4_bonded_nodes', 'Nodes with an endpoint proof on record (bond store entries).', () => stats().bonds);

  new Gauge({
    name: 'discv4_table_nodes',
    help: 'Live nodes in the routing table, by bucket (0 holds log distances <= 239, 16 distance 256).',
    labelNames: ['bucket'],
    registers,
    collect() {
      d.table.buckets.forEach((b, i) => this.set({ bucket: String(i) }, b.entries.length));
    },
  });
  gauge('discv4_table_size', 'Live nodes in the routing table, all buckets.', () => d.table.size);
  gauge('discv4_table_replacements', 'Replacement candidates waiting in the routing table, all buckets.', () =>
    d.table.buckets.reduce((n, b) => n + b.replacements.length, 0),
  );
  mirror('discv4_table_events_total', 'Routing table events: added, removed, replaced, revalidations, revalidation_failures, verify_dropped, ip_limited.', 'event', () =>
    byName({ ...d.table.stats }),
  );

  gauge('discv4_db_nodes', 'Nodes stored in the node database.', () => d.db.stats().nodes);
  gauge('discv4_db_pending_writes', 'Node database writes waiting to be committed.', () => d.db.stats().pendingWrites);
  mirror('discv4_db_write_errors_total', 'Node database writes the storage engine failed to commit.', undefined, () => ({ all: d.db.stats().writeErrors }));
  mirror('discv4_db_dropped_writes_total', 'Node database writes dropped because the write queue was full.', undefined, () => ({ all: d.db.stats().droppedWrites }));
  mirror('discv4_db_expired_total', 'Nodes deleted from the database after a day unseen.', undefined, () => ({ all: d.db.stats().expired }));

  const lookups = new Histogram({
    name: 'discv4_lookup_duration_seconds',
    help: 'Duration of node lookups (refresh, self and random lookups).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers,
  });
  const onLookup = (e: { durationMs: number }) => lookups.observe(e.durationMs / 1000);
  d.on('lookup', onLookup);

  const crypto = new Summary({
    name: 'discv4_crypto_seconds',
    help: `Crypto time per packet: seal (hash + sign, outgoing) and open (hash + recover + parse, incoming), sampled every ${CRYPTO_SAMPLE_INTERVAL_MS / 1000} s on a ping-size packet.`,
    labelNames: ['op'],
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers,
  });

  new Gauge({
    name: 'discv4_info',
    help: 'Constant 1, labelled with the version and node id.',
    labelNames: ['version', 'node_id'],
    registers,
  }).set({ version: info.version, node_id: d.nodeId.toString('hex') }, 1);
  gauge('discv4_enr_seq', 'Sequence number of our node record.', () => Number(d.localSeq));

  // The sampler's packet, built once: a ping from a throwaway key.
  const key = generatePrivateKey();
  const buf = Buffer.alloc(1280);
  const len = writePacket(buf, 0, PacketType.Ping, {
    from: { ip: '203.0.113.1', udpPort: 30303, tcpPort: 30303 },
    to: { ip: '203.0.113.2', udpPort: 30303, tcpPort: 0 },
    enrSeq: 1n,
  });
  const view = new PacketView();
  const sampleCrypto = () => {
    for (let i = 0; i < CRYPTO_SAMPLES; i++) {
      const t0 = performance.now();
      nativeCrypto.seal(buf, 0, len, key);
      const t1 = performance.now();
      readPacket(view, buf, 0, len, -1);
      const t2 = performance.now();
      crypto.observe({ op: 'seal' }, (t1 - t0) / 1000);
      crypto.observe({ op: 'open' }, (t2 - t1) / 1000);
    }
  };
  sampleCrypto();
  const timer = setInterval(sampleCrypto, CRYPTO_SAMPLE_INTERVAL_MS);
  timer.unref();

  return {
    registry,
    sampleCrypto,
    stop() {
      clearInterval(timer);
      d.off('lookup', onLookup);
    },
  };
}

/** The metrics server: its URL (http://host:port/metrics) and close(). */
export type MetricsServer = ListeningServer;

/** The one line for a metrics address the server cannot listen on (here, and in bootnode's checkPortsFree). */
export function metricsFailure(addr: HostPort, err: unknown): CliError {
  return new CliError(`cannot serve metrics on ${addr.host}:${addr.port}: ${osExplain(err, '--metrics-addr', 'port')}`);
}

/** Answers a GET (or HEAD) of /metrics with the Prometheus text: here and in the HTTP API (http/server.ts). */
export function respondMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse): void {
  registry.metrics().then(
    (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
    (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
  );
}

/** Serves GET /metrics. Rejects with CliError (exit 1) if the address cannot be bound. */
export function serveMetrics(registry: Registry, addr: HostPort): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      respondMetrics(registry, req, res);
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('discv4 bootnode: metrics at /metrics\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  return listenHttp(server, addr, '/metrics', (err) => metricsFailure(addr, err));
}
