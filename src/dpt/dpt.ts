/**
 * A drop-in replacement for @ethereumjs/devp2p's `DPT`: same constructor,
 * methods, events and payloads, over our transport, table and lookups.
 *
 * What maps to what (README "DPT: differences from ethjs" lists each
 * deliberate difference and its reason):
 * - addPeer(peer): ping (by id, or by address when the id is unknown),
 *   'peer:new', then the table ('peer:added' if it takes the node). A
 *   failed ping bans the peer for 5 minutes, as ethjs.
 * - bootstrap(peer): addPeer, then a lookup of our own id through it
 *   (ethjs: one findneighbours to it, then a ping to everyone it names).
 * - refresh() (every refreshInterval / 10): a lookup of a random id, and
 *   DNS peers when enabled.
 * - The table is our Kademlia table (keccak256 distances, IP limits,
 *   revalidation, replacements), not ethjs's k-bucket; getClosestPeers
 *   uses the same distance as findnode answers.
 * - 'peer:new' fires for every node that proves itself alive (answers our
 *   ping) while not in the table: what an RLPx dialer should try.
 */
import { randomBytes } from 'node:crypto';
import { keccak256, nodeIdFromPrivateKey } from '../crypto';
import { DiscError, InvalidArgumentError } from '../errors';
import { Discovery } from '../node/discovery';
import type { NodeRecordInfo, TableNode } from '../table/table';
import { toIpBytes } from '../wire/ip';
import { DNS } from '../dns';
import { BanList } from './ban-list';
import { KBucket } from './kbucket';
import { KBucketView } from './kbucket-view';
import { peerInfoOf, Server } from './server';
import { DPTEvent, DPTOptions, Events, PeerInfo } from './types';
import { bytesToUnprefixedHex } from './util';

/** ethjs: a peer whose ping fails is banned for 5 minutes. */
const FAILED_PING_BAN_MS = 5 * 60 * 1000;
/** ethjs: at most 5,000 confirmed peers. */
const MAX_CONFIRMED = 5_000;
/** ethjs spaces the pings of a batch of new peers 200 ms apart. */
const BATCH_SPACING_MS = 200;
/** A node announced by 'peer:new' is not announced again for this long (unless addPeer'd). */
const ANNOUNCE_TTL_MS = 5 * 60 * 1000;
const MAX_ANNOUNCED = 10_000;
/** ethjs: closest peers returned and kept per bucket. */
const CLOSEST = 16;

export class DPT {
  readonly events = new Events<DPTEvent>();
  private kbucketView?: KBucketView;
  readonly id: Uint8Array;
  private readonly privateKey: Buffer;
  private readonly server: Server;
  private readonly banlist = new BanList();
  private readonly dns: DNS;
  private findNeighbours: boolean;
  private readonly shouldGetDnsPeers: boolean;
  private readonly dnsRefreshQuantity: number;
  private readonly dnsNetworks: string[];
  private readonly onlyConfirmed: boolean;
  private readonly confirmedPeers = new Set<string>();
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly batchTimers = new Set<NodeJS.Timeout>();
  private readonly endpoint: PeerInfo | undefined;
  private discovery?: Discovery;
  private starting?: Promise<Discovery>;
  private destroyed = false;
  private lookingUp?: Promise<void>;
  /** Table members as PeerInfo, by hex id and by `address:tcpPort` (ethjs's KBucket keys). */
  private readonly index = new Map<string, PeerInfo>();
  private readonly keysOf = new Map<string, string[]>();
  /** Nodes announced by 'peer:new' and when, so the table can reuse the same object. */
  private readonly announced = new Map<string, { info: PeerInfo; atMs: number }>();
  /** The PeerInfo of the addPeer() whose table insertion is running (same object in both events). */
  private adding?: PeerInfo;

