/**
 * EIP-1459 DNS discovery client with @ethereumjs/devp2p's `DNS` API:
 * `getPeers(maxQuantity, dnsNetworks)` does randomized descents from a
 * tree's root to its records. Differences from ethjs, all on the safe side:
 * - the process-wide DNS servers are never touched (ethjs calls
 *   dns.promises.setServers): each client has its own resolver;
 * - every entry must hash to the name it was fetched under (as geth's
 *   client.go doResolveEntry), so a server cannot substitute entries;
 * - the cache is an LRU with a TTL (ethjs's grows forever and never
 *   expires, so it never sees a new root);
 * - each lookup has a hard deadline;
 * - peers carry the record's node id.
 */
import * as dns from 'node:dns';
import { decodeEnr, EnrError, pairUint } from '../enr/enr';
import { DecodedRecord } from '../enr/record';
import { InvalidArgumentError } from '../errors';
import { ipToString } from '../wire/ip';
import {
  base32Decode,
  base32Encode,
  BRANCH_PREFIX,
  BranchEntry,
  DnsError,
  DnsErrorCode,
  hashMatches,
  LINK_PREFIX,
  parseEntry,
  parseTreeUrl,
  RECORD_PREFIX,
  ROOT_PREFIX,
  RootEntry,
  TreeEntry,
  verifyRoot,
} from './tree';

/** TXT records of a name, each as its character-strings (Node's resolveTxt shape). */
export type TxtResolver = (name: string) => Promise<string[][]>;

/** A peer found in a tree (ethjs's PeerInfo, plus `id`). */
export interface PeerInfo {
  /** The 64-byte node id (public key) of the record. */
  id?: Uint8Array;
  address?: string;
  udpPort?: number | null;
  tcpPort?: number | null;
}

export interface DnsOptions {
  /** DNS server for this client only: `ip`, `ip:port`, `[ipv6]:port`. Default: the system's servers. */
  dnsServerAddress?: string;
  /** Accepted for ethjs compatibility and unused: hashing is ours. */
  common?: unknown;
  /** Replaces the DNS resolver (tests, custom transports); `dnsServerAddress` is then unused. */
  resolver?: TxtResolver;
  /** Entries kept in the LRU cache; 0 disables it. */
  cacheSize?: number;
  /** How long an entry (and so the root, and its seq) is trusted before it is fetched again. */
  cacheTtlMs?: number;
  /** Deadline of one TXT lookup. */
  timeoutMs?: number;
  /** Clock of the cache TTL (tests). */
  now?: () => number;
}

export const DNS_DEFAULTS = {
  /**
   * geth caches 1,000 entries; a tree of N records has about N * 14/13
   * entries, so 2,000 holds the ~1,800-record mainnet tree whole.
   */
  cacheSize: 2000,
  /** geth re-checks a tree's root every 30 minutes (client.go RecheckInterval). */
  cacheTtlMs: 30 * 60 * 1000,
  /** geth client.go's lookup timeout. */
  timeoutMs: 5000,
  /** Failed or duplicate searches allowed beyond maxQuantity (ethjs _errorTolerance). */
  errorTolerance: 10,
} as const;

export interface DnsStats {
  /** TXT lookups sent to the resolver. */
  lookups: number;
  cacheHits: number;
  /** Descents started by getPeers. */
  searches: number;
  /** Why descents (or roots) failed, by error code. */
  errors: Partial<Record<DnsErrorCode, number>>;
}

export class DNS {
  readonly stats: DnsStats = { lookups: 0, cacheHits: 0, searches: 0, errors: {} };
  private resolve: TxtResolver;
  private readonly cache: TtlLru<TreeEntry>;
  private readonly timeoutMs: number;

