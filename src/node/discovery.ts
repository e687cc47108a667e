/**
 * The discovery service: transport + table + lookups + node database,
 * wired as geth's UDPv4/Table pair (p2p/discover/v4_udp.go, table.go).
 *
 * - findnode is answered from the table, preferring nodes that passed a
 *   revalidation ping (geth's liveness check).
 * - Nodes that ping us and prove their endpoint enter the table (after the
 *   first refresh, so a ping flood cannot fill an empty table at start).
 * - Lookups ask nodes from the table; nodes that answer are live, the
 *   nodes they return are verified by ping before they enter the table,
 *   and failures count against the node (dropped after 5 in a row).
 * - Refresh on start and every 30 min (jittered as geth: half to full
 *   interval): seed from the DB and the bootnodes, then a self lookup and
 *   three random ones. An empty table reseeds before any lookup.
 * - The DB keeps every node that entered the table, our record's seq, and
 *   expires nodes not seen for a day.
 * - Our record (LocalRecord) advertises the external IP if one is given;
 *   otherwise the endpoint that most peers report in their pongs (IPTracker,
 *   as geth's LocalNode), its seq rising with each change.
 * - netrestrict: packets from outside the list are dropped by the transport,
 *   and nodes outside it never enter the table, the DB or our neighbors.
 */
import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIPv6 } from 'node:net';
import { EventEmitter } from 'node:events';
import { keccak256, nodeIdFromPrivateKey } from '../crypto';
import { NodeDB, StoredNode } from '../db';
import { LocalRecord } from '../enr/local';
import { ClosedError, DiscError, InvalidArgumentError } from '../errors';
import { FoundNode, K, Lookup, LookupNode, toLookupNode } from '../lookup/lookup';
import { NodeRecordInfo, Table, TableConfig, TableNode } from '../table/table';
import { Clock, systemClock, TimerHandle } from '../transport/clock';
import { listen, SocketKind } from '../transport/listen';
import { Netlist } from '../transport/netutil';
import { InboundPacket, Transport, TransportConfig, VerifiedNode } from '../transport/transport';
import { isUnspecified, isV4Mapped } from '../transport/netutil';
import { ipToBytes, ipToString } from '../wire/ip';
import { RlpInput } from '../wire/rlp';
import type { Pong } from '../wire/types';
import { EnodeInfo, formatEnode, parseEnode } from './enode';
import { NatManager, NatSpec, OpenNatOptions, openNat, parseNat } from '../nat';
import type { PortMapper } from '../nat/types';
import { IPTracker, IPTrackerConfig } from './iptracker';
import { Ban, BanList } from './bans';
import { decodeEthEntry, ethEntry, ForkId, forkId, ForkSchedule, headAt, isCompatible, NETWORKS, NetworkName } from './forkid';
import { decodeRecord } from '../enr/record';
import { KnownNode, KnownNodes } from './known';
import type { NodeBytes } from '../wire/encode';

/** How long an IP that keeps exceeding the rate limits stays banned. */
export const DEFAULT_AUTO_BAN_MS = 60 * 60 * 1000;
/** Known nodes loaded from the DB: seen within a day (the DB's own expiry). */
const KNOWN_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** How often our fork id is recomputed (a timestamp fork may have passed). */
const FORK_RECHECK_MS = 60 * 60 * 1000;
/** Record requests in flight for the fork filter. */
const MAX_RECORD_FETCHES = 16;

/**
 * The fork filter: which table nodes a neighbors answer may hold. A node's
 * network comes from the `eth` entry of its record (fetched once it bonds);
 * nodes whose record we do not have yet, or that have no `eth` entry, count
 * as "unknown": left out by 'strict'; 'prefer' lists ours, then unknown, then others.
 */
export class ForkPolicy {
  readonly filter: 'strict' | 'prefer' | 'off';
  private readonly cache = new WeakMap<object, { record: Buffer; ok: boolean | undefined }>();

  constructor(private readonly cfg: { network?: NetworkName; schedule?: ForkSchedule; id?: ForkId; filter?: 'strict' | 'prefer' | 'off' }) {
    this.filter = cfg.filter ?? 'prefer';
  }