  constructor(privateKey: Uint8Array, options: DPTOptions = {}) {
    this.privateKey = Buffer.from(privateKey);
    this.id = new Uint8Array(nodeIdFromPrivateKey(this.privateKey));
    this.findNeighbours = options.shouldFindNeighbours ?? true;
    this.shouldGetDnsPeers = options.shouldGetDnsPeers ?? false;
    this.dnsRefreshQuantity = Math.floor((options.dnsRefreshQuantity ?? 25) / 2);
    this.dnsNetworks = options.dnsNetworks ?? [];
    this.dns = new DNS({ dnsServerAddress: options.dnsAddr, common: options.common });
    this.onlyConfirmed = options.onlyConfirmed ?? false;
    this.endpoint = options.endpoint;
    this.server = new Server(this, this.privateKey, {
      timeout: options.timeout,
      endpoint: options.endpoint,
      createSocket: options.createSocket,
      common: options.common,
      rateLimits: options.rateLimits,
      amplificationAllowance: options.amplificationAllowance,
    });
    this.server.events.once('listening', () => {
      this.start().then(
        () => this.events.emit('listening'),
        (err: Error) => {
          if (!this.destroyed) this.events.emit('error', err);
        },
      );
    });
    this.server.events.once('close', () => this.events.emit('close'));
    this.server.events.on('error', (err) => this.events.emit('error', err));
    this.server.events.on('peers', (peers: PeerInfo[]) => {
      if (this.findNeighbours) this._addPeerBatch(peers);
    });
    const refreshMs = Math.floor((options.refreshInterval ?? 60_000) / 10);
    this.refreshTimer = setInterval(() => {
      this.refresh().catch((err: Error) => this.events.emit('error', err));
    }, refreshMs);
  }

  // ------------------------------------------------------------ lifecycle

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  bind(...args: any[]): void {
    this.server.bind(...args);
  }

  /** Stops everything; 'close' follows. Throws 'Server already destroyed' the second time. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  destroy(...args: any[]): void {
    this.server._isAliveCheck();
    this.destroyed = true;
    clearInterval(this.refreshTimer);
    for (const t of this.batchTimers) clearTimeout(t);
    this.batchTimers.clear();
    // The discovery service (table timers, DB) stops before the socket closes.
    const d = this.discovery;
    if (d !== undefined) {
      d.table.close();
      void d.close().catch(() => undefined);
    }
    this.server.destroy(...args);
  }

  /** Starts the table and lookups on the bound transport (once). */
  private start(): Promise<Discovery> {
    if (this.starting !== undefined) return this.starting;
    this.starting = (async () => {
      const transport = await this.server.ready();
      const ep = this.endpoint;
      const explicitIp = ep?.address !== undefined && ep.address !== '0.0.0.0' && ep.address !== '::' ? ep.address : undefined;
      const d = await Discovery.start({
        privateKey: this.privateKey,
        db: null,
        externalIp: explicitIp,
        tcpPort: ep?.tcpPort ?? 0,
        refreshOnStart: false,
        refreshIntervalMs: 0,
        inboundNodes: this.findNeighbours ? 'always' : 'never',
        table: { admitNode: (id) => !this.banlist.has(id) },
        transportFactory: async (cfg) => {
          const closest = cfg.closest!;
          this.server.setClosest((hash, count) => {
            if (!this.confirmedOnly()) return closest(hash, count);
            const accept = (n: TableNode) => this.confirmedPeers.has(bytesToUnprefixedHex(n.id));
            return this.discovery?.table.closest(hash, count, { preferLive: true, accept }) ?? [];
          });
          return transport;
        },
      });
      if (this.destroyed) {
        await d.close();
        throw new DiscError('CLOSED', 'Server already destroyed');
      }
      this.discovery = d;
      // _shouldFindNeighbours may have changed while the service started.
      d.setInboundNodes(this.findNeighbours ? 'always' : 'never');
      d.on('nodeAdded', (n: TableNode) => this.onNodeAdded(n));
      d.on('nodeRemoved', (n: TableNode) => this.onNodeRemoved(n));
      d.on('nodeAlive', (n: NodeRecordInfo) => this.onNodeAlive(n));
      d.on('error', (err: Error) => this.events.emit('error', err));
      return d;
    })();
    return this.starting;
  }

