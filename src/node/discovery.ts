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
 * - Time: every timer and duration runs on the injected monotonic `clock`;
 *   wall time (DB timestamps, bans, the fork schedule) comes from `now`.
 *
 * Beside this file: our record and endpoint prediction (local-record.ts),
 * what neighbors answers hold (closest.ts), the fork filter
 * (fork-policy.ts), the gateway (gateway.ts), known-good nodes (known.ts);
 * periodic chores run on src/transport/periodic.ts.
 */
import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { keccak256, nodeIdFromPrivateKey } from '../crypto';
import { NodeDB, StoredNode } from '../db';
import type { LocalRecord } from '../enr/local';
import { ClosedError, DiscError, InvalidArgumentError } from '../errors';
import { FoundNode, K, Lookup, LookupNode, toLookupNode } from '../lookup/lookup';
import type { NatManager, NatMapping, NatSpec, OpenNatOptions, PortMapper } from '../nat';
import { NodeRecordInfo, Table, TableConfig, TableNode } from '../table/table';
import { Clock, systemClock, TimerHandle } from '../transport/clock';
import { listen, SocketKind } from '../transport/listen';
import { Netlist } from '../transport/netutil';
import { InboundPacket, Transport, TransportConfig, VerifiedNode } from '../transport/transport';
import { ipToBytes, ipToString } from '../wire/ip';
import { RlpInput } from '../wire/rlp';
import type { Pong } from '../wire/types';
import { Ban, BanList } from './bans';
import { closestForFindnode } from './closest';
import { EnodeInfo, formatEnode, parseEnode } from './enode';
import { ForkFilter, ForkOptions, ForkPolicy, forkPolicyFor } from './fork-policy';
import { Gateway, mapPort, openGateway } from './gateway';
import { IPTrackerConfig } from './iptracker';
import { KnownNodes } from './known';
import { EndpointPrediction, keepForkIdCurrent, openLocalRecord, servedFamilies } from './local-record';
import { Periodic } from '../transport/periodic';
import { AUTO_BAN_MS, DB_EXPIRY_INTERVAL_MS, KNOWN_PERSIST_INTERVAL_MS, KNOWN_VERIFY_AFTER_MS, KNOWN_VERIFY_CONCURRENCY, KNOWN_MAX_AGE_MS, REFRESH_INTERVAL_MS, SEED_COUNT, SEED_MAX_AGE_MS } from '../defaults';


/** How often known nodes due for their second proof are looked for. */
const KNOWN_VERIFY_TICK_MS = 1000;
/** Record requests in flight for the fork filter. */
const MAX_RECORD_FETCHES = 16;

/** How often the ban list is re-read from the DB (the CLI edits it there). */
const BAN_RELOAD_MS = 5_000;
/** randomNodes' wait when a lookup found nobody to ask, instead of spinning (geth slows down too). */
const RANDOM_NODES_IDLE_MS = 1000;


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
  fork?: ForkOptions;
  /**
   * Bootnode scale: remember up to this many nodes that proved themselves
   * (loaded from the DB at start) and fill neighbors answers from them when
   * the table has too few. Default 0 (off); the bootnode CLI uses 100,000.
   */
  knownNodes?: number;
  transport?: Partial<Omit<TransportConfig, 'privateKey' | 'socket' | 'closest' | 'localRecord' | 'netrestrict' | 'clock' | 'now'>>;
  /**
   * Monotonic clock for every timer and duration: refresh, ban reload, fork
   * recheck, the idle wait of randomNodes, the table, lookups and the
   * transport's deadlines, endpoint prediction windows. Default systemClock.
   */
  clock?: Clock;
  /**
   * Wall clock in ms where wall time is meant: DB timestamps (the DB this
   * opens, stored nodes, known nodes), ban expiry, the fork schedule's head,
   * and the transport's bond times and packet expiration. Default Date.now.
   */
  now?: () => number;
  /** Inject a ready transport (tests, simulation) instead of binding one. */
  transportFactory?: (cfg: Omit<TransportConfig, 'socket'>) => Promise<Transport>;
}