  /** The fork schedule served: from a genesis file, else the named network's (undefined with a fixed id only). */
  get schedule(): ForkSchedule | undefined {
    return this.cfg.schedule ?? (this.cfg.network !== undefined ? NETWORKS[this.cfg.network] : undefined);
  }

  /** Our fork id now. */
  ours(): ForkId {
    return this.cfg.id ?? forkId(this.schedule!, headAt(Date.now()));
  }

  /** true: our network; false: another; undefined: unknown (no record or no `eth` entry). */
  matches(n: { record?: Buffer }): boolean | undefined {
    const rec = n.record;
    if (rec === undefined) return undefined;
    const hit = this.cache.get(n);
    if (hit !== undefined && hit.record === rec) return hit.ok;
    let ok: boolean | undefined;
    const parsed = decodeRecord(rec);
    const raw = parsed?.pairs.get('eth');
    const id = raw === undefined ? undefined : decodeEthEntry(raw);
    if (id !== undefined) {
      const schedule = this.schedule;
      if (schedule !== undefined && this.cfg.id === undefined) ok = isCompatible(schedule, headAt(Date.now()), id);
      else ok = id.hash.equals(this.ours().hash);
    }
    this.cache.set(n, { record: rec, ok });
    return ok;
  }

  /** Whether a known (non-table) node may fill an answer: ours; with 'prefer' also unknown; anything with 'off'. */
  admitsKnown(n: { record?: Buffer }): boolean {
    if (this.filter === 'off') return true;
    const m = this.matches(n);
    return m === true || (this.filter === 'prefer' && m === undefined);
  }

  /** The nodes a findnode answer may use, closest first. */
  closest(table: Table, targetHash: Buffer, count: number): TableNode[] {
    if (this.filter === 'off') return table.closest(targetHash, count, true);
    const all = table.closest(targetHash, table.size, true);
    const ours = all.filter((n) => this.matches(n) === true);
    if (this.filter === 'strict') return ours.slice(0, count);
    // 'prefer': ours, then nodes of unknown network, then the others.
    return [...ours, ...all.filter((n) => this.matches(n) === undefined), ...all.filter((n) => this.matches(n) === false)].slice(0, count);
  }
}

/** How often the ban list is re-read from the DB (the CLI edits it there). */
const BAN_RELOAD_MS = 5_000;

/** geth RefreshInterval. */
export const DEFAULT_REFRESH_INTERVAL_MS = 30 * 60 * 1000;
/** geth seedCount / seedMaxAge. */
const SEED_COUNT = 30;
const SEED_MAX_AGE_MS = 5 * 24 * 60 * 60 * 1000;

