/**
 * The read-only views of a running node that the HTTP API serves: status,
 * node lists (table and known nodes, paged and filtered, JSON or CSV),
 * bans with the sources refused most, and the traffic history. Nothing
 * here changes the node, and nothing shows its private key.
 */
import { formatForkId, recordForkId } from '../../node/forkid';
import { csvCell } from '../csv';
import type { Discovery } from '../../node/discovery';
import { decodeRecord } from '../../enr/record';
import { ipToString } from '../../wire/ip';
import type { History, HistorySeries } from './history';

export interface ApiContext {
  d: Discovery;
  version: string;
  /** Wall-clock ms when the node started. */
  startedMs: number;
  /** Our enode URL as shown to operators (the advertised IP). */
  enode(): string;
  /** Our record in text form (enr:...). */
  enr(): string;
  history: History;
  /** discv5 beside discv4 (undefined: off). */
  v5?: { readonly tableSize: number };
  /** How the fork id was chosen, for display: a network name, a genesis file, or a fixed id. */
  forkSource?: string;
}

export class QueryError extends Error {}

type Match = 'ours' | 'other' | 'unknown';

export interface NodeRow {
  id: string;
  ip: string;
  udpPort: number;
  tcpPort: number;
  /** 'table': in the routing table; 'known': proved itself, kept beyond the table. */
  source: 'table' | 'known';
  /** Table bucket (table nodes only). */
  bucket: number | null;
  /** Passed a revalidation ping (table nodes only). */
  live: boolean | null;
  enrSeq: string | null;
  /** From the `eth` entry of its record, "0xhash:next"; null: no record or no entry. */
  forkId: string | null;
  /** Its fork id against ours ('unknown' without a record, or when we serve no network). */
  fork: Match;
  /** Wall-clock ms (null: not known). */
  firstSeen: number | null;
  lastSeen: number | null;
  lastPong: number | null;
}

interface NodeLike {
  id: Buffer;
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
  record?: Buffer;
}

/** Fork ids read from records, per node object (records are verified once, not on every request). */
const forkCache = new WeakMap<object, { record: Buffer; forkId: string | null; seq: bigint | null }>();

function recordInfo(n: NodeLike): { forkId: string | null; seq: bigint | null } {
  const rec = n.record;
  if (rec === undefined) return { forkId: null, seq: null };
  const hit = forkCache.get(n);
  if (hit !== undefined && hit.record === rec) return hit;
  const r = decodeRecord(rec);
  const id = recordForkId(r);
  const v = { record: rec, forkId: id === undefined ? null : formatForkId(id), seq: r?.seq ?? null };
  forkCache.set(n, v);
  return v;
}

function matchOf(ctx: ApiContext, n: NodeLike): Match {
  const m = ctx.d.forks?.matches(n);
  return m === true ? 'ours' : m === false ? 'other' : 'unknown';
}

/** Table nodes (by bucket, closest last), then the known nodes not in the table (most recently seen first). */
function allNodes(ctx: ApiContext): Array<{ n: NodeLike; source: 'table' | 'known'; bucket: number | null; live: boolean | null; addedMs: number | null; seenMs: number | null; seq: bigint | null }> {
  const d = ctx.d;
  const out: ReturnType<typeof allNodes> = [];
  const inTable = new Set<string>();
  // Table times are on the node's monotonic clock: shift them to its wall clock.
  const shift = d.now() - d.clock.now();
  d.table.buckets.forEach((b, i) => {
    for (const n of b.entries) {
      inTable.add(n.id.toString('latin1'));
      out.push({ n, source: 'table', bucket: i, live: n.isValidatedLive, addedMs: Math.round(n.addedAtMs + shift), seenMs: null, seq: n.seq });
    }
  });
  if (d.known !== undefined) {
    const rest = [...d.known.values()].filter((k) => !inTable.has(k.id.toString('latin1'))).sort((a, b) => b.seenMs - a.seenMs);
    for (const k of rest) out.push({ n: k, source: 'known', bucket: null, live: null, addedMs: null, seenMs: k.seenMs, seq: null });
  }
  return out;
}

export const NODES_DEFAULT_LIMIT = 100;
export const NODES_MAX_LIMIT = 1000;
const NODES_PARAMS = new Set(['source', 'fork', 'q', 'offset', 'limit', 'format']);

export interface NodesQuery {
  source: 'all' | 'table' | 'known';
  fork?: Match;
  q: string;
  offset: number;
  limit: number;
  format: 'json' | 'csv';
}

function intParam(v: string, name: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new QueryError(`invalid ${name} ${JSON.stringify(v)}: expected an integer from ${min} to ${max}`);
  return Number(v);
}

/** Checks /nodes query parameters; QueryError (HTTP 400) for unknown or malformed ones. */
export function parseNodesQuery(params: URLSearchParams): NodesQuery {
  for (const k of params.keys()) if (!NODES_PARAMS.has(k)) throw new QueryError(`unknown parameter ${JSON.stringify(k)} (known: ${[...NODES_PARAMS].join(', ')})`);
  const one = (k: string): string | undefined => {
    const all = params.getAll(k);
    if (all.length > 1) throw new QueryError(`parameter ${k} given ${all.length} times`);
    return all[0];
  };
  const source = one('source') ?? 'all';
  if (source !== 'all' && source !== 'table' && source !== 'known') throw new QueryError(`invalid source ${JSON.stringify(source)}: expected all, table or known`);
  const fork = one('fork');
  if (fork !== undefined && fork !== 'ours' && fork !== 'other' && fork !== 'unknown') throw new QueryError(`invalid fork ${JSON.stringify(fork)}: expected ours, other or unknown`);
  const format = one('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') throw new QueryError(`invalid format ${JSON.stringify(format)}: expected json or csv`);
  const q = (one('q') ?? '').trim().toLowerCase();
  if (q.length > 200) throw new QueryError('q is longer than 200 characters');
  const off = one('offset');
  const lim = one('limit');
  return {
    source,
    fork: fork as Match | undefined,
    q,
    offset: off === undefined ? 0 : intParam(off, 'offset', 0, 100_000_000),
    limit: lim === undefined ? NODES_DEFAULT_LIMIT : intParam(lim, 'limit', 1, NODES_MAX_LIMIT),
    format: format as 'json' | 'csv',
  };
}

