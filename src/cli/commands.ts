/**
 * The one-shot commands, as geth's `devp2p` tool: genkey, keyinfo, ping,
 * requestenr, resolve, lookup, crawl. The network ones bind an ephemeral
 * UDP port (or --addr) with a throwaway key (or --nodekey) and an
 * in-memory node DB, do their job within --timeout, and close.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { generatePrivateKey, keccak256, nodeIdFromPrivateKey } from '../crypto';
import { parseRecord, signRecord } from '../enr/record';
import { InvalidArgumentError, TimeoutError } from '../errors';
import { LookupNode } from '../lookup/lookup';
import { Discovery } from '../node/discovery';
import { formatEnode } from '../node/enode';
import { listen } from '../transport/listen';
import { Transport } from '../transport/transport';
import { ipToBytes, ipToString } from '../wire/ip';
import type { Io } from './bootnode';
import { describeRecord, encodeEnrText, enodeOf, formatRows, NodeArg, parseNodeArg } from './enr-text';
import { CliError, usageError } from './errors';
import { BanList } from '../node/bans';
import { NodeDB } from '../db';
import { Options } from './flags';
import { parseKeyHex, readKeyFile, writeKeyFile } from './keyfile';

/** Per-request reply timeout of the one-shot commands: geth's 500 ms is tight across continents. */
const ONESHOT_RESP_TIMEOUT_MS = 1_000;
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
  if (o.nodekey !== undefined) return readKeyFile(o.nodekey, warner(o, io));
  return generatePrivateKey();
}