  constructor(options: DnsOptions = {}) {
    const cacheSize = options.cacheSize ?? DNS_DEFAULTS.cacheSize;
    const cacheTtlMs = options.cacheTtlMs ?? DNS_DEFAULTS.cacheTtlMs;
    this.timeoutMs = options.timeoutMs ?? DNS_DEFAULTS.timeoutMs;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) throw new InvalidArgumentError('cacheSize must be an integer >= 0');
    if (!(cacheTtlMs >= 0)) throw new InvalidArgumentError('cacheTtlMs must be >= 0');
    if (!(this.timeoutMs > 0 && Number.isFinite(this.timeoutMs))) throw new InvalidArgumentError('timeoutMs must be > 0');
    this.cache = new TtlLru(cacheSize, cacheTtlMs, options.now ?? Date.now);
    this.resolve = options.resolver ?? systemResolver(options.dnsServerAddress, this.timeoutMs);
  }

  /**
   * ethjs's test hook: TXT lookups go to `mock.resolve(name, 'TXT')` from
   * now on. Unlike ethjs's (which replaces `dns.promises.resolve` for the
   * whole process) it changes this client only.
   */
  __setNativeDNSModuleResolve(mock: { resolve: (name: string, rrtype: 'TXT') => string[][] | Promise<string[][]> }): void {
    const resolve = (mock as { resolve?: unknown } | null)?.resolve;
    if (typeof resolve !== 'function') throw new InvalidArgumentError('__setNativeDNSModuleResolve: mock.resolve must be a function');
    this.resolve = async (name) => (resolve as (n: string, t: 'TXT') => string[][] | Promise<string[][]>).call(mock, name, 'TXT');
  }

  /** Entries in the cache now (at most `cacheSize`). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  /**
   * Up to `maxQuantity` peers, distinct nodes (by id; ethjs: by address,
   * which hides every node but one behind a shared IP), from one tree picked at
   * random from `dnsNetworks`. Stops after maxQuantity + 10 descents, so it
   * may return fewer. DNS failures and bad entries only fail their descent;
   * a root that cannot be fetched or verified gives []. Throws DnsError
   * only for a malformed tree URL (as ethjs does).
   */
  async getPeers(maxQuantity: number, dnsNetworks: string[]): Promise<PeerInfo[]> {
    if (dnsNetworks.length === 0) return [];
    const tree = parseTreeUrl(dnsNetworks[Math.floor(Math.random() * dnsNetworks.length)]);
    const peers: PeerInfo[] = [];
    let root: RootEntry;
    try {
      // One root per call: every descent starts from it, and if it fails all would.
      root = await this.root(tree.publicKey, tree.domain);
    } catch (e) {
      this.countError(e);
      return peers;
    }
    const seen = new Set<string>();
    for (let n = 0; peers.length < maxQuantity && n < maxQuantity + DNS_DEFAULTS.errorTolerance; n++) {
      this.stats.searches++;
      let peer: PeerInfo | undefined;
      try {
        peer = await this.descend(tree.domain, root.eroot);
      } catch (e) {
        this.countError(e);
      }
      if (peer?.address === undefined || peer.id === undefined) continue;
      const key = Buffer.from(peer.id).toString('hex');
      if (!seen.has(key)) {
        seen.add(key);
        peers.push(peer);
      }
    }
    return peers;
  }

  /** One random path from `eroot` down to a record; undefined for a record without an endpoint. */
  private async descend(domain: string, eroot: string): Promise<PeerInfo | undefined> {
    // Ancestors of this descent. Hash-checked names make a cycle infeasible
    // (an entry would have to contain its own hash); this keeps the walk
    // finite regardless, as EIP-1459 asks of clients.
    const visited = new Set<string>();
    for (let name = eroot; ; ) {
      visited.add(name.toUpperCase());
      const entry = await this.entry(name, domain);
      if (entry.type === 'enr') return peerOf(entry.record);
      if (entry.type !== 'branch') throw new DnsError('DNS_BAD_ENTRY', `${entry.type} entry in the record subtree`);
      const next = entry.children.filter((c) => !visited.has(c.toUpperCase()));
      if (next.length === 0) throw new DnsError('DNS_BAD_ENTRY', 'branch without unvisited children');
      name = next[Math.floor(Math.random() * next.length)];
    }
  }

  private async root(publicKey: Buffer, domain: string): Promise<RootEntry> {
    // Keyed by key and domain: a root is only valid for the key that signed it.
    const key = `${base32Encode(publicKey)}@${domain.toLowerCase()}`;
    const cached = this.cached(key);
    if (cached?.type === 'root') return cached;
    // As geth resolveRoot: the first TXT record that is a root entry.
    const text = (await this.lookup(domain)).find((t) => t.startsWith(ROOT_PREFIX));
    if (text === undefined) throw new DnsError('DNS_LOOKUP_FAILED', `${domain}: no root entry`);
    const root = parseEntry(text) as RootEntry;
    if (!verifyRoot(root, publicKey)) throw new DnsError('DNS_BAD_SIGNATURE', `${domain}: root not signed by the tree key`);
    this.cache.set(key, root);
    return root;
  }

  private async entry(name: string, domain: string): Promise<TreeEntry> {
    const fqdn = `${name}.${domain}`;
    const key = fqdn.toLowerCase();
    const cached = this.cached(key);
    if (cached !== undefined) return cached;
    // As geth doResolveEntry: records of unknown types are skipped, and the
    // hash is checked before the entry is parsed (and its record verified).
    const text = (await this.lookup(fqdn)).find(isTreeEntry);
    if (text === undefined) throw new DnsError('DNS_LOOKUP_FAILED', `${fqdn}: no tree entry`);
    if (!hashMatches(name, text)) throw new DnsError('DNS_HASH_MISMATCH', `${fqdn}: entry does not hash to its name`);
    const entry = parseEntry(text);
    this.cache.set(key, entry);
    return entry;
  }

  private cached(key: string): TreeEntry | undefined {
    const entry = this.cache.get(key);
    if (entry !== undefined) this.stats.cacheHits++;
    return entry;
  }

  /** The texts of `name`'s TXT records, each record's strings joined. */
  private async lookup(name: string): Promise<string[]> {
    this.stats.lookups++;
    let records: string[][];
    try {
      records = await withTimeout(this.resolve(name), this.timeoutMs);
    } catch (e) {
      throw new DnsError('DNS_LOOKUP_FAILED', `${name}: ${(e as Error)?.message ?? String(e)}`);
    }
    // A TXT record is a list of strings of at most 255 bytes; long entries
    // (branches, records) are split across them and mean their concatenation.
    return records.map((strings) => strings.join(''));
  }

  private countError(e: unknown): void {
    // Everything a descent throws is a DnsError; anything else is counted as a bad entry.
    const code: DnsErrorCode = e instanceof DnsError ? e.code : 'DNS_BAD_ENTRY';
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
  }
}