  private async ready(): Promise<Discovery> {
    this.server._isAliveCheck();
    await this.server.ready();
    return this.start();
  }

  // ------------------------------------------------------------ table events

  private onNodeAdded(n: TableNode): void {
    const hex = bytesToUnprefixedHex(n.id);
    const adding = this.adding;
    const info =
      adding?.id !== undefined && bytesToUnprefixedHex(adding.id) === hex ? adding : (this.announced.get(hex)?.info ?? peerInfoOf(n));
    const keys = KBucket.getKeys(info);
    for (const k of keys) this.index.set(k, info);
    this.keysOf.set(hex, keys);
    this.events.emit('peer:added', info);
  }

  private onNodeRemoved(n: TableNode): void {
    const hex = bytesToUnprefixedHex(n.id);
    const info = this.index.get(hex);
    for (const k of this.keysOf.get(hex) ?? []) if (this.index.get(k) === info) this.index.delete(k);
    this.keysOf.delete(hex);
    if (info !== undefined) this.events.emit('peer:removed', info);
  }

  /** A node answered our ping: announce it once ('peer:new') unless the table already has it. */
  private onNodeAlive(n: NodeRecordInfo): void {
    if (!this.findNeighbours || this.destroyed) return;
    const hex = bytesToUnprefixedHex(n.id);
    if (this.index.has(hex) || this.banlist.has(n.id)) return;
    const now = Date.now();
    const seen = this.announced.get(hex);
    if (seen !== undefined && now - seen.atMs < ANNOUNCE_TTL_MS) return;
    const info = peerInfoOf({ id: n.id, ip: n.ip, udpPort: n.udpPort, tcpPort: n.tcpPort });
    this.remember(hex, info, now);
    this.events.emit('peer:new', info);
  }

  private remember(hex: string, info: PeerInfo, now: number): void {
    this.announced.delete(hex);
    this.announced.set(hex, { info, atMs: now });
    if (this.announced.size > MAX_ANNOUNCED) this.announced.delete(this.announced.keys().next().value!);
  }

  // ------------------------------------------------------------ peers

  /** Bootstraps from `peer`: adds it, then looks up our own id through it. Failures are 'error' events. */
  async bootstrap(peer: PeerInfo): Promise<void> {
    let added: PeerInfo;
    try {
      added = await this.addPeer(peer);
      if (added.id !== undefined) this.confirmedPeers.add(bytesToUnprefixedHex(added.id));
    } catch (err) {
      this.events.emit('error', err as Error);
      return;
    }
    if (this.findNeighbours) void this.lookup(this.id);
  }

  /**
   * Pings `obj` and adds it to the table; resolves with its PeerInfo.
   * Rejects with 'Peer is banned', or with the ping's error (the peer is then banned for 5 minutes).
   */
  async addPeer(obj: PeerInfo): Promise<PeerInfo> {
    if (this.banlist.has(obj)) throw new DiscError('BANNED', 'Peer is banned');
    const known = this.getPeer(obj);
    if (known !== null) return known;
    let info: PeerInfo;
    try {
      info = await this.server.ping(obj);
    } catch (err) {
      this.banlist.add(obj, FAILED_PING_BAN_MS);
      throw err;
    }
    const d = await this.ready();
    const id = info.id!;
    const hex = bytesToUnprefixedHex(id);
    const now = Date.now();
    const seen = this.announced.get(hex);
    if (seen !== undefined && now - seen.atMs < ANNOUNCE_TTL_MS) {
      // Already announced while our ping was answered (its ping-back can
      // arrive in the same receive batch as the pong, and add it to the
      // table too): one peer:new per node.
      info = this.index.get(hex) ?? seen.info;
    } else {
      this.remember(hex, info, now);
      this.events.emit('peer:new', info);
    }
    this.adding = info;
    try {
      d.table.addVerified(
        { id, ip: toIpBytes(info.address!), udpPort: info.udpPort!, tcpPort: info.tcpPort ?? 0 },
        { live: true },
      );
    } finally {
      this.adding = undefined;
    }
    return info;
  }