export interface LookupOptions {
  /** Only table nodes it accepts start the lookup (the DPT's onlyConfirmed). */
  seedFilter?: (n: TableNode) => boolean;
}

/** The 'lookup' event's payload: one per finished lookup() (refreshes run them too). */
export interface LookupEvent {
  /** From start to end, on the Discovery's clock. */
  durationMs: number;
  /** How many nodes it returned. */
  found: number;
}

export type { Ban, NatMapping };

/**
 * Discovery's events and their arguments: `on`, `once`, `off` and `emit`
 * are typed by this map (as Transport's by TransportEvents).
 */
export interface DiscoveryEvents {
  /** A node entered the table's live entries; it is stored in the DB too. */
  nodeAdded: [node: TableNode];
  /** A node left the table's live entries: failed liveness checks, banned, or removed through `table`. */
  nodeRemoved: [node: TableNode];
  /**
   * A node answered our ping (table candidates and revalidation, seeds), or
   * proved its endpoint by pinging us and answering our ping back (inbound
   * nodes), or answered a lookup's findnode after bonding. Emitted before
   * the table acts on it, so a node is alive before it is added; not after
   * close().
   */
  nodeAlive: [node: NodeRecordInfo];
  /** A lookup() finished (for operators: one event per lookup, not per packet). */
  lookup: [event: LookupEvent];
  /**
   * Our record changed (endpoint prediction, a new fork id, or the owner
   * through `local`): the new signed record and its seq. The transport
   * serves it already.
   */
  localRecord: [record: Buffer, seq: bigint];
  /**
   * The gateway mapped our UDP port (emitted after start() returns, so
   * callers can listen first): the mapping, the gateway kind, and the
   * external IP that went into our record.
   */
  natMapped: [mapping: NatMapping, kind: PortMapper['kind'], externalIp: string | undefined];
  /**
   * No gateway found or the mapping refused at start (emitted after start()
   * returns; the node runs without a mapping), or a renewal or the final
   * unmap failed.
   */
  natError: [error: Error];
  /**
   * A failure with no caller to throw to: the DB failed to read seeds (the
   * refresh goes on with the bootnodes), or our record could not follow
   * the predicted endpoint. Emitted only when someone listens; the node
   * keeps running.
   */
  error: [error: Error];
  /**
   * An IP or node id was banned: by ban(), or automatically for exceeding
   * the rate limits (autoBanMs). Its table entries are gone by then.
   */
  banned: [ban: Ban];
}

/**
 * The one loop in the wiring: the table pings through the transport, the
 * transport answers findnode from the table, and both report to the
 * Discovery built on them. start() fills these in as they come to exist
 * (geth closes the same loop by setting UDPv4.tab after newTable); until
 * then the table has nothing to ping and nobody hears its events.
 */
interface LateLinks {
  transport?: Transport;
  discovery?: Discovery;
}

/** What start() builds a Discovery from. */
interface Parts {
  transport: Transport;
  table: Table;
  db: NodeDB;
  ownsDb: boolean;
  bootnodes: NodeRecordInfo[];
  refreshIntervalMs: number;
  inboundNodes: 'afterRefresh' | 'always' | 'never';
  clock: Clock;
  now: () => number;
  local: LocalRecord;
  prediction: EndpointPrediction;
  bans: BanList;
  forks?: ForkPolicy;
  known?: KnownNodes;
}

export interface Discovery {
  on<K extends keyof DiscoveryEvents>(event: K, listener: (...args: DiscoveryEvents[K]) => void): this;
  once<K extends keyof DiscoveryEvents>(event: K, listener: (...args: DiscoveryEvents[K]) => void): this;
  off<K extends keyof DiscoveryEvents>(event: K, listener: (...args: DiscoveryEvents[K]) => void): this;
  emit<K extends keyof DiscoveryEvents>(event: K, ...args: DiscoveryEvents[K]): boolean;
}