/**
 * ethjs's `ENR` static helpers, over our parser. Errors are DnsError, with
 * ethjs's messages where callers might match on them.
 */
export class ENR {
  static readonly RECORD_PREFIX = RECORD_PREFIX;
  static readonly TREE_PREFIX = 'enrtree:';
  static readonly BRANCH_PREFIX = BRANCH_PREFIX;
  static readonly ROOT_PREFIX = ROOT_PREFIX;

  /** `enrtree://<key>@<domain>` -> base32 key and domain. */
  static parseTree(tree: string): { publicKey: string; domain: string } {
    if (!tree.startsWith(ENR.TREE_PREFIX)) throw new DnsError('DNS_BAD_URL', `ENR tree entry must start with '${ENR.TREE_PREFIX}'`);
    const { publicKey, domain } = parseTreeUrl(tree);
    return { publicKey: base32Encode(publicKey), domain };
  }

  /** The child names of a branch entry. */
  static parseBranch(branch: string): string[] {
    if (!branch.startsWith(BRANCH_PREFIX)) throw new DnsError('DNS_BAD_ENTRY', `ENR branch entry must start with '${BRANCH_PREFIX}'`);
    return (parseEntry(branch) as BranchEntry).children;
  }

  /** The record subtree's root name, after checking the root's signature against the base32 `publicKey`. */
  static parseAndVerifyRoot(root: string, publicKey: string, _common?: unknown): string {
    if (!root.startsWith(ROOT_PREFIX)) throw new DnsError('DNS_BAD_ENTRY', `ENR root entry must start with '${ROOT_PREFIX}'`);
    const entry = parseEntry(root) as RootEntry;
    const key = base32Decode(publicKey);
    if (key === undefined || key.length !== 33 || !verifyRoot(entry, key)) {
      throw new DnsError('DNS_BAD_SIGNATURE', 'Unable to verify ENR root signature');
    }
    return entry.eroot;
  }