export interface NodesPage {
  total: number;
  offset: number;
  limit: number;
  nodes: NodeRow[];
}

export function nodesPage(ctx: ApiContext, query: NodesQuery): NodesPage {
  const rows = allNodes(ctx).filter((x) => {
    if (query.source !== 'all' && x.source !== query.source) return false;
    if (query.fork !== undefined && matchOf(ctx, x.n) !== query.fork) return false;
    if (query.q !== '') {
      const hay = `${x.n.id.toString('hex')} ${ipToString(x.n.ip) ?? ''}:${x.n.udpPort} ${recordInfo(x.n).forkId ?? ''}`;
      if (!hay.includes(query.q)) return false;
    }
    return true;
  });
  const page = rows.slice(query.offset, query.offset + query.limit).map((x): NodeRow => {
    const info = recordInfo(x.n);
    const stored = ctx.d.db.getNode(x.n.id);
    const lastPong = stored !== undefined && stored.lastPongReceivedMs > 0 ? stored.lastPongReceivedMs : null;
    const seq = info.seq ?? (x.seq !== null && x.seq > 0n ? x.seq : stored?.seq ?? null);
    return {
      id: x.n.id.toString('hex'),
      ip: ipToString(x.n.ip) ?? '',
      udpPort: x.n.udpPort,
      tcpPort: x.n.tcpPort,
      source: x.source,
      bucket: x.bucket,
      live: x.live,
      enrSeq: seq === null ? null : seq.toString(),
      forkId: info.forkId,
      fork: matchOf(ctx, x.n),
      firstSeen: x.addedMs,
      lastSeen: x.seenMs ?? lastPong,
      lastPong,
    };
  });
  return { total: rows.length, offset: query.offset, limit: query.limit, nodes: page };
}

const CSV_COLUMNS: Array<keyof NodeRow> = ['id', 'ip', 'udpPort', 'tcpPort', 'source', 'bucket', 'live', 'enrSeq', 'forkId', 'fork', 'firstSeen', 'lastSeen', 'lastPong'];

export function nodesCsv(p: NodesPage): string {
  return `${CSV_COLUMNS.join(',')}\n${p.nodes.map((n) => CSV_COLUMNS.map((c) => csvCell(n[c])).join(',')).join('\n')}${p.nodes.length > 0 ? '\n' : ''}`;
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

export function status(ctx: ApiContext): Record<string, unknown> {
  const d = ctx.d;
  const s = d.transport.stats();
  const sock = d.transport.socket.stats();
  const addr = d.transport.socket.address();
  const db = d.db.stats();
  // Nodes by fork id, over the table and the known nodes.
  const groups = new Map<string, { forkId: string | null; fork: Match; nodes: number }>();
  for (const x of allNodes(ctx)) {
    const forkId = recordInfo(x.n).forkId;
    const fork = matchOf(ctx, x.n);
    const key = `${forkId}/${fork}`;
    const g = groups.get(key) ?? { forkId, fork, nodes: 0 };
    g.nodes++;
    groups.set(key, g);
  }
  const ours = d.forks?.ours();
  return {
    id: d.nodeId.toString('hex'),
    enode: ctx.enode(),
    enr: ctx.enr(),
    version: ctx.version,
    startedAt: new Date(ctx.startedMs).toISOString(),
    uptimeSec: Math.round((Date.now() - ctx.startedMs) / 1000),
    listen: { ip: addr.address, udpPort: addr.port },
    recordSeq: d.localSeq.toString(),
    fork: ours === undefined ? null : { id: formatForkId(ours), source: ctx.forkSource ?? null, filter: d.forks!.filter },
    table: {
      size: d.table.size,
      buckets: d.table.buckets.map((b) => b.entries.length),
      replacements: d.table.buckets.reduce((n, b) => n + b.replacements.length, 0),
    },
    knownNodes: d.known?.size ?? 0,
    forks: [...groups.values()].sort((a, b) => b.nodes - a.nodes),
    db,
    bans: d.bans.list().length,
    bonds: s.bonds,
    pendingRequests: s.pending,
    packets: { in: s.packetsIn, out: s.packetsOut, inTotal: sum(s.packetsIn), outTotal: sum(s.packetsOut) },
    bytes: { in: s.bytesIn, out: s.bytesOut },
    drops: Object.fromEntries(Object.entries(s.drops).filter(([, n]) => n > 0)),
    dropsTotal: sum(s.drops),
    cryptoThreads: sock.threads ?? 1,
    v5: ctx.v5 === undefined ? { on: false } : { on: true, tableSize: ctx.v5.tableSize },
  };
}

export function bans(ctx: ApiContext): Record<string, unknown> {
  return {
    bans: ctx.d.bans.list().map((b) => ({
      target: b.target,
      kind: b.kind,
      reason: b.reason,
      added: new Date(b.addedMs).toISOString(),
      until: Number.isFinite(b.untilMs) ? new Date(b.untilMs).toISOString() : null,
    })),
    topRefused: ctx.d.transport.refusals.top(20).map((r) => ({ ...r, lastMs: undefined, last: new Date(r.lastMs).toISOString() })),
  };
}

export function history(ctx: ApiContext): HistorySeries {
  return ctx.history.series();
}