/** The discovery service; see the top of this file, and DiscoveryEvents for what it reports. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Discovery extends EventEmitter {
  readonly transport: Transport;
  readonly table: Table;
  readonly db: NodeDB;
  readonly nodeId: Buffer;
  /** Our record; its changes are pushed to the transport. */
  readonly local: LocalRecord;
  private readonly ownsDb: boolean;
  /** Endpoint prediction, per family (off where an external address is configured or the socket cannot serve it). */
  private readonly prediction: EndpointPrediction;
  private readonly bootnodes: NodeRecordInfo[];
  private readonly refreshIntervalMs: number;
  private inboundNodes: 'afterRefresh' | 'always' | 'never';
  /** The monotonic clock every timer and duration runs on (the table's times read it). */
  readonly clock: Clock;
  /** Wall clock (ms): DB timestamps, the times known nodes were seen, bans. */
  readonly now: () => number;
  private refreshTimer?: TimerHandle;
  private refreshing?: Promise<void>;
  private initDone = false;
  private closed = false;
  /** Keeps the port mapping alive while we run; undefined without a gateway. */
  nat?: NatManager;
  /** The persistent ban list (IPs and node ids), shared with the `discv4 ban` commands through the DB. */
  bans: BanList;
  /** Fork-aware serving (undefined: off). */
  forks?: ForkPolicy;
  /** Known-good nodes beyond the table (undefined: off). */
  known?: KnownNodes;
  private readonly forkRecheck?: Periodic;
  private readonly knownExpiry?: Periodic;
  private readonly knownVerify?: Periodic;
  private knownVerifying = 0;
  private readonly banReload: Periodic;
  private recordFetches = 0;

  /** Takes the parts, listens to them, and starts the periodic chores (ban reload, fork recheck). */
  private constructor(p: Parts) {
    super();
    this.transport = p.transport;
    this.table = p.table;
    this.db = p.db;
    this.ownsDb = p.ownsDb;
    this.bootnodes = p.bootnodes;
    this.refreshIntervalMs = p.refreshIntervalMs;
    this.inboundNodes = p.inboundNodes;
    this.clock = p.clock;
    this.now = p.now;
    this.nodeId = p.transport.nodeId;
    this.local = p.local;
    this.prediction = p.prediction;
    this.bans = p.bans;
    this.forks = p.forks;
    this.known = p.known;
    const { known, forks, local, transport } = p;
    if (known !== undefined) {
      this.on('nodeAlive', (n) => this.rememberAlive(known, n));
      this.on('nodeAdded', (n) => known.add(n, this.now()));
      // Dropped from the table for failing its liveness checks: not good any more.
      this.on('nodeRemoved', (n) => known.remove(n.id));
      this.knownExpiry = new Periodic(this.clock, DB_EXPIRY_INTERVAL_MS, () => known.expire(this.now() - KNOWN_MAX_AGE_MS));
      this.knownVerify = new Periodic(this.clock, KNOWN_VERIFY_TICK_MS, () => this.verifyKnown(known));
    }
    if (forks !== undefined) {
      // Their records tell us their network: fetch them once they bond.
      this.on('nodeAdded', (n) => this.fetchRecord(n));
      this.forkRecheck = keepForkIdCurrent(local, forks, this.clock);
    }
    this.banReload = new Periodic(this.clock, BAN_RELOAD_MS, () => p.bans.reload());
    local.onChange((record, seq) => {
      transport.setLocalRecord(record, seq);
      this.emit('localRecord', record, seq);
    });
    transport.on('inboundNode', (n) => this.onInbound(n));
    if (this.prediction.enabled) transport.on('pong', (pk) => this.onPong(pk));
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
    const now = opts.now ?? Date.now;
    const privateKey = Buffer.from(opts.privateKey);
    const bootnodes = await resolveBootnodes(opts.bootnodes ?? []);
    // Before the record is built, so the record carries the gateway's external IP from the start.
    const gateway = await openGateway(opts);
    const { db, ownsDb } = await openDb(opts.db, now, clock);
    try {
      const bans = new BanList(db, now);
      const forks = forkPolicyFor(opts.fork, now);
      const late: LateLinks = {};
      // The table exists before the transport so findnode can be answered from the first datagram.
      const table = Discovery.newTable(opts, { selfId: nodeIdFromPrivateKey(privateKey), clock, now, db, bans, late });
      const known = loadKnownNodes(db, opts.knownNodes ?? 0, table);
      const transport = await openTransport(opts, {
        ...opts.transport,
        privateKey,
        clock,
        now,
        netrestrict: opts.netrestrict,
        closest: closestForFindnode({ table, forks, known, now }),
        isBannedIp: (ip) => bans.isBannedIp(ip),
        isBannedId: (id) => bans.isBannedId(id),
        onAbusiveIp: autoBan(opts.autoBanMs ?? AUTO_BAN_MS, late),
      });
      late.transport = transport;
      const sock = transport.socket.address();
      const { externalIp, externalIp6 } = gateway;
      const tcpPort = opts.tcpPort ?? 0;
      const local = await openLocalRecord(privateKey, db, sock, { externalIp, externalIp6, tcpPort, recordPairs: opts.recordPairs, forks, now });
      transport.setLocalRecord(local.record, local.seq);
      const { serves4, serves6 } = servedFamilies(sock);
      const prediction = new EndpointPrediction(local, {
        predict4: serves4 && externalIp === undefined,
        predict6: serves6 && externalIp6 === undefined,
        tcpPort,
        ipTracker: opts.ipTracker,
        clock,
      });
      const refreshIntervalMs = opts.refreshIntervalMs ?? REFRESH_INTERVAL_MS;
      const inboundNodes = opts.inboundNodes ?? 'afterRefresh';
      const d = new Discovery({ transport, table, db, ownsDb, bootnodes, refreshIntervalMs, inboundNodes, clock, now, local, prediction, bans, forks, known });
      late.discovery = d;
      await d.startNat(gateway, sock.port);
      db.startExpiry();
      if (opts.refreshOnStart ?? true) void d.refresh();
      d.scheduleRefresh();
      return d;
    } catch (err) {
      if (ownsDb) await db.close();
      await gateway.mapper?.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The table: admission refuses banned nodes (then asks opts.table's own
   * rule), the nodes that enter or pass revalidation are stored, and its
   * pings and events go through `late`.
   */
  private static newTable(
    opts: DiscoveryOptions,
    p: { selfId: Buffer; clock: Clock; now: () => number; db: NodeDB; bans: BanList; late: LateLinks },
  ): Table {
    const { db, bans, late } = p;
    const restrict = opts.netrestrict;
    const userAdmit = opts.table?.admitNode;
    const store = (n: TableNode) => {
      // The table already refuses such nodes; this keeps the DB clean whatever the path.
      if (restrict !== undefined && !restrict.contains(n.ip)) return;
      db.putNode(storedFrom(n, p.now(), late.transport?.findFails(n.id, n.ip) ?? 0));
    };
    return new Table({
      ...opts.table,
      admitNode: (id, ip) => !bans.isBannedId(id) && !bans.isBannedIp(ip) && (userAdmit === undefined || userAdmit(id, ip)),
      selfId: p.selfId,
      net: {
        // 'nodeAlive' is emitted before the table acts on the pong, so
        // listeners see a node as alive before it is added.
        ping: (n) =>
          late.transport!.ping(n).then((pong) => {
            late.discovery?.emitAlive(n);
            return pong;
          }),
        requestENR: (n) => late.transport!.requestENR(n),
      },
      clock: p.clock,
      netrestrict: restrict,
      onAdded: (n) => {
        store(n);
        late.discovery?.emit('nodeAdded', n);
      },
      onRevalidated: store,
      onRemoved: (n) => late.discovery?.emit('nodeRemoved', n),
    });
  }

  /**
   * Maps our port on the gateway start() found. 'natMapped' or 'natError'
   * follow after start() returns, so callers can listen first.
   */
  private async startNat(gw: Gateway, port: number): Promise<void> {
    let error = gw.error;
    if (gw.mapper !== null) {
      const kind = gw.mapper.kind;
      const r = await mapPort(gw.mapper, port, (err) => this.emit('natError', err), this.clock);
      if ('error' in r) error = r.error;
      else {
        this.nat = r.manager;
        setImmediate(() => this.emit('natMapped', r.mapping, kind, gw.externalIp));
      }
    }
    if (error !== undefined) {
      const err = error;
      setImmediate(() => this.emit('natError', err));
    }
  }

  /** Our enode URL (with the given host for display). */
  enode(ip?: Uint8Array): string {
    const a = this.transport.socket.address();
    return formatEnode(this.nodeId, ip ?? ipToBytes(a.address), 0, a.port);
  }

  /** Changes which nodes that ping us enter the table (the `inboundNodes` option) while running. */
  setInboundNodes(mode: 'afterRefresh' | 'always' | 'never'): void {
    if (mode !== 'afterRefresh' && mode !== 'always' && mode !== 'never') {
      throw new InvalidArgumentError(`inboundNodes must be 'afterRefresh', 'always' or 'never' (got ${String(mode)})`);
    }
    this.inboundNodes = mode;
  }

  private onInbound(n: VerifiedNode): void {
    this.emitAlive(n);
    // geth addInboundNode: not while the table is still initialising, so a
    // burst of pings cannot fill an empty table before our own lookups do.
    const admit = this.inboundNodes === 'always' || (this.inboundNodes === 'afterRefresh' && this.initDone);
    if (admit) this.table.addVerified(n, { inbound: true, live: true });
  }

  /**
   * A node proved itself: it is known, and once verified (a second proof,
   * see KnownNodes) it fills answers when the table has too few and its
   * proof is written to the DB at most hourly, so a restarted bootnode
   * serves as many nodes as before.
   */
  private rememberAlive(known: KnownNodes, n: NodeRecordInfo): void {
    const now = this.now();
    const k = known.add(n, now);
    if (k === undefined || !k.verified || now - k.persistedMs < KNOWN_PERSIST_INTERVAL_MS) return;
    k.persistedMs = now;
    const proof = { ip: Buffer.from(n.ip), udpPort: n.udpPort, tcpPort: n.tcpPort, lastPingSentMs: now, lastPongReceivedMs: now };
    if (!this.db.updateNode(n.id, proof)) this.db.putNode(storedFrom(n, now, 0));
  }

  /**
   * Pings the known nodes whose second proof is due (first seen
   * KNOWN_VERIFY_AFTER_MS ago, not heard from since): an answer verifies
   * them ('nodeAlive'), silence drops them.
   */
  private verifyKnown(known: KnownNodes): void {
    if (this.closed) return;
    const room = KNOWN_VERIFY_CONCURRENCY - this.knownVerifying;
    for (const k of known.unverifiedDue(this.now() - KNOWN_VERIFY_AFTER_MS, room)) {
      this.knownVerifying++;
      this.transport
        .ping(k)
        .then(
          () => this.emitAlive(k),
          () => known.remove(k.id),
        )
        .finally(() => {
          this.knownVerifying--;
          // More may be due (after a restart, the whole loaded set is): keep the pings flowing.
          this.verifyKnown(known);
        });
    }
  }

  /** A node answered our ping (or bonded with us by pinging and answering): 'nodeAlive'. */
  private emitAlive(n: NodeRecordInfo): void {
    if (!this.closed && this.listenerCount('nodeAlive') > 0) this.emit('nodeAlive', n);
  }

  /** A failure with no caller to throw to: 'error', if anyone listens. */
  private report(err: unknown): void {
    // What reaches here is an Error: LocalRecord's and NodeDB's rejections.
    if (this.listenerCount('error') > 0) this.emit('error', err as Error);
  }

  /**
   * A verified pong: the peer's view of our endpoint is a vote (geth
   * UDPEndpointStatement). When the prediction for that family differs from
   * our record, the record follows (seq + 1).
   */
  private onPong(p: InboundPacket<Pong>): void {
    if (this.closed) return;
    this.prediction.observe(p.from.address, p.packet.to)?.catch((err: unknown) => this.report(err));
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
      this.report(err);
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
    const seeds = this.table.closest(targetHash, K, { accept: opts.seedFilter });
    return new Lookup({
      target,
      seeds,
      selfId: this.nodeId,
      findnode: (n, t) => this.transport.findnode(n, t),
      onAnswered: (n, found) => this.onAnswered(n, found),
      onFailed: (n) => this.onFindnodeFailed(n),
    });
  }

  /** A lookup's findnode to `n` was answered with `found`. */
  private onAnswered(n: LookupNode, found: readonly LookupNode[]): void {
    if (this.closed) return;
    // It answered findnode after bonding with us: its endpoint is proven.
    if (this.table.getNode(n.id) === undefined) this.emitAlive(n);
    this.table.addVerified(n, { live: true });
    for (const f of found) this.table.addFound(f);
  }

  /** A lookup's findnode to `n` failed: counted against it (geth drops a node after 5 in a row). */
  private onFindnodeFailed(n: LookupNode): void {
    if (this.closed) return;
    const fails = this.transport.findFails(n.id, n.ip);
    this.db.updateNode(n.id, { findFails: fails });
    this.table.trackFindnode(n, fails);
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
      if (yielded === 0) await new Promise<void>((r) => this.clock.setTimer(r, RANDOM_NODES_IDLE_MS).unref?.());
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
    this.banReload.stop();
    this.forkRecheck?.stop();
    this.knownExpiry?.stop();
    this.knownVerify?.stop();
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

/** The node DB: the caller's (theirs to close), or one we open (closed by close()), in memory for null. */
async function openDb(db: DiscoveryOptions['db'], now: () => number, clock: Clock): Promise<{ db: NodeDB; ownsDb: boolean }> {
  if (db instanceof NodeDB) return { db, ownsDb: false };
  return { db: await NodeDB.open(db ?? null, { now, clock }), ownsDb: true };
}

/**
 * Known-good nodes for bootnode-scale answers (`max` 0: off), loaded from
 * the DB: those that answered within KNOWN_MAX_AGE_MS and failed no
 * findnode, most recent first, to be verified again before they are handed out. A node dropped to make room is forgotten in
 * the DB too unless the table holds it, so the DB stays as bounded as the set.
 */
function loadKnownNodes(db: NodeDB, max: number, table: Table): KnownNodes | undefined {
  if (!(max > 0)) return undefined;
  const known = new KnownNodes(max, (n) => {
    if (table.getNode(n.id) === undefined) db.deleteNode(n.id);
  });
  // Each is handed out again once it answers the ping it gets right after
  // the start (its DB entry counts as the first proof): a restarted bootnode
  // serves the living, not whoever was stored.
  known.load((add) => {
    for (const n of db.recentNodes(KNOWN_MAX_AGE_MS, max)) {
      if (n.findFails === 0) add(n, n.lastPongReceivedMs, { provenAtMs: n.lastPongReceivedMs })!.persistedMs = n.lastPongReceivedMs;
    }
  });
  return known;
}

/** The transport's onAbusiveIp: an IP that keeps exceeding the rate limits is banned for `autoBanMs` (0: never). */
function autoBan(autoBanMs: number, late: LateLinks): ((ip: Uint8Array) => void) | undefined {
  if (!(autoBanMs > 0)) return undefined;
  return (ip) => {
    void late.discovery?.ban(ipToString(ip) ?? '', autoBanMs, 'kept exceeding the rate limits').catch(() => undefined);
  };
}

/** Binds our socket and starts the transport on it, or asks opts.transportFactory for one. */
function openTransport(opts: DiscoveryOptions, cfg: Omit<TransportConfig, 'socket'>): Promise<Transport> {
  if (opts.transportFactory !== undefined) return opts.transportFactory(cfg);
  return listen({ ...cfg, address: opts.address ?? '0.0.0.0', port: opts.port ?? 30303, socketKind: opts.socketKind, threads: opts.threads });
}

function storedFrom(n: NodeRecordInfo, nowMs: number, findFails: number): StoredNode {
  return {
    id: Buffer.from(n.id),
    ip: Buffer.from(n.ip),
    udpPort: n.udpPort,
    tcpPort: n.tcpPort,
    seq: n.seq,
    record: n.record === undefined ? undefined : Buffer.from(n.record),
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

export type { FoundNode, ForkFilter, ForkOptions };
export { ForkPolicy, toLookupNode };
