/**
 * The one-shot commands, as geth's `devp2p` tool: genkey, keyinfo, ping,
 * requestenr, resolve, lookup, crawl. The network ones bind an ephemeral
 * UDP port (or --addr) with a throwaway key (or --nodekey) and an
 * in-memory node DB, do their job within --timeout, and close.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { access, constants as fsConstants, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { generatePrivateKey, keccak256, nodeIdFromPrivateKey } from '../crypto';
import { parseRecord, signRecord } from '../enr/record';
import { DiscError, InvalidArgumentError, osExplain, TimeoutError } from '../errors';
import { LookupNode } from '../lookup/lookup';
import { Discovery } from '../node/discovery';
import { formatEnode } from '../node/enode';
import { listen } from '../transport/listen';
import { Transport } from '../transport/transport';
import { ipToBytes, ipToString } from '../wire/ip';
import type { Io } from './bootnode';
import { describeRecord, encodeEnrText, enodeOf, formatRows, NodeArg, parseNodeArg } from './enr-text';
import { CliError, EXIT_USAGE, usageError } from './errors';
import { BanList } from '../node/bans';
import { NodeDB } from '../db';
import { csvCell } from './csv';
import { Options } from './flags';
import { parseKeyHex, readKeyFile, writeKeyFile } from './keyfile';

/** Per-request reply timeout of the one-shot commands: geth's 500 ms is tight across continents. */
const ONESHOT_RESP_TIMEOUT_MS = 1_000;
/** Attempts that fail at once (a send refused, an ICMP error) are spaced by at least this much. */
const MIN_ATTEMPT_SPACING_MS = 250;
/** ENR requests in flight during a crawl. */
const CRAWL_ENR_CONCURRENCY = 16;
/** Consecutive random lookups that find no new node before a crawl ends early. */
const CRAWL_QUIET_ROUNDS = 5;

function warner(o: Options, io: Io): (m: string) => void {
  return (m) => {
    if (o.verbosity >= 2) io.err(`discv4: warning: ${m}\n`);
  };
}

/** --nodekeyhex, --nodekey, or a throwaway key. */
async function oneShotKey(o: Options, io: Io): Promise<Buffer> {
  if (o.nodekeyhex !== undefined) {
    try {
      return parseKeyHex(o.nodekeyhex, '--nodekeyhex');
    } catch (err) {
      throw usageError((err as Error).message);
    }
  }
  if (o.nodekey !== undefined) return readKeyFile(o.nodekey, warner(o, io), '--nodekey');
  return generatePrivateKey();
}