export interface DiscoveryOptions {
  privateKey: Uint8Array;
  /** Listen address. Default '0.0.0.0'. */
  address?: string;
  /** UDP port. Default 30303; 0 picks a free one. */
  port?: number;
  socketKind?: SocketKind;
  /** Crypto threads of the native socket (default: one per core; 1: all on the JS thread). */
  threads?: number;
  /** TCP port advertised in our record and pings (0: none). */
  tcpPort?: number;
  /**
   * Our advertised IP (nat extip). When set, endpoint prediction is off;
   * otherwise the record starts with the bind address (127.0.0.1 for a
   * wildcard) and follows what peers report.
   */
  externalIp?: string;
  /** Our advertised IPv6 address on a dual-stack node (nat extip:<v4>,<v6>); prediction for IPv6 is off when set. */
  externalIp6?: string;
  /**
   * External address discovery in geth's forms: 'none', 'extip:<IP>',
   * 'upnp', 'pmp', 'pmp:<gateway>', 'any' (or a parsed NatSpec). With a
   * gateway, our UDP port is mapped (renewed, removed on close()) and the
   * gateway's external IP goes into the record. A gateway that cannot be
   * found or refuses the mapping is reported as a 'natError' event and the
   * node runs without it.
   */
  nat?: string | NatSpec;
  /** Options for finding the gateway (tests point these at fakes). */
  natOptions?: OpenNatOptions;
  /** Extra record pairs (e.g. `eth`: the fork id), as RLP inputs. */
  recordPairs?: Readonly<Record<string, RlpInput>>;
  /** Endpoint prediction parameters (geth defaults: 5 min window, 10 statements). */
  ipTracker?: Omit<IPTrackerConfig, 'clock'>;
  /** enode URLs or node objects to bootstrap from. */
  bootnodes?: ReadonlyArray<string | NodeRecordInfo>;
  /** Node database: a directory, an open NodeDB, or null for in-memory (default). */
  db?: string | NodeDB | null;
  /** Time between automatic refreshes; 0 turns them off (the owner calls refresh()). */
  refreshIntervalMs?: number;
  /** Run the first refresh at start (default true). */
  refreshOnStart?: boolean;
  netrestrict?: Netlist;
  table?: Partial<Omit<TableConfig, 'selfId' | 'net' | 'clock' | 'onAdded' | 'onRemoved' | 'onRevalidated'>>;
  /**
   * Which nodes that ping us (and prove their endpoint) enter the table:
   * 'afterRefresh' (default, geth: not before the first refresh ran, so a
   * ping flood cannot fill an empty table before our own lookups do),
   * 'always', or 'never'. The DPT facade picks 'always' or 'never' as ethjs's
   * shouldFindNeighbours does.
   */
  inboundNodes?: 'afterRefresh' | 'always' | 'never';
  /**
   * How long an IP that keeps exceeding the rate limits is banned
   * (persisted in the DB's ban list). Default 1 h; 0 turns auto-bans off.
   */
  autoBanMs?: number;
  /**
   * Serve the right network (EIP-2124): our record carries `eth` with the
   * fork id of `network` (or the fixed `id`), nodes' records are fetched
   * after they bond, and neighbors answers hold only nodes of our network
   * ('strict'), ours first ('prefer', the default), or anyone ('off').
   */
  fork?: { network?: NetworkName; schedule?: ForkSchedule; id?: ForkId; filter?: 'strict' | 'prefer' | 'off' };
  /**
   * Bootnode scale: remember up to this many nodes that proved themselves
   * (loaded from the DB at start) and fill neighbors answers from them when
   * the table has too few. Default 0 (off); the bootnode CLI uses 100,000.
   */
  knownNodes?: number;
  transport?: Partial<Omit<TransportConfig, 'privateKey' | 'socket' | 'closest' | 'localRecord' | 'netrestrict' | 'clock'>>;
  clock?: Clock;
  /** Inject a ready transport (tests, simulation) instead of binding one. */
  transportFactory?: (cfg: Omit<TransportConfig, 'socket'>) => Promise<Transport>;
}

export interface LookupOptions {
  /** Only table nodes it accepts start the lookup (the DPT's onlyConfirmed). */
  seedFilter?: (n: TableNode) => boolean;
}

/**
 * Events: 'nodeAdded' / 'nodeRemoved' (a TableNode enters / leaves the
 * table), 'nodeAlive' (a node answered our ping: table candidates, seeds,
 * inbound nodes, nodes a lookup bonded with), 'lookup' ({durationMs, found}),
 * 'localRecord' (record, seq), 'natMapped', 'natError', 'error'.
 */
export class Discovery extends EventEmitter {
  readonly transport: Transport;
  readonly table: Table;
  readonly db: NodeDB;
  readonly nodeId: Buffer;
  /** Our record; its changes are pushed to the transport. */
  readonly local: LocalRecord;
  private readonly ownsDb: boolean;
  /** Endpoint prediction, per family (off where an external address is configured or the socket cannot serve it). */
  private readonly predict4: boolean;
  private readonly predict6: boolean;
  private readonly tracker4: IPTracker;
  private readonly tracker6: IPTracker;
  private readonly tcpPort: number;
  private readonly bootnodes: NodeRecordInfo[];
  private readonly refreshIntervalMs: number;
  private readonly clock: Clock;
  private refreshTimer?: TimerHandle;
  private refreshing?: Promise<void>;
  private initDone = false;
  private inboundNodes: 'afterRefresh' | 'always' | 'never' = 'afterRefresh';
  private closed = false;
  /** Keeps the port mapping alive while we run; undefined without a gateway. */
  nat?: NatManager;
  /** The persistent ban list (IPs and node ids), shared with the `discv4 ban` commands through the DB. */
  bans!: BanList;
  /** Fork-aware serving (undefined: off). */
  forks?: ForkPolicy;
  /** Known-good nodes beyond the table (undefined: off). */
  known?: KnownNodes;
  private forkTimer?: TimerHandle;
  private recordFetches = 0;
  private banReload?: TimerHandle;