  /** The peer of a verified `enr:` record; address and ports are absent when the record has none. */
  static parseAndVerifyRecord(enr: string, _common?: unknown): PeerInfo {
    if (!enr.startsWith(RECORD_PREFIX)) throw new DnsError('DNS_BAD_ENTRY', `String encoded ENR must start with '${RECORD_PREFIX}'`);
    let record: DecodedRecord;
    try {
      record = decodeEnr(enr);
    } catch (e) {
      if (e instanceof EnrError && e.kind === 'invalid-signature') throw new DnsError('DNS_BAD_SIGNATURE', 'Unable to verify ENR signature');
      throw new DnsError('DNS_BAD_ENTRY', `invalid enr entry: ${(e as Error).message}`);
    }
    return peerOf(record) ?? { id: record.nodeId, udpPort: null, tcpPort: record.tcpPort ?? null };
  }
}

/** The peer of a record, or undefined if it has no IP with a (nonzero) UDP port. IPv4 is preferred. */
function peerOf(record: DecodedRecord): PeerInfo | undefined {
  const ep = record.udpEndpoint();
  if (ep === undefined || ep.udpPort === 0) return undefined;
  // EIP-778: tcp6 is the IPv6 TCP port when it differs from tcp.
  const tcp6 = ep.ip.length === 16 ? pairUint(record.pairs.get('tcp6')) : undefined;
  const tcpPort = tcp6 !== undefined && tcp6 <= 0xffffn ? Number(tcp6) : record.tcpPort;
  return { id: record.nodeId, address: ipToString(ep.ip), udpPort: ep.udpPort, tcpPort: tcpPort ?? null };
}

function isTreeEntry(text: string): boolean {
  return (
    text.startsWith(ROOT_PREFIX) || text.startsWith(LINK_PREFIX) || text.startsWith(BRANCH_PREFIX) || text.startsWith(RECORD_PREFIX)
  );
}

/**
 * A per-client resolver: the process-wide servers stay as they are. c-ares
 * backs off between tries (on Node 20, timeout t with 2 tries takes ~4t to
 * give up), so a quarter of the budget per try lets it retry a lost packet
 * once within it; withTimeout is the hard bound either way.
 */
function systemResolver(server: string | undefined, timeoutMs: number): TxtResolver {
  const resolver = new dns.promises.Resolver({ timeout: Math.max(1, Math.ceil(timeoutMs / 4)), tries: 2 });
  if (server !== undefined) {
    try {
      resolver.setServers([server]);
    } catch (e) {
      throw new DnsError('DNS_BAD_SERVER', `dnsServerAddress ${JSON.stringify(server)}: ${(e as Error).message}`);
    }
  }
  return (name) => resolver.resolveTxt(name);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * LRU cache with a TTL, on Map's insertion order: a hit is re-inserted to
 * become the newest, and the oldest goes first when full. Expired entries
 * are dropped when read or pushed out by newer ones.
 */
class TtlLru<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    if (e.expiresAt <= this.now()) return undefined;
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.limit === 0) return;
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: this.now() + this.ttlMs });
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as string);
  }
}