  /** Marks a peer (unprefixed hex id) as confirmed, for onlyConfirmed. */
  confirmPeer(id: string): void {
    if (this.confirmedPeers.size < MAX_CONFIRMED) this.confirmedPeers.add(id);
  }

  getPeer(obj: string | Uint8Array | PeerInfo): PeerInfo | null {
    for (const key of KBucket.getKeys(obj)) {
      const peer = this.index.get(key);
      if (peer !== undefined) return peer;
    }
    return null;
  }

  getPeers(): PeerInfo[] {
    const table = this.discovery?.table;
    if (table === undefined) return [];
    const out: PeerInfo[] = [];
    for (const n of table.nodes()) {
      const info = this.index.get(bytesToUnprefixedHex(n.id));
      if (info !== undefined) out.push(info);
    }
    return out;
  }

  numPeers(): number {
    return this.discovery?.table.size ?? 0;
  }

  /** The 16 table peers closest to `id` (keccak256 distance, as findnode), only confirmed ones with onlyConfirmed. */
  getClosestPeers(id: Uint8Array): PeerInfo[] {
    const table = this.discovery?.table;
    if (table === undefined) return [];
    let peers = table
      .closest(keccak256(id), CLOSEST)
      .map((n) => this.index.get(bytesToUnprefixedHex(n.id)))
      .filter((p): p is PeerInfo => p !== undefined);
    if (this.confirmedOnly()) peers = peers.filter((p) => this.confirmedPeers.has(bytesToUnprefixedHex(p.id!)));
    return peers;
  }

  removePeer(obj: string | PeerInfo | Uint8Array): void {
    const peer = this.getPeer(obj);
    if (peer?.id === undefined) return;
    this.confirmedPeers.delete(bytesToUnprefixedHex(peer.id));
    this.discovery?.table.remove(peer.id);
  }

  /** Bans `obj` (for maxAge ms; forever without) and removes it from the table; banned nodes never re-enter. */
  banPeer(obj: string | PeerInfo | Uint8Array, maxAge?: number): void {
    this.banlist.add(obj, maxAge);
    const peer = this.getPeer(obj);
    if (peer?.id !== undefined) this.discovery?.table.remove(peer.id);
  }

  /** Peers from the configured EIP-1459 lists (half of dnsRefreshQuantity). */
  async getDnsPeers(): Promise<PeerInfo[]> {
    if (this.dnsNetworks.length === 0) return [];
    return this.dns.getPeers(this.dnsRefreshQuantity, this.dnsNetworks);
  }

  /** One refresh round: a lookup of a random id, then DNS peers if enabled. */
  async refresh(): Promise<void> {
    if (this.destroyed) return;
    if (this.findNeighbours && this.discovery !== undefined && this.discovery.table.size > 0) {
      await this.lookup(randomBytes(64));
    }
    if (this.shouldGetDnsPeers) this._addPeerBatch(await this.getDnsPeers());
  }

  /** Pings `peers` 200 ms apart (ethjs); each failure is an 'error' event. */
  _addPeerBatch(peers: PeerInfo[]): void {
    let ms = 0;
    for (const peer of peers) {
      const t = setTimeout(() => {
        this.batchTimers.delete(t);
        if (this.destroyed) return;
        this.addPeer(peer).catch((err: Error) => this.events.emit('error', err));
      }, ms);
      this.batchTimers.add(t);
      ms += BATCH_SPACING_MS;
    }
  }