  private constructor(p: {
    transport: Transport;
    table: Table;
    db: NodeDB;
    ownsDb: boolean;
    bootnodes: NodeRecordInfo[];
    refreshIntervalMs: number;
    clock: Clock;
    local: LocalRecord;
    predict4: boolean;
    predict6: boolean;
    ipTracker?: Omit<IPTrackerConfig, 'clock'>;
    tcpPort: number;
  }) {
    super();
    this.transport = p.transport;
    this.table = p.table;
    this.db = p.db;
    this.ownsDb = p.ownsDb;
    this.bootnodes = p.bootnodes;
    this.refreshIntervalMs = p.refreshIntervalMs;
    this.clock = p.clock;
    this.nodeId = p.transport.nodeId;
    this.local = p.local;
    this.predict4 = p.predict4;
    this.predict6 = p.predict6;
    this.tcpPort = p.tcpPort;
    this.tracker4 = new IPTracker({ ...p.ipTracker, clock: p.clock });
    this.tracker6 = new IPTracker({ ...p.ipTracker, clock: p.clock });
  }

  /** Our record's current sequence number. */
  get localSeq(): bigint {
    return this.local.seq;
  }

  /** Our current signed record (RLP). */
  get localRecord(): Buffer {
    return this.local.record;
  }

  static async start(opts: DiscoveryOptions): Promise<Discovery> {
    const clock = opts.clock ?? systemClock;
    const priv = Buffer.from(opts.privateKey);
    const selfId = nodeIdFromPrivateKey(priv);
    const bootnodes = await resolveBootnodes(opts.bootnodes ?? []);
    const nat: NatSpec = typeof opts.nat === 'string' ? parseNat(opts.nat) : (opts.nat ?? { kind: 'none' });
    // The gateway is found before the record is built, so the record
    // carries its external IP from the start.
    let mapper: PortMapper | null = null;
    let natError: Error | undefined;
    let externalIp = opts.externalIp ?? (nat.kind === 'extip' ? nat.ip : undefined);
    let externalIp6 = opts.externalIp6 ?? (nat.kind === 'extip' ? nat.ip6 : undefined);
    if (externalIp !== undefined && isIPv6(externalIp) && externalIp6 === undefined) {
      externalIp6 = externalIp;
      externalIp = undefined;
    }
    if (nat.kind === 'upnp' || nat.kind === 'pmp' || nat.kind === 'any') {
      try {
        mapper = await openNat(nat, opts.natOptions);
        externalIp ??= await mapper?.externalIp();
      } catch (err) {
        await mapper?.close().catch(() => undefined);
        mapper = null;
        natError = err as Error;
      }
    }
    const ownsDb = !(opts.db instanceof NodeDB);
    const db = opts.db instanceof NodeDB ? opts.db : await NodeDB.open(opts.db ?? null);
    try {
      const address = opts.address ?? '0.0.0.0';
      const tcpPort = opts.tcpPort ?? 0;
      // The table exists before the transport so findnode can be answered
      // from the first datagram; its network calls go through `net`.
      let transport: Transport | undefined;
      const net = {
        // 'nodeAlive' is emitted before the table acts on the pong, so
        // listeners see a node as alive before it is added.
        ping: (n: TableNode) =>
          transport!.ping(n).then((pong) => {
            self?.emitAlive(n);
            return pong;
          }),
        requestENR: (n: TableNode) => transport!.requestENR(n),
      };
      const store = (n: TableNode) => {
        // The table already refuses such nodes; this keeps the DB clean whatever the path.
        if (opts.netrestrict !== undefined && !opts.netrestrict.contains(n.ip)) return;
        db.putNode(storedFrom(n, Date.now(), transport?.findFails(n.id, n.ip) ?? 0));
      };
      const bans = new BanList(db);
      const userAdmit = opts.table?.admitNode;
      let self: Discovery | undefined;
      const autoBanMs = opts.autoBanMs ?? DEFAULT_AUTO_BAN_MS;
      const table = new Table({
        ...opts.table,
        admitNode: (id, ip) => !bans.isBannedId(id) && !bans.isBannedIp(ip) && (userAdmit === undefined || userAdmit(id, ip)),
        selfId,
        net,
        clock,
        netrestrict: opts.netrestrict,
        onAdded: (n) => {
          store(n);
          self?.emit('nodeAdded', n);
        },
        onRevalidated: store,
        onRemoved: (n) => self?.emit('nodeRemoved', n),
      });
      const forks = opts.fork !== undefined && (opts.fork.network !== undefined || opts.fork.schedule !== undefined || opts.fork.id !== undefined) ? new ForkPolicy(opts.fork) : undefined;
      const known = (opts.knownNodes ?? 0) > 0 ? new KnownNodes(opts.knownNodes) : undefined;
      if (known !== undefined) {
        // At most as many as the DB holds: seedNodes makes up to 5 seeks per node asked for.
        for (const n of db.seedNodes(Math.min(known.max, db.size), KNOWN_MAX_AGE_MS)) if (n.findFails === 0) known.add(n, n.lastPongReceivedMs);
      }
      const closest = (targetHash: Buffer, count: number): readonly NodeBytes[] => {
        const fromTable = forks === undefined ? table.closest(targetHash, count, true) : forks.closest(table, targetHash, count);
        if (known === undefined || fromTable.length >= count) return fromTable;
        // Too few in the table: fill from the known-good nodes (same fork rule).
        const have = new Set(fromTable.map((n) => n.id.toString('latin1')));
        const accept = (n: KnownNode) => !have.has(n.id.toString('latin1')) && (forks === undefined || forks.admitsKnown(n));
        return [...fromTable, ...known.closest(targetHash, count - fromTable.length, accept)];
      };
      const cfg: Omit<TransportConfig, 'socket'> = {
        ...opts.transport,
        privateKey: priv,
        clock,
        netrestrict: opts.netrestrict,
        closest,
        isBannedIp: (ip) => bans.isBannedIp(ip),
        isBannedId: (id) => bans.isBannedId(id),
        onAbusiveIp:
          autoBanMs > 0
            ? (ip) => {
                void self?.ban(ipToString(ip) ?? '', autoBanMs, 'kept exceeding the rate limits').catch(() => undefined);
              }
            : undefined,
      };
      const bindPort = opts.port ?? 30303;
      if (opts.transportFactory !== undefined) transport = await opts.transportFactory(cfg);
      else transport = await listen({ ...cfg, address, port: bindPort, socketKind: opts.socketKind, threads: opts.threads });
      // Our record: seq from the DB, raised whenever its content changes,
      // so it never goes back across restarts (LocalRecord).
      const sock = transport.socket.address();
      // The families this socket serves: an IPv6 socket on '::' is dual-stack
      // (IPv4 peers arrive as mapped addresses), so its record carries both
      // ip/udp and ip6/udp6. Without an external address, a wildcard bind
      // starts from loopback and follows what peers report (per family).
      const dual = sock.family === 6 && sock.address === '::';
      const serves4 = sock.family === 4 || dual;
      const serves6 = sock.family === 6;
      const endpoint: Record<string, RlpInput> = {};
      if (serves4) {
        endpoint.ip = ipToBytes(externalIp ?? (sock.family === 4 && sock.address !== '0.0.0.0' ? sock.address : '127.0.0.1'));
        endpoint.udp = sock.port;
        if (tcpPort !== 0) endpoint.tcp = tcpPort;
      }
      if (serves6) {
        endpoint.ip6 = ipToBytes(externalIp6 ?? (sock.address !== '::' ? sock.address : '::1'));
        endpoint.udp6 = sock.port;
        if (tcpPort !== 0) endpoint.tcp6 = tcpPort;
      }
      if (forks !== undefined) endpoint.eth = ethEntry(forks.ours());
      const local = await LocalRecord.create(priv, { ...opts.recordPairs, ...endpoint }, { store: db });
      transport.setLocalRecord(local.record, local.seq);
      const d = new Discovery({
        transport,
        table,
        db,
        ownsDb,
        bootnodes,
        refreshIntervalMs: opts.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS,
        clock,
        local,
        predict4: serves4 && externalIp === undefined,
        predict6: serves6 && externalIp6 === undefined,
        ipTracker: opts.ipTracker,
        tcpPort,
      });
      self = d;
      d.bans = bans;
      d.forks = forks;
      d.known = known;
      if (known !== undefined) {
        d.on('nodeAlive', (n: NodeRecordInfo) => known.add(n, Date.now()));
        d.on('nodeAdded', (n: TableNode) => known.add(n, Date.now()));
        // Dropped from the table for failing its liveness checks: not good any more.
        d.on('nodeRemoved', (n: TableNode) => known.remove(n.id));
      }
      if (forks !== undefined) {
        // Their records tell us their network: fetch them once they bond.
        d.on('nodeAdded', (n: TableNode) => d.fetchRecord(n));
        // Our own id moves on when a timestamp fork passes: keep the record current.
        d.forkTimer = clock.setTimer(function tick() {
          void local.update({ eth: ethEntry(forks.ours()) }).catch(() => undefined);
          d.forkTimer = d.closed ? undefined : clock.setTimer(tick, FORK_RECHECK_MS);
          d.forkTimer?.unref?.();
        }, FORK_RECHECK_MS);
        d.forkTimer.unref?.();
      }
      d.banReload = clock.setTimer(function reload() {
        bans.reload();
        d.banReload = d.closed ? undefined : clock.setTimer(reload, BAN_RELOAD_MS);
        d.banReload?.unref?.();
      }, BAN_RELOAD_MS);
      d.banReload.unref?.();
      d.inboundNodes = opts.inboundNodes ?? 'afterRefresh';
      local.onChange((record, seq) => {
        transport!.setLocalRecord(record, seq);
        d.emit('localRecord', record, seq);
      });
      transport.on('inboundNode', (n) => d.onInbound(n));
      if (d.predict4 || d.predict6) transport.on('pong', (p: InboundPacket<Pong>) => d.onPong(p));
      if (mapper !== null) {
        d.nat = new NatManager(mapper, { protocol: 'udp', internalPort: sock.port, externalPort: sock.port });
        d.nat.on('error', (err: Error) => d.emit('natError', err));
        try {
          const m = await d.nat.start();
          setImmediate(() => d.emit('natMapped', m, mapper!.kind, externalIp));
        } catch (err) {
          await d.nat.stop().catch(() => undefined);
          d.nat = undefined;
          natError = err as Error;
        }
      }
      if (natError !== undefined) {
        const err = natError;
        // Reported after start() returns, so callers can listen first.
        setImmediate(() => d.emit('natError', err));
      }
      db.startExpiry();
      if (opts.refreshOnStart ?? true) void d.refresh();
      d.scheduleRefresh();
      return d;
    } catch (err) {
      if (ownsDb) await db.close();
      await mapper?.close().catch(() => undefined);
      throw err;
    }
  }