function where(n: { ip: Uint8Array; udpPort: number }): string {
  const ip = ipToString(n.ip) ?? '?';
  return n.ip.length === 16 ? `[${ip}]:${n.udpPort}` : `${ip}:${n.udpPort}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A --timeout as the operator gave it: 500 ms, 1.5 s, 30 s. */
function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(3))} s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** The --timeout of a one-shot command, counted from the command's start (monotonic clock). */
class Deadline {
  private readonly end: number;
  constructor(readonly timeoutMs: number) {
    this.end = performance.now() + timeoutMs;
  }
  /** Milliseconds left (0 once passed), whole and at least 1 while any time is left. */
  get left(): number {
    const ms = this.end - performance.now();
    return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms));
  }
  /** "within --timeout 1.5 s" */
  get text(): string {
    return `within --timeout ${duration(this.timeoutMs)}`;
  }
}

const EXPIRED: unique symbol = Symbol('expired');

/** `p`, or EXPIRED if it has not settled after `ms` (p goes on; its outcome is dropped). */
function within<T>(p: Promise<T>, ms: number): Promise<T | typeof EXPIRED> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof EXPIRED>((r) => (timer = setTimeout(() => r(EXPIRED), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Error codes that mean a bad argument rather than a failed attempt: retrying
 * cannot help, so they end the command at once (exit 2). The same set as
 * main.ts's USAGE_CODES.
 */
const USAGE_CODES = new Set(['BAD_ENODE', 'BAD_ENR', 'BAD_CIDR', 'INVALID_ARGUMENT', 'USAGE']);

function isUsageError(err: unknown): boolean {
  if (err instanceof CliError) return err.exitCode === EXIT_USAGE;
  return err instanceof DiscError && USAGE_CODES.has(err.code);
}

/** How the attempts of a one-shot command went, for its failure line. */
interface Attempts {
  count: number;
  /** The last attempt's failure, when it was more than "no answer in time". */
  lastError?: Error;
}

function attemptsText(a: Attempts, noun = 'attempt'): string {
  const last = a.lastError !== undefined && !(a.lastError instanceof TimeoutError) ? `; last: ${a.lastError.message}` : '';
  return `${a.count} ${noun}${a.count === 1 ? '' : 's'}${last}`;
}

/**
 * Runs `attempt` until it yields a value or the deadline passes, and
 * resolves with that value or undefined. An attempt that throws or yields
 * undefined is retried (a lost datagram, a peer not yet bonded, a refused
 * send); one still running when the deadline passes is abandoned. Usage
 * errors end it at once. `attempt` gets the time left, to clip its own
 * request timeout.
 */
async function retryUntil<T>(what: string, dl: Deadline, a: Attempts, attempt: (leftMs: number) => Promise<T | undefined>): Promise<T | undefined> {
  for (let left = dl.left; left > 0; left = dl.left) {
    const t0 = performance.now();
    a.count++;
    try {
      const r = await within(attempt(left), left);
      if (r === EXPIRED) return undefined;
      if (r !== undefined) return r;
      a.lastError = undefined;
    } catch (err) {
      if (isUsageError(err)) throw err instanceof CliError ? err : usageError(`${what}: ${(err as Error).message}`);
      a.lastError = err instanceof Error ? err : new Error(String(err));
    }
    await sleep(Math.min(MIN_ATTEMPT_SPACING_MS - (performance.now() - t0), dl.left));
  }
  return undefined;
}

async function withTransport<T>(o: Options, io: Io, respTimeoutMs: number, fn: (t: Transport) => Promise<T>): Promise<T> {
  const t = await listen({ privateKey: await oneShotKey(o, io), address: o.addr.host, port: o.addr.port, respTimeoutMs });
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

async function withDiscovery<T>(o: Options, io: Io, fn: (d: Discovery) => Promise<T>): Promise<T> {
  const d = await Discovery.start({
    privateKey: await oneShotKey(o, io),
    address: o.addr.host,
    port: o.addr.port,
    db: null,
    bootnodes: o.bootnodes,
    netrestrict: o.netrestrict,
    refreshOnStart: false,
    refreshIntervalMs: 24 * 60 * 60 * 1000,
  });
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

// ---------------------------------------------------------------- keys

export async function cmdGenkey(o: Options, io: Io): Promise<number> {
  const key = generatePrivateKey();
  const file = o.args[0];
  if (file === undefined) {
    io.out(`${key.toString('hex')}\n`);
    return 0;
  }
  await writeKeyFile(file, key);
  io.out(`${nodeIdFromPrivateKey(key).toString('hex')}\n`);
  return 0;
}

export async function cmdKeyinfo(o: Options, io: Io): Promise<number> {
  const file = o.args[0];
  if (file !== undefined && (o.nodekey !== undefined || o.nodekeyhex !== undefined)) {
    throw usageError('keyinfo: give the key file as the argument or as --nodekey/--nodekeyhex, not both');
  }
  if (file === undefined && o.nodekey === undefined && o.nodekeyhex === undefined) {
    throw usageError('keyinfo: missing key file (usage: discv4 keyinfo <file>, or --nodekeyhex <hex>)');
  }
  const key = file !== undefined ? await readKeyFile(file, warner(o, io)) : await oneShotKey(o, io);
  const id = nodeIdFromPrivateKey(key);
  const unspecified = o.addr.host === '0.0.0.0' || o.addr.host === '::';
  const ip = ipToBytes(o.nat.kind === 'extip' ? o.nat.ip : unspecified ? '127.0.0.1' : o.addr.host);
  const port = o.addr.port;
  // The pairs a bootnode with this key and address puts in its record, at seq 1.
  const record = signRecord(key, 1n, ip.length === 4 ? { ip, udp: port, tcp: 0 } : { ip6: ip, udp6: port, tcp6: 0 });
  io.out(
    `${formatRows(
      [
        ['id', id.toString('hex')],
        ['enode', formatEnode(id, ip, 0, port)],
        ['enr', encodeEnrText(record)],
      ],
      '',
    )}\n`,
  );
  return 0;
}

// ---------------------------------------------------------------- ping, requestenr, resolve

/** Our request timeout for the next attempt: the usual one, clipped to the time left. */
function respTimeout(left: number): number {
  return Math.min(ONESHOT_RESP_TIMEOUT_MS, left);
}

export async function cmdPing(o: Options, io: Io): Promise<number> {
  const dl = new Deadline(o.timeoutMs);
  const node = await parseNodeArg(o.args[0]);
  const what = `ping ${where(node)}`;
  const a: Attempts = { count: 0 };
  const pong = await withTransport(o, io, respTimeout(o.timeoutMs), (t) =>
    retryUntil(what, dl, a, (left) => t.ping(node, { timeoutMs: respTimeout(left) })),
  );
  if (pong === undefined) throw new CliError(`${what}: no pong ${dl.text} (${attemptsText(a, 'ping')})`);
  const seen = where({ ip: pong.to.ip, udpPort: pong.to.udpPort });
  io.out(`pong from ${where(node)}: rtt ${pong.rttMs.toFixed(2)} ms, enr-seq ${pong.enrSeq ?? 'none'}, sees us at ${seen}\n`);
  return 0;
}

function printRecord(io: Io, record: Buffer): void {
  io.out(`${encodeEnrText(record)}\n${formatRows(describeRecord(record))}\n`);
}

export async function cmdRequestEnr(o: Options, io: Io): Promise<number> {
  const dl = new Deadline(o.timeoutMs);
  const node = await parseNodeArg(o.args[0]);
  const what = `requestenr ${where(node)}`;
  const a: Attempts = { count: 0 };
  // requestENR bonds first when needed (ping, then wait for the node's ping): each
  // step has the transport's timeout, and retryUntil abandons an attempt at the deadline.
  const record = await withTransport(o, io, respTimeout(o.timeoutMs), (t) => retryUntil(what, dl, a, () => t.requestENR(node)));
  if (record === undefined) throw new CliError(`${what}: no ENR response ${dl.text} (${attemptsText(a)})`);
  printRecord(io, record);
  return 0;
}

function seqOf(record: Buffer | undefined): bigint {
  if (record === undefined) return -1n;
  const r = parseRecord(record);
  return typeof r === 'string' ? -1n : r.seq;
}

/**
 * geth's Resolve: ask the node for its record; if it does not answer at
 * that endpoint, look its id up through the bootnodes and ask it where the
 * lookup found it. Retried until --timeout; prints the newest record seen
 * (the argument's, if it was an ENR with a higher seq than the answer).
 */
export async function cmdResolve(o: Options, io: Io): Promise<number> {
  const dl = new Deadline(o.timeoutMs);
  const node = await parseNodeArg(o.args[0]);
  const idText = node.id.toString('hex');
  const what = `resolve ${idText.slice(0, 16)}...`;
  const a: Attempts = { count: 0 };
  /** Where lookups found the node, when not at the argument's endpoint. */
  let foundAt: NodeArg | undefined;
  let lookups = 0;
  const record = await withDiscovery(o, io, (d) =>
    retryUntil(what, dl, a, async () => {
      try {
        return await d.transport.requestENR(node);
      } catch (err) {
        if (o.bootnodes.length === 0 || isUsageError(err)) throw err;
      }
      lookups++;
      const found = await d.lookup(node.id);
      const at = found.find((n) => n.id.equals(node.id)) ?? d.table.getNode(node.id);
      if (at === undefined) return undefined;
      if (!Buffer.from(at.ip).equals(node.ip) || at.udpPort !== node.udpPort) foundAt = { id: node.id, ip: Buffer.from(at.ip), udpPort: at.udpPort, tcpPort: at.tcpPort };
      return d.transport.requestENR(at);
    }),
  );
  if (record === undefined) {
    let how: string;
    if (o.bootnodes.length === 0) how = '; give --bootnodes to look it up';
    else if (foundAt !== undefined) how = `; a lookup found it at ${where(foundAt)}, where it did not answer either`;
    else how = lookups === 0 ? '' : `; ${lookups === 1 ? 'a lookup' : `${lookups} lookups`} via --bootnodes did not find it`;
    throw new CliError(`${what}: no ENR response from ${where(node)} ${dl.text} (${attemptsText(a)})${how}`);
  }
  printRecord(io, node.record !== undefined && seqOf(node.record) > seqOf(record) ? node.record : record);
  return 0;
}

// ---------------------------------------------------------------- lookup, crawl

function parseTarget(text: string): Buffer {
  const t = text.startsWith('0x') ? text.slice(2) : text;
  if (!/^[0-9a-fA-F]{128}$/.test(t)) throw usageError(`invalid lookup target ${JSON.stringify(text)}: expected a node id (128 hex characters)`);
  return Buffer.from(t, 'hex');
}

function needBootnodes(o: Options): void {
  if (o.bootnodes.length === 0) throw usageError(`${o.command} needs --bootnodes (or $DISCV4_BOOTNODES): the nodes to start from`);
}

export async function cmdLookup(o: Options, io: Io): Promise<number> {
  const dl = new Deadline(o.timeoutMs);
  needBootnodes(o);
  const target = o.args[0] !== undefined ? parseTarget(o.args[0]) : randomBytes(64);
  const a: Attempts = { count: 0 };
  let tableSize = 0;
  // A lookup that finds nothing (the bootnodes did not answer in time) is run again.
  const found = await withDiscovery(o, io, async (d) => {
    const r = await retryUntil('lookup', dl, a, async () => {
      const nodes = await d.lookup(target);
      return nodes.length > 0 ? nodes : undefined;
    });
    tableSize = d.table.size;
    return r;
  });
  if (found === undefined) {
    const why =
      tableSize === 0
        ? `no node answered ${dl.text} (${attemptsText(a, 'lookup')}); do the bootnodes answer? try discv4 ping <bootnode>`
        : `the lookup did not finish ${dl.text} (${tableSize} nodes answered; ${attemptsText(a, 'lookup')}); try a longer --timeout`;
    throw new CliError(`lookup: ${why}`);
  }
  for (const n of found) io.out(`${enodeOf(n)}\n`);
  return 0;
}

/**
 * Checks before a crawl that its result can be written to `out`: the
 * directory exists, is a directory and takes a new file, and `out` is not a
 * directory. Throws a CliError that says what to fix.
 */
async function checkOutPath(out: string): Promise<void> {
  const file = resolvePath(out);
  const dir = dirname(file);
  const fail = (what: string) => new CliError(`crawl: cannot write --out ${out}: ${what}`);
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw fail(`${dir} is not a directory (choose a file in an existing directory)`);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fail(`directory ${dir} does not exist (create it first, or choose another path)`);
    if (code === 'ENOTDIR') throw fail(`${dir} is not a directory: part of the path is a file (choose a file in an existing directory)`);
    throw fail(`cannot use directory ${dir}: ${code ?? (err as Error).message}`);
  }
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory() === true) throw fail('it is a directory (give a file name)');
  try {
    await access(dir, fsConstants.W_OK);
    // What the write at the end does: a temp file next to it, then a rename.
    const probe = await open(tempOf(out), 'w');
    await probe.close();
    await unlink(tempOf(out));
  } catch (err) {
    throw fail(`directory ${dir} does not take new files (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check its permissions, or choose another path)`);
  }
}

function tempOf(out: string): string {
  return `${out}.tmp-${process.pid}`;
}

export interface CrawlEntry {
  id: string;
  enode: string;
  /** The node's record, when it answered our ENR request. */
  enr?: string;
  seq?: number | string;
  /** It answered us during the crawl (a pong, a findnode answer or its record): alive. */
  alive: boolean;
  /** When it last answered us (ISO 8601); absent for a node only others reported. */
  lastSeen?: string;
  /** When a neighbors answer last listed it (ISO 8601); absent for a node no one listed (a bootnode). */
  lastReported?: string;
}

/**
 * Walks the network: random lookups from the bootnodes, and an ENR
 * request to each node found, until --max-nodes are found, --timeout
 * passes, or 5 lookups in a row find nothing new (the reachable network is
 * covered). Progress goes to stderr.
 */
export async function cmdCrawl(o: Options, io: Io): Promise<number> {
  needBootnodes(o);
  // A bad --out fails now, not after the whole crawl.
  if (o.out !== undefined) await checkOutPath(o.out);
  const started = Date.now();
  const entries = new Map<string, CrawlEntry & { asked?: boolean }>();
  let answered = 0;
  const showProgress = o.verbosity >= 3;
  const tty = process.stderr.isTTY === true;
  const progressText = () => `crawl: ${seconds(Date.now() - started)}, ${entries.size} nodes, ${answered} with ENR`;
  let lastLine = 0;
  const progress = setInterval(() => {
    if (!showProgress) return;
    if (tty) io.err(`\r\x1b[K${progressText()}`);
    else if (Date.now() - lastLine >= 5000) {
      lastLine = Date.now();
      io.err(`${progressText()}\n`);
    }
  }, 1000);
  progress.unref();

  await withDiscovery(o, io, async (d) => {
    let stop!: () => void;
    let timedOut = false;
    const stopped = new Promise<'stop'>((r) => (stop = () => r('stop')));
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, o.timeoutMs);
    const queue: NodeArg[] = [];
    let active = 0;
    let idle: (() => void) | undefined;
    const answeredNow = (e: CrawlEntry) => {
      e.alive = true;
      e.lastSeen = new Date().toISOString();
    };
    // A pong to our ping, or a findnode answer after bonding: it is alive now.
    d.on('nodeAlive', (n) => {
      const e = entries.get(Buffer.from(n.id).toString('hex'));
      if (e !== undefined) answeredNow(e);
    });
    const fetchEnr = async (n: NodeArg, e: CrawlEntry) => {
      try {
        const rec = await d.transport.requestENR(n);
        const parsed = parseRecord(rec);
        e.enr = encodeEnrText(rec);
        if (typeof parsed !== 'string') e.seq = parsed.seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(parsed.seq) : parsed.seq.toString();
        answeredNow(e);
        answered++;
      } catch {
        // no answer: only what others said about it
      }
    };
    const pump = () => {
      while (active < CRAWL_ENR_CONCURRENCY * o.parallel && queue.length > 0) {
        const n = queue.shift()!;
        const e = entries.get(n.id.toString('hex'))!;
        active++;
        void fetchEnr(n, e).finally(() => {
          active--;
          pump();
          if (active === 0 && queue.length === 0) idle?.();
        });
      }
    };
    /** A node to crawl: `reported` when a neighbors answer (a lookup) listed it. */
    const add = (n: LookupNode | NodeArg, reported: boolean) => {
      const id = n.id.toString('hex');
      let e = entries.get(id);
      if (e === undefined) {
        // --max-nodes is a cap on the rows written.
        if (entries.size >= o.maxNodes) return;
        e = { id, enode: enodeOf(n), alive: false };
        entries.set(id, e);
        queue.push({ id: n.id, ip: n.ip, udpPort: n.udpPort, tcpPort: n.tcpPort });
        pump();
      }
      if (reported) e.lastReported = new Date().toISOString();
    };
    // The bootnodes first: asking them for their record also bonds with them.
    for (const b of o.bootnodes) {
      const n = typeof b === 'string' ? await parseNodeArg(b).catch(() => undefined) : b;
      if (n !== undefined) add(n, false);
    }
    let quietRounds = 0;
    try {
      while (entries.size < o.maxNodes && quietRounds < CRAWL_QUIET_ROUNDS) {
        const before = entries.size;
        if (d.table.size === 0) {
          // lookup() seeds an empty table from the bootnodes (verified by ping) first.
          const r = await Promise.race([d.lookup(randomBytes(64)), stopped]);
          if (r === 'stop') break;
          for (const n of r) add(n, true);
          if (d.table.size === 0) await Promise.race([new Promise((w) => setTimeout(w, 1000)), stopped]);
        } else {
          // Every node the random lookups (--parallel at once) see, as it arrives.
          await Promise.all(
            Array.from({ length: o.parallel }, async () => {
              const it = d.newLookup(randomBytes(64))[Symbol.asyncIterator]();
              for (;;) {
                const r = await Promise.race([it.next(), stopped]);
                if (r === 'stop' || r.done === true || entries.size >= o.maxNodes) break;
                add(r.value, true);
              }
            }),
          );
        }
        // Table nodes answered our ping (they are in the table for it).
        for (const n of d.table.nodes()) add(n, false);
        if (timedOut) break;
        // Lookups that bring nothing new while no ENR answer is pending: the reachable network is covered.
        quietRounds = entries.size === before && active === 0 && queue.length === 0 ? quietRounds + 1 : 0;
      }
      // Let the ENR requests already asked finish, within the time left.
      if (!timedOut && (active > 0 || queue.length > 0)) await Promise.race([new Promise<void>((r) => (idle = r)), stopped]);
    } finally {
      clearTimeout(timer);
    }
  });
  clearInterval(progress);
  if (showProgress) io.err(`${tty ? '\r\x1b[K' : ''}${progressText()}: done\n`);

  const list: CrawlEntry[] = [...entries.values()]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(({ id, enode, enr, seq, alive, lastSeen, lastReported }) => ({
      id,
      enode,
      ...(enr !== undefined ? { enr } : {}),
      ...(seq !== undefined ? { seq } : {}),
      alive,
      ...(lastSeen !== undefined ? { lastSeen } : {}),
      ...(lastReported !== undefined ? { lastReported } : {}),
    }));
  const json = formatCrawl(list, o.format);
  if (o.out !== undefined) {
    const tmp = tempOf(o.out);
    try {
      await writeFile(tmp, json);
      await rename(tmp, o.out);
    } catch (err) {
      throw new CliError(`cannot write ${o.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else io.out(json);
  if (list.length === 0) throw new CliError('crawl: found no nodes (do the bootnodes answer? try discv4 ping <bootnode>)');
  return 0;
}


/**
 * The crawl result as text: our JSON list, CSV
 * (id,enode,enr,seq,alive,lastSeen,lastReported), or geth's nodes.json
 * (cmd/devp2p nodeset: records keyed by the node's hash, keccak256 of its
 * id; only nodes that answered with their record), which `devp2p dns sign`
 * and the DNS-list tools read.
 */
export function formatCrawl(list: readonly CrawlEntry[], format: 'json' | 'csv' | 'geth'): string {
  if (format === 'csv') {
    const rows = list.map((e) => [e.id, e.enode, e.enr, e.seq, e.alive, e.lastSeen, e.lastReported].map(csvCell).join(','));
    return ['id,enode,enr,seq,alive,lastSeen,lastReported', ...rows].join('\n') + '\n';
  }
  if (format === 'geth') {
    const set: Record<string, { seq: number | string; record: string; score: number; firstResponse: string; lastResponse: string; lastCheck: string }> = {};
    for (const e of list) {
      if (e.enr === undefined || e.lastSeen === undefined) continue;
      set[keccak256(Buffer.from(e.id, 'hex')).toString('hex')] = {
        seq: e.seq ?? 0,
        record: e.enr,
        score: 1,
        firstResponse: e.lastSeen,
        lastResponse: e.lastSeen,
        lastCheck: e.lastSeen,
      };
    }
    return `${JSON.stringify(set, null, 2)}\n`;
  }
  return `${JSON.stringify(list, null, 2)}\n`;
}

// ---------------------------------------------------------------- bans

/**
 * bans / ban / unban: edit the ban list in <datadir>/nodes. LMDB takes
 * several processes at once, so this works while the bootnode runs; it
 * re-reads the list every 5 s.
 */
export async function cmdBans(o: Options, io: Io): Promise<number> {
  const dir = join(o.datadir, 'nodes');
  try {
    if (!(await stat(dir)).isDirectory()) throw new CliError(`node DB at ${dir} is not a directory; pass the right --datadir`);
  } catch (err) {
    if (err instanceof CliError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`no node DB at ${dir} (start the bootnode with --datadir ${o.datadir} first, or pass the right --datadir)`);
    }
    // It may well exist: say what keeps us from it instead of "no node DB".
    throw new CliError(`cannot read node DB at ${dir}: ${osExplain(err, '--datadir')}`);
  }
  const db = await NodeDB.open(dir);
  try {
    const bans = new BanList(db);
    if (o.command === 'ban') {
      let b;
      try {
        b = await bans.ban(o.args[0], o.banForMs, o.banReason);
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw usageError(`ban: ${err.message}`);
        throw err;
      }
      io.out(`banned ${b.kind} ${b.target} ${Number.isFinite(b.untilMs) ? `until ${new Date(b.untilMs).toISOString()}` : 'until lifted'}\n`);
    } else if (o.command === 'unban') {
      let lifted: boolean;
      try {
        lifted = await bans.unban(o.args[0]);
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw usageError(`unban: ${err.message}`);
        throw err;
      }
      if (!lifted) throw new CliError(`unban: ${o.args[0]} is not banned`);
      io.out(`lifted the ban on ${o.args[0]}\n`);
    } else {
      const list = bans.list();
      if (list.length === 0) io.out('no bans\n');
      for (const b of list) {
        const until = Number.isFinite(b.untilMs) ? new Date(b.untilMs).toISOString() : 'until lifted';
        io.out(`${b.kind.padEnd(2)} ${b.target} ${until}${b.reason ? ` (${b.reason})` : ''}\n`);
      }
    }
  } finally {
    await db.close();
  }
  return 0;
}