function where(n: { ip: Uint8Array; udpPort: number }): string {
  const ip = ipToString(n.ip) ?? '?';
  return n.ip.length === 16 ? `[${ip}]:${n.udpPort}` : `${ip}:${n.udpPort}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Retries `fn` on TimeoutError until `timeoutMs` has passed; other errors end it at once. */
async function withRetries<T>(what: string, timeoutMs: number, respTimeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw new CliError(`${what}: ${(err as Error).message}`);
      if (Date.now() - started + respTimeoutMs > timeoutMs) {
        throw new CliError(`${what}: no answer (${attempt} attempt${attempt > 1 ? 's' : ''} in ${seconds(Date.now() - started)})`);
      }
    }
  }
}

/** Rejects with `what` timed out when `p` takes longer than ms. */
function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CliError(`${what}: no result within ${seconds(ms)}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
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

export async function cmdPing(o: Options, io: Io): Promise<number> {
  const node = await parseNodeArg(o.args[0]);
  const resp = Math.min(ONESHOT_RESP_TIMEOUT_MS, o.timeoutMs);
  const pong = await withTransport(o, io, resp, (t) => withRetries(`ping ${where(node)}`, o.timeoutMs, resp, () => t.ping(node)));
  const seen = where({ ip: pong.to.ip, udpPort: pong.to.udpPort });
  io.out(`pong from ${where(node)}: rtt ${pong.rttMs.toFixed(2)} ms, enr-seq ${pong.enrSeq ?? 'none'}, sees us at ${seen}\n`);
  return 0;
}

function printRecord(io: Io, record: Buffer): void {
  io.out(`${encodeEnrText(record)}\n${formatRows(describeRecord(record))}\n`);
}

export async function cmdRequestEnr(o: Options, io: Io): Promise<number> {
  const node = await parseNodeArg(o.args[0]);
  const resp = Math.min(ONESHOT_RESP_TIMEOUT_MS, o.timeoutMs);
  const record = await withTransport(o, io, resp, (t) => withRetries(`requestenr ${where(node)}`, o.timeoutMs, resp, () => t.requestENR(node)));
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
 * lookup found it. Prints the newest record seen (the argument's, if it
 * was an ENR with a higher seq).
 */
export async function cmdResolve(o: Options, io: Io): Promise<number> {
  const node = await parseNodeArg(o.args[0]);
  const idText = node.id.toString('hex');
  const record = await withDiscovery(o, io, (d) =>
    deadline(
      (async () => {
        try {
          return await d.transport.requestENR(node);
        } catch {
          if (o.bootnodes.length === 0) return undefined;
        }
        const found = await d.lookup(node.id);
        const at = found.find((n) => n.id.equals(node.id)) ?? d.table.getNode(node.id);
        if (at === undefined) return undefined;
        return d.transport.requestENR(at).catch(() => undefined);
      })(),
      o.timeoutMs,
      'resolve',
    ),
  );
  if (record === undefined && node.record === undefined) {
    const how = o.bootnodes.length === 0 ? ' (give --bootnodes to look it up)' : ' nor found by a lookup';
    throw new CliError(`resolve: node ${idText.slice(0, 16)}... did not answer at ${where(node)}${how}`);
  }
  printRecord(io, seqOf(record) >= seqOf(node.record) ? record! : node.record!);
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
  needBootnodes(o);
  const target = o.args[0] !== undefined ? parseTarget(o.args[0]) : randomBytes(64);
  const found = await withDiscovery(o, io, (d) => deadline(d.lookup(target), o.timeoutMs, 'lookup'));
  if (found.length === 0) throw new CliError('lookup: found no nodes (do the bootnodes answer? try discv4 ping <bootnode>)');
  for (const n of found) io.out(`${enodeOf(n)}\n`);
  return 0;
}

export interface CrawlEntry {
  id: string;
  enode: string;
  /** The node's record, when it answered our ENR request. */
  enr?: string;
  seq?: number | string;
  /** When the node last answered us, else when a neighbor last reported it (ISO 8601). */
  lastSeen: string;
}

/**
 * Walks the network: random lookups from the bootnodes, and an ENR
 * request to each node found, until --max-nodes are found, --timeout
 * passes, or 5 lookups in a row find nothing new (the reachable network is
 * covered). Progress goes to stderr.
 */
export async function cmdCrawl(o: Options, io: Io): Promise<number> {
  needBootnodes(o);
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
    const fetchEnr = async (n: NodeArg, e: CrawlEntry) => {
      try {
        const rec = await d.transport.requestENR(n);
        const parsed = parseRecord(rec);
        e.enr = encodeEnrText(rec);
        if (typeof parsed !== 'string') e.seq = parsed.seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(parsed.seq) : parsed.seq.toString();
        e.lastSeen = new Date().toISOString();
        answered++;
      } catch {
        // no answer: the entry keeps what neighbors said
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
    const add = (n: LookupNode | NodeArg) => {
      const id = n.id.toString('hex');
      const e = entries.get(id);
      if (e !== undefined) {
        if (e.enr === undefined) e.lastSeen = new Date().toISOString();
        return;
      }
      entries.set(id, { id, enode: enodeOf(n), lastSeen: new Date().toISOString() });
      queue.push({ id: n.id, ip: n.ip, udpPort: n.udpPort, tcpPort: n.tcpPort });
      pump();
    };
    // The bootnodes first: asking them for their record also bonds with them.
    for (const b of o.bootnodes) {
      const n = typeof b === 'string' ? await parseNodeArg(b).catch(() => undefined) : b;
      if (n !== undefined) add(n);
    }
    let quietRounds = 0;
    try {
      while (entries.size < o.maxNodes && quietRounds < CRAWL_QUIET_ROUNDS) {
        const before = entries.size;
        if (d.table.size === 0) {
          // lookup() seeds an empty table from the bootnodes (verified by ping) first.
          const r = await Promise.race([d.lookup(randomBytes(64)), stopped]);
          if (r === 'stop') break;
          for (const n of r) add(n);
          if (d.table.size === 0) await Promise.race([new Promise((w) => setTimeout(w, 1000)), stopped]);
        } else {
          // Every node the random lookups (--parallel at once) see, as it arrives.
          await Promise.all(
            Array.from({ length: o.parallel }, async () => {
              const it = d.newLookup(randomBytes(64))[Symbol.asyncIterator]();
              for (;;) {
                const r = await Promise.race([it.next(), stopped]);
                if (r === 'stop' || r.done === true || entries.size >= o.maxNodes) break;
                add(r.value);
              }
            }),
          );
        }
        for (const n of d.table.nodes()) if (entries.size < o.maxNodes) add(n);
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
    .map(({ id, enode, enr, seq, lastSeen }) => ({ id, enode, ...(enr !== undefined ? { enr } : {}), ...(seq !== undefined ? { seq } : {}), lastSeen }));
  const json = formatCrawl(list, o.format);
  if (o.out !== undefined) {
    const tmp = `${o.out}.tmp-${process.pid}`;
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
 * The crawl result as text: our JSON list, CSV (id,enode,enr,seq,lastSeen),
 * or geth's nodes.json (cmd/devp2p nodeset: records keyed by the node's
 * hash, keccak256 of its id; only nodes that gave their record), which
 * `devp2p dns sign` and the DNS-list tools read.
 */
export function formatCrawl(list: readonly CrawlEntry[], format: 'json' | 'csv' | 'geth'): string {
  if (format === 'csv') {
    const cell = (v: string | number | undefined) => (v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
    return ['id,enode,enr,seq,lastSeen', ...list.map((e) => [e.id, e.enode, e.enr, e.seq, e.lastSeen].map(cell).join(','))].join('\n') + '\n';
  }
  if (format === 'geth') {
    const set: Record<string, { seq: number | string; record: string; score: number; firstResponse: string; lastResponse: string; lastCheck: string }> = {};
    for (const e of list) {
      if (e.enr === undefined) continue;
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
  if (!existsSync(dir)) throw new CliError(`no node DB at ${dir} (start the bootnode with --datadir ${o.datadir} first, or pass the right --datadir)`);
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