  /**
   * ethjs's k-bucket 'ping' handler, public in 10.0: `oldPeers` (contacts of
   * a full bucket) are pinged; each that does not answer is banned for 5
   * minutes and removed, and if any was, `newPeer` is added (pinged first,
   * as every addPeer). If all answer, nothing changes: unlike ethjs the
   * newcomer is not banned for being late (README difference table). Our
   * table never calls this (it keeps replacements and revalidates); it is
   * here for code that calls it. Failures are 'error' events.
   */
  _onKBucketPing(oldPeers: PeerInfo[], newPeer: PeerInfo): void {
    if (!Array.isArray(oldPeers) || newPeer === null || typeof newPeer !== 'object') {
      throw new InvalidArgumentError('_onKBucketPing: oldPeers must be an array of PeerInfo, newPeer a PeerInfo');
    }
    if (this.destroyed || this.banlist.has(newPeer)) return;
    const pings = oldPeers.map((peer) =>
      this.server.ping(peer).then(
        () => true,
        () => {
          this.banlist.add(peer, FAILED_PING_BAN_MS);
          this.removePeer(peer);
          return false;
        },
      ),
    );
    void Promise.all(pings).then((answered) => {
      if (this.destroyed || answered.every(Boolean)) return;
      this.addPeer(newPeer).catch((err: Error) => this.events.emit('error', err));
    });
  }

  // ------------------------------------------------------------ ethjs's protected members

  /** ethjs's `_server`: the UDP server (ours; read-only: the table and lookups run on its transport). */
  get _server(): Server {
    return this.server;
  }

  set _server(_replacement: unknown) {
    throw new DiscError(
      'UNSUPPORTED',
      "DPT._server cannot be replaced: discv4-native's table and lookups run on its transport (README: Replacing @ethereumjs/devp2p's DPT)",
    );
  }

  /** ethjs's `_kbucket`: its KBucket API over this DPT's peers (one table: ours). */
  get _kbucket(): KBucketView {
    this.kbucketView ??= new KBucketView(this);
    return this.kbucketView;
  }

  /** ethjs's `_banlist`: peers banned by banPeer or a failed ping (by id and address:tcpPort). */
  get _banlist(): BanList {
    return this.banlist;
  }

  /** ethjs's `_dns`: the EIP-1459 client getDnsPeers uses. */
  get _dns(): DNS {
    return this.dns;
  }

  /**
   * ethjs's `_shouldFindNeighbours`; setting it takes effect at once: lookups
   * on bootstrap/refresh, neighbours answers used, nodes that ping us
   * admitted to the table, 'peer:new' for them.
   */
  get _shouldFindNeighbours(): boolean {
    return this.findNeighbours;
  }

  set _shouldFindNeighbours(on: boolean) {
    this.findNeighbours = Boolean(on);
    this.discovery?.setInboundNodes(this.findNeighbours ? 'always' : 'never');
  }

  // ------------------------------------------------------------ ours

  /** One lookup at a time; a call while one runs waits for it. */
  private lookup(target: Uint8Array): Promise<void> {
    if (this.lookingUp !== undefined) return this.lookingUp;
    const d = this.discovery;
    if (d === undefined || this.destroyed) return Promise.resolve();
    const seedFilter = this.confirmedOnly() ? (n: TableNode) => this.confirmedPeers.has(bytesToUnprefixedHex(n.id)) : undefined;
    this.lookingUp = d
      .lookup(target, { seedFilter })
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => (this.lookingUp = undefined));
    return this.lookingUp;
  }

  private confirmedOnly(): boolean {
    return this.onlyConfirmed && this.confirmedPeers.size > 0;
  }

  /** The discovery service under the facade (undefined before bind). */
  get service(): Discovery | undefined {
    return this.discovery;
  }

  /** Transport counters: packets, drops by reason, bonds, pending requests. */
  stats(): ReturnType<Discovery['transport']['stats']> | undefined {
    return this.discovery?.transport.stats();
  }
}