  /** Our enode URL (with the given host for display). */
  enode(ip?: Uint8Array): string {
    const a = this.transport.socket.address();
    return formatEnode(this.nodeId, ip ?? ipToBytes(a.address), 0, a.port);
  }

  private onInbound(n: VerifiedNode): void {
    this.emitAlive(n);
    // geth addInboundNode: not while the table is still initialising, so a
    // burst of pings cannot fill an empty table before our own lookups do.
    const admit = this.inboundNodes === 'always' || (this.inboundNodes === 'afterRefresh' && this.initDone);
    if (admit) this.table.addVerified(n, { inbound: true, live: true });
  }

  /** A node answered our ping (or bonded with us by pinging and answering): 'nodeAlive'. */
  private emitAlive(n: NodeRecordInfo): void {
    if (!this.closed && this.listenerCount('nodeAlive') > 0) this.emit('nodeAlive', n);
  }

  /**
   * A verified pong: the peer's view of our endpoint is a vote (geth
   * UDPEndpointStatement). When the prediction for that family differs from
   * our record, the record follows (seq + 1).
   */
  private onPong(p: InboundPacket<Pong>): void {
    if (this.closed) return;
    let toIp = p.packet.to.ip;
    const to = p.packet.to;
    if ((toIp.length !== 4 && toIp.length !== 16) || isUnspecified(toIp)) return;
    // A peer on an IPv6 socket may see our IPv4 address as ::ffff:a.b.c.d.
    if (toIp.length === 16 && isV4Mapped(toIp)) toIp = toIp.subarray(12);
    const v6 = toIp.length === 16;
    if (v6 ? !this.predict6 : !this.predict4) return;
    const tracker = v6 ? this.tracker6 : this.tracker4;
    tracker.addStatement(p.from.address, toIp, to.udpPort);
    const pred = tracker.predict();
    if (pred === undefined) return;
    const curIp = this.local.get(v6 ? 'ip6' : 'ip');
    const curUdp = this.local.get(v6 ? 'udp6' : 'udp');
    if (curIp instanceof Uint8Array && ipToString(curIp) === pred.ip && curUdp === pred.udpPort) return;
    this.local
      .setEndpoint({ ip: ipToBytes(pred.ip), udpPort: pred.udpPort, tcpPort: this.tcpPort })
      .catch((err: unknown) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
  }

  private scheduleRefresh(): void {
    if (this.closed || !(this.refreshIntervalMs > 0)) return;
    const half = this.refreshIntervalMs / 2;
    this.refreshTimer = this.clock.setTimer(() => {
      void this.refresh().finally(() => this.scheduleRefresh());
    }, half + Math.random() * half);
    this.refreshTimer.unref?.();
  }

  /** Seeds the table (DB seeds, bootnodes), then a self lookup and three random lookups. */
  refresh(): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    this.refreshing = (async () => {
      try {
        await this.loadSeeds();
        if (this.closed) return;
        await this.lookup(this.nodeId).catch(() => undefined);
        for (let i = 0; i < 3 && !this.closed; i++) await this.lookup(randomBytes(64)).catch(() => undefined);
      } finally {
        this.initDone = true;
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** DB seeds and bootnodes, verified by ping before they enter the table. */
  private async loadSeeds(): Promise<void> {
    const restrict = this.table.netrestrict;
    let stored: NodeRecordInfo[] = [];
    try {
      stored = this.db.seedNodes(SEED_COUNT, SEED_MAX_AGE_MS);
    } catch (err) {
      // A DB that fails to read (disk trouble) must not take the node down:
      // report it and go on with the bootnodes.
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
    const seeds: NodeRecordInfo[] = [...stored, ...this.bootnodes].filter(
      (s) => restrict === undefined || restrict.contains(s.ip),
    );
    await Promise.allSettled(
      seeds.map(async (s) => {
        const pong = await this.transport.ping(s);
        this.emitAlive(s);
        const seq = pong.enrSeq !== undefined && pong.enrSeq > (s.seq ?? 0n) ? pong.enrSeq : s.seq;
        this.table.addVerified({ ...s, seq }, { live: true });
      }),
    );
  }

  /**
   * Finds the nodes closest to `target` (a 64-byte public key; default: a
   * random one). Reseeds first when the table is empty.
   */
  async lookup(target?: Uint8Array, opts: LookupOptions = {}): Promise<TableNode[] | LookupNode[]> {
    if (this.closed) throw new ClosedError('discovery closed');
    if (target !== undefined && (!(target instanceof Uint8Array) || target.length !== 64)) {
      throw new InvalidArgumentError('lookup target must be a 64-byte public key');
    }
    if (this.table.size === 0 && this.refreshing === undefined) await this.loadSeeds();
    const startedMs = this.clock.now();
    const found = await this.newLookup(target ?? randomBytes(64), opts).run();
    // For operators (the CLI's lookup-duration histogram): one event per lookup, not per packet.
    this.emit('lookup', { durationMs: this.clock.now() - startedMs, found: found.length });
    return found;
  }

  /** A lookup object (run() / async iteration) over the table's closest nodes. */
  newLookup(target: Uint8Array, opts: LookupOptions = {}): Lookup {
    const targetHash = keccak256(target);
    const filter = opts.seedFilter;
    const seeds =
      filter === undefined
        ? this.table.closest(targetHash, K)
        : this.table.closest(targetHash, this.table.size).filter(filter).slice(0, K);
    return new Lookup({
      target,
      seeds,
      selfId: this.nodeId,
      findnode: (n, t) => this.transport.findnode(n, t),
      onQueried: (n, ok, found) => this.onQueried(n, ok, found),
    });
  }

  private onQueried(n: LookupNode, ok: boolean, found: readonly LookupNode[]): void {
    if (this.closed) return;
    if (ok) {
      // It answered findnode after bonding with us: its endpoint is proven.
      if (this.table.getNode(n.id) === undefined) this.emitAlive(n);
      this.table.addVerified(n, { live: true });
      for (const f of found) this.table.addFound(f);
    } else {
      const fails = this.transport.findFails(n.id, n.ip);
      this.db.updateNode(n.id, { findFails: fails });
      this.table.trackFindnode(n, fails);
    }
  }

  /**
   * Streams nodes from successive random lookups until `close()` or the
   * iterator's return(): what an RLPx dialer consumes.
   */
  async *randomNodes(): AsyncGenerator<LookupNode> {
    while (!this.closed) {
      let yielded = 0;
      if (this.table.size === 0) await this.refresh();
      for await (const n of this.newLookup(randomBytes(64))) {
        if (this.closed) return;
        yielded++;
        yield n;
      }
      // Nothing to ask: wait a little instead of spinning (geth slows down too).
      if (yielded === 0) await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }

  /** The k nodes of our table closest to `target` (64-byte public key). */
  closest(target: Uint8Array, k = K): TableNode[] {
    return this.table.closest(keccak256(target), k);
  }

  /**
   * Bans an IP or node id (persisted; see BanList) and drops the table
   * entries it covers. 'banned' event: (Ban).
   */
  async ban(target: string, durationMs: number, reason = ''): Promise<Ban> {
    const b = await this.bans.ban(target, durationMs, reason);
    for (const n of this.table.nodes()) {
      if ((b.kind === 'id' && n.id.toString('hex') === b.target) || (b.kind === 'ip' && ipToString(n.ip) === b.target)) this.table.remove(n.id);
    }
    this.emit('banned', b);
    return b;
  }

  /** Lifts a ban; resolves true if there was one. */
  unban(target: string): Promise<boolean> {
    return this.bans.unban(target);
  }

  /** Asks a table node for its record (bounded concurrency), so the fork filter knows its network. */
  private fetchRecord(n: TableNode): void {
    if (n.record !== undefined || this.recordFetches >= MAX_RECORD_FETCHES || this.closed) return;
    this.recordFetches++;
    this.transport
      .requestENR(n)
      .then(
        (rec) => {
          if (n.record === undefined) n.record = rec;
        },
        () => undefined,
      )
      .finally(() => this.recordFetches--);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.banReload !== undefined) this.clock.clearTimer(this.banReload);
    if (this.forkTimer !== undefined) this.clock.clearTimer(this.forkTimer);
    if (this.refreshTimer !== undefined) this.clock.clearTimer(this.refreshTimer);
    this.table.close();
    await this.transport.close();
    await this.refreshing?.catch(() => undefined);
    if (this.ownsDb) await this.db.close();
    else await this.db.flush();
    // Last: remove the port mapping from the gateway.
    await this.nat?.stop().catch(() => undefined);
  }
}

function storedFrom(n: TableNode, nowMs: number, findFails: number): StoredNode {
  return {
    id: n.id,
    ip: n.ip,
    udpPort: n.udpPort,
    tcpPort: n.tcpPort,
    seq: n.seq,
    record: n.record,
    // A node is stored when it answers our ping (entering the table or
    // passing revalidation), so the ping went out a round trip before.
    lastPingSentMs: nowMs,
    lastPongReceivedMs: nowMs,
    findFails,
  };
}

async function resolveBootnodes(list: ReadonlyArray<string | NodeRecordInfo>): Promise<NodeRecordInfo[]> {
  const out: NodeRecordInfo[] = [];
  for (const b of list) {
    if (typeof b !== 'string') {
      out.push(b);
      continue;
    }
    const e: EnodeInfo = parseEnode(b);
    let ip = e.ip;
    if (ip === undefined) {
      try {
        ip = ipToBytes((await dnsLookup(e.host)).address);
      } catch (err) {
        throw new DiscError('BAD_BOOTNODE', `cannot resolve bootnode host ${e.host}: ${(err as Error).message}`);
      }
    }
    out.push({ id: e.id, ip, udpPort: e.udpPort, tcpPort: e.tcpPort });
  }
  return out;
}

export type { FoundNode };
export { toLookupNode };
