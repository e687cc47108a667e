/**
 * Command line: subcommands in the style of geth's `devp2p` tool, flags in
 * the style of geth's `bootnode` (-addr, -nodekey, -genkey, -nat, ...).
 *
 * Flags take one or two dashes and `--flag value` or `--flag=value`; a
 * repeated flag keeps its last value (Go's flag package does the same).
 * Settings of the service also come from environment variables
 * (DISCV4_ADDR ...), which flags override. A flag that a command does not
 * use is an error rather than silently ignored; an environment variable
 * that a command does not use is ignored (one environment serves a shell
 * and a service).
 */
import { resolve as resolvePath } from 'node:path';
import { isIP } from 'node:net';
import { DiscError } from '../errors';
import type { RateLimits } from '../transport/limits';
import { ForkId, NetworkName, parseForkIdArg } from '../node/forkid';
import { Netlist } from '../transport/netutil';
import { checkBootnode, NodeArg } from './enr-text';
import { CliError, usageError } from './errors';
import { NatSpec, parseNat } from './nat';
import { NetworkChoice, resolveNetwork } from './network';

export const COMMANDS = {
  bootnode: { usage: 'bootnode', args: [0, 0], summary: 'run a bootnode (the default command)' },
  genkey: { usage: 'genkey [file]', args: [0, 1], summary: 'generate a node key: write it to <file> (mode 0600) or print it' },
  keyinfo: { usage: 'keyinfo [file]', args: [0, 1], summary: 'print the id, enode URL and ENR of a key file (or --nodekeyhex)' },
  ping: { usage: 'ping <enode|enr>', args: [1, 1], summary: "ping a node; print the round trip time and the node's enr-seq" },
  requestenr: { usage: 'requestenr <enode|enr>', args: [1, 1], summary: "ask a node for its record (ENR); print it decoded" },
  resolve: { usage: 'resolve <enode|enr>', args: [1, 1], summary: "find a node's current record: ask it, else look its id up via --bootnodes" },
  lookup: { usage: 'lookup [target]', args: [0, 1], summary: 'find the nodes closest to a 128-hex-char id (default: random) via --bootnodes' },
  crawl: { usage: 'crawl', args: [0, 0], summary: 'walk the network from --bootnodes; write the nodes found as JSON' },
  bans: { usage: 'bans', args: [0, 0], summary: "list the bootnode's bans (IPs and node ids, with expiry) from --datadir" },
  ban: { usage: 'ban <ip|node-id>', args: [1, 1], summary: 'ban an IP or node id (--for, --reason); a running bootnode picks it up within 5 s' },
  unban: { usage: 'unban <ip|node-id>', args: [1, 1], summary: 'lift a ban; a running bootnode picks it up within 5 s' },
  help: { usage: 'help [command]', args: [0, 1], summary: 'show help for a command' },
} as const;

export type CommandName = keyof typeof COMMANDS;

const ONESHOT_NET: CommandName[] = ['ping', 'requestenr', 'resolve', 'lookup', 'crawl'];
const ALL = Object.keys(COMMANDS) as CommandName[];

interface FlagSpec {
  name: string;
  kind: 'string' | 'bool';
  /** Placeholder of the value in help. */
  arg?: string;
  help: string;
  commands: readonly CommandName[];
  /** Environment variable, and the commands that read it (default: all of `commands`). */
  env?: string;
  envCommands?: readonly CommandName[];
  /** Never echo the value in errors (it is a secret). */
  secret?: boolean;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'addr', kind: 'string', arg: '<ip:port>', env: 'DISCV4_ADDR', envCommands: ['bootnode'], commands: ['bootnode', 'keyinfo', ...ONESHOT_NET],
    help: 'UDP listen address; ":30303" means all interfaces (default: bootnode 0.0.0.0:30303, other commands 0.0.0.0:0)' },
  { name: 'nodekey', kind: 'string', arg: '<file>', env: 'DISCV4_NODEKEY', envCommands: ['bootnode'], commands: ['bootnode', 'keyinfo', ...ONESHOT_NET],
    help: 'private key file (64 hex chars, as geth\'s nodekey); default <datadir>/nodekey, created on first run (other commands: a throwaway key)' },
  { name: 'nodekeyhex', kind: 'string', arg: '<hex>', env: 'DISCV4_NODEKEYHEX', envCommands: ['bootnode'], secret: true, commands: ['bootnode', 'keyinfo', ...ONESHOT_NET],
    help: 'private key as hex (visible in the process list: prefer --nodekey)' },
  { name: 'genkey', kind: 'string', arg: '<file>', commands: ['bootnode'], help: 'generate a key into <file> (mode 0600) and exit' },
  { name: 'writeaddress', kind: 'bool', commands: ['bootnode'], help: 'print the node id (public key, hex) and exit' },
  { name: 'nat', kind: 'string', arg: '<mode>', env: 'DISCV4_NAT', envCommands: ['bootnode'], commands: ['bootnode', 'keyinfo'],
    help: 'none | extip:<IP> | upnp | pmp | pmp:<gateway> | any (default none)' },
  { name: 'netrestrict', kind: 'string', arg: '<cidrs>', env: 'DISCV4_NETRESTRICT', commands: ['bootnode', 'resolve', 'lookup', 'crawl'],
    help: 'talk only to these networks, e.g. 10.0.0.0/8,192.168.0.0/16' },
  { name: 'bootnodes', kind: 'string', arg: '<nodes>', env: 'DISCV4_BOOTNODES', commands: ['bootnode', 'resolve', 'lookup', 'crawl'],
    help: 'comma-separated enode URLs or ENRs to join through (default: none, a bootnode is a root)' },
  { name: 'datadir', kind: 'string', arg: '<dir>', env: 'DISCV4_DATADIR', commands: ['bootnode', 'bans', 'ban', 'unban'],
    help: 'directory for the node key and the node DB (default ./discv4-data)' },
  { name: 'verbosity', kind: 'string', arg: '<0-5>', env: 'DISCV4_VERBOSITY', commands: ALL,
    help: 'log level: 0 silent, 1 error, 2 warn, 3 info (default), 4 debug, 5 trace (also prints stack traces)' },
  { name: 'log-format', kind: 'string', arg: '<json|pretty>', env: 'DISCV4_LOG_FORMAT', commands: ALL,
    help: 'log format on stderr (default: pretty on a terminal, json otherwise)' },
  { name: 'metrics-addr', kind: 'string', arg: '<ip:port>', env: 'DISCV4_METRICS_ADDR', commands: ['bootnode'],
    help: 'serve Prometheus metrics at http://<ip:port>/metrics (default: off)' },
  { name: 'http-addr', kind: 'string', arg: '<ip:port>', env: 'DISCV4_HTTP_ADDR', commands: ['bootnode'],
    help: 'serve the read-only HTTP API and dashboard (/, /status, /nodes, /enode, /enr, /metrics); ":8080" means 127.0.0.1:8080 (default: off)' },
  { name: 'status-interval', kind: 'string', arg: '<duration>', env: 'DISCV4_STATUS_INTERVAL', commands: ['bootnode'],
    help: 'interval of the status log line, e.g. 60s, 5m; 0 turns it off (default 60s)' },
  { name: 'ratelimit', kind: 'string', arg: '<spec>', env: 'DISCV4_RATELIMIT', commands: ['bootnode'],
    help: 'ingress limits in datagrams/s, e.g. global=40000,ip=200,ping=50,findnode=20,enr=20 (unnamed keep their defaults); "off" disables them' },
  { name: 'network', kind: 'string', arg: '<name|file>', env: 'DISCV4_NETWORK', commands: ['bootnode'],
    help: 'serve this network: mainnet, sepolia, holesky, hoodi, or any network from its geth genesis.json (its fork id goes into our record; see --fork-filter)' },
  { name: 'genesis-hash', kind: 'string', arg: '<hex>', env: 'DISCV4_GENESIS_HASH', commands: ['bootnode'],
    help: 'with --network <file>: the genesis block hash (default: computed from the file; required for a bare chain config)' },
  { name: 'fork-id', kind: 'string', arg: '<hash:next>', env: 'DISCV4_FORK_ID', commands: ['bootnode'],
    help: 'a fixed fork id instead of --network\'s schedule, e.g. 0x07c9462e:0 (only exact matches count as ours)' },
  { name: 'fork-filter', kind: 'string', arg: '<mode>', env: 'DISCV4_FORK_FILTER', commands: ['bootnode'],
    help: 'with --network/--fork-id: strict (neighbors answers hold only our network), prefer (ours first; default), off' },
  { name: 'known-nodes', kind: 'string', arg: '<n>', env: 'DISCV4_KNOWN_NODES', commands: ['bootnode'],
    help: 'remember up to n nodes that proved themselves (loaded from the DB) to fill neighbors answers when the table has too few (default 100000; 0 off)' },
  { name: 'bucket-size', kind: 'string', arg: '<n>', env: 'DISCV4_BUCKET_SIZE', commands: ['bootnode'],
    help: 'nodes per table bucket (default 16, as geth; a bootnode can keep far more to answer from, up to 1024)' },
  { name: 'threads', kind: 'string', arg: '<n>', env: 'DISCV4_THREADS', commands: ['bootnode'],
    help: 'threads for packet crypto (verify, sign) on all cores; 1 keeps it on the main thread (default: the number of cores)' },
  { name: 'v5', kind: 'bool', env: 'DISCV4_V5', commands: ['bootnode'],
    help: 'also serve discovery v5 on the same UDP port (same key and record; ENRs in --bootnodes seed it too)' },
  { name: 'timeout', kind: 'string', arg: '<duration>', commands: ONESHOT_NET,
    help: 'retry until this long has passed, then fail (crawl: stop and write what it found) (default: ping, requestenr, resolve 5s; lookup, crawl 30s)' },
  { name: 'max-nodes', kind: 'string', arg: '<n>', commands: ['crawl'], help: 'stop the crawl after finding this many nodes (default 10000)' },
  { name: 'out', kind: 'string', arg: '<file>', commands: ['crawl'], help: 'write the crawl result to <file> instead of stdout' },
  { name: 'for', kind: 'string', arg: '<duration>', commands: ['ban'], help: 'how long the ban lasts, e.g. 30m, 24h (default: until lifted)' },
  { name: 'reason', kind: 'string', arg: '<text>', commands: ['ban'], help: 'why (shown by `bans`)' },
  { name: 'parallel', kind: 'string', arg: '<n>', commands: ['crawl'], help: 'random lookups run at once (default 1; ENR requests scale with it)' },
  { name: 'format', kind: 'string', arg: '<json|csv|geth>', commands: ['crawl'],
    help: 'crawl output: json (default), csv, or geth (nodes.json for `devp2p dns sign`: records keyed by node hash)' },
  { name: 'help', kind: 'bool', commands: ALL, help: 'show help and exit' },
  { name: 'version', kind: 'bool', commands: ALL, help: 'print the version and exit' },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));
const ALIASES: Record<string, string> = { h: 'help' };

export interface ParsedArgs {
  command: CommandName;
  /** Whether the command was named (help text differs for the default). */
  commandGiven: boolean;
  args: string[];
  /** Flag values by name, with where they came from (for error messages). */
  values: Map<string, { value: string | boolean; source: string }>;
}

/**
 * Splits argv into command, positional arguments and flags. Throws
 * CliError (exit 2) for unknown flags, missing values, unknown commands.
 * `env` supplies DISCV4_* defaults for the flags the command reads.
 */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  let command: CommandName | undefined;
  const args: string[] = [];
  const values = new Map<string, { value: string | boolean; source: string }>();
  let flagsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (!flagsDone && tok === '--') {
      flagsDone = true;
      continue;
    }
    if (!flagsDone && tok.length > 1 && tok.startsWith('-')) {
      const body = tok.startsWith('--') ? tok.slice(2) : tok.slice(1);
      const eq = body.indexOf('=');
      const rawName = eq < 0 ? body : body.slice(0, eq);
      const name = ALIASES[rawName] ?? rawName;
      const spec = BY_NAME.get(name);
      const shown = tok.startsWith('--') ? `--${rawName}` : `-${rawName}`;
      if (spec === undefined || rawName === '') throw usageError(`unknown flag ${shown} (see discv4 --help)`);
      if (spec.kind === 'bool') {
        let v = true;
        if (eq >= 0) {
          const t = body.slice(eq + 1).toLowerCase();
          if (t === 'true' || t === '1') v = true;
          else if (t === 'false' || t === '0') v = false;
          else throw usageError(`invalid value ${JSON.stringify(body.slice(eq + 1))} for ${shown}: expected true or false`);
        }
        values.set(name, { value: v, source: shown });
        continue;
      }
      let value: string;
      if (eq >= 0) value = body.slice(eq + 1);
      else {
        const next = argv[i + 1];
        // "--datadir --verbosity 3" is a forgotten value, not a directory named "--verbosity".
        if (next === undefined || (next.startsWith('-') && next.length > 1 && !/^-\d/.test(next))) {
          throw usageError(`flag ${shown} needs a value ${spec.arg ?? ''}`.trim());
        }
        value = next;
        i++;
      }
      values.set(name, { value, source: shown });
      continue;
    }
    if (command === undefined && args.length === 0) {
      if (!Object.prototype.hasOwnProperty.call(COMMANDS, tok)) {
        throw usageError(`unknown command ${JSON.stringify(tok)} (commands: ${Object.keys(COMMANDS).join(', ')})`);
      }
      command = tok as CommandName;
      continue;
    }
    args.push(tok);
  }
  const cmd = command ?? 'bootnode';
  for (const [name, v] of values) {
    const spec = BY_NAME.get(name)!;
    if (!spec.commands.includes(cmd)) throw usageError(`flag ${v.source} is not used by the ${cmd} command (see discv4 ${cmd} --help)`);
  }
  for (const spec of FLAGS) {
    if (spec.env === undefined || values.has(spec.name)) continue;
    if (!(spec.envCommands ?? spec.commands).includes(cmd)) continue;
    const v = env[spec.env];
    if (v !== undefined && v !== '') values.set(spec.name, { value: v, source: spec.env });
  }
  return { command: cmd, commandGiven: command !== undefined, args, values };
}

export interface HostPort {
  host: string;
  port: number;
}

export type LogFormat = 'json' | 'pretty';

export interface Options {
  command: CommandName;
  commandGiven: boolean;
  args: string[];
  help: boolean;
  version: boolean;
  addr: HostPort;
  nodekey?: string;
  nodekeyhex?: string;
  genkey?: string;
  writeaddress: boolean;
  nat: NatSpec;
  netrestrict?: Netlist;
  /** enode URLs (checked, host names resolved later) or nodes from ENRs. */
  bootnodes: Array<string | NodeArg>;
  datadir: string;
  verbosity: number;
  /** undefined: pretty on a TTY, json otherwise. */
  logFormat?: LogFormat;
  metricsAddr?: HostPort;
  /** The HTTP API and dashboard (undefined: off). */
  httpAddr?: HostPort;
  statusIntervalMs: number;
  timeoutMs: number;
  maxNodes: number;
  /** ban: duration in ms (Infinity: until lifted) and reason. */
  banForMs: number;
  banReason: string;
  /** crawl: concurrent lookups. */
  parallel: number;
  /** crawl: output format. */
  format: 'json' | 'csv' | 'geth';
  /** Fork-aware serving (undefined: off). */
  fork?: { network?: NetworkName; schedule?: NetworkChoice['schedule']; file?: string; id?: ForkId; filter: 'strict' | 'prefer' | 'off' };
  /** Known-good nodes kept beyond the table. */
  knownNodes: number;
  /** Table bucket size (undefined: 16). */
  bucketSize?: number;
  /** Crypto threads of the bootnode's socket (undefined: one per core). */
  threads?: number;
  /** Ingress rate limits (undefined: the defaults; false: off). */
  rateLimits?: RateLimits | false;
  /** Serve discv5 beside discv4 on the same UDP port. */
  v5: boolean;
  out?: string;
}

export const DEFAULT_DATADIR = 'discv4-data';
export const DEFAULT_PORT = 30303;
export const DEFAULT_STATUS_INTERVAL_MS = 60_000;
export const DEFAULT_MAX_NODES = 10_000;

/** "1.2.3.4:30303", ":30303" (all interfaces), "[::1]:30303". */
export function parseHostPort(text: string, source: string): HostPort {
  const bad = () => usageError(`invalid value ${JSON.stringify(text)} for ${source}: expected <ip>:<port>, e.g. 0.0.0.0:30303 or [::]:30303`);
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (m === null) throw bad();
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]);
  const port = Number(m[3]);
  if (port > 0xffff || isIP(host) === 0) throw bad();
  return { host, port };
}

/** "30s", "500ms", "5m", "1h"; a bare number is seconds. */
export function parseDuration(text: string, source: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) throw usageError(`invalid value ${JSON.stringify(text)} for ${source}: expected a duration such as 500ms, 30s, 5m`);
  const unit = m[2] ?? 's';
  const ms = Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  return Math.round(ms);
}

const RATE_KEYS: Record<string, keyof RateLimits> = {
  global: 'globalPerSec',
  ip: 'ipPerSec',
  ping: 'pingPerSec',
  findnode: 'findnodePerSec',
  enr: 'enrRequestPerSec',
  ips: 'maxTrackedIps',
};

/** "off", or key=value pairs over global, ip, ping, findnode, enr (per second; 0 = unlimited) and ips (tracked). */
function parseRateLimits(text: string, source: string): RateLimits | false {
  if (text === 'off') return false;
  const out: RateLimits = {};
  for (const part of text.split(',')) {
    const [k, v, extra] = part.split('=');
    const key = RATE_KEYS[k?.trim() ?? ''];
    if (key === undefined || v === undefined || extra !== undefined) {
      throw usageError(`invalid value "${text}" for ${source}: expected off or key=value pairs (keys: ${Object.keys(RATE_KEYS).join(', ')})`);
    }
    out[key] = parseIntIn(v.trim(), `${source} (${k})`, 0, 10_000_000);
  }
  return out;
}

function parseIntIn(text: string, source: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`invalid value ${JSON.stringify(text)} for ${source}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

/** A library error from checking a value becomes a usage error naming the flag. */
function asUsage<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DiscError && !(err instanceof CliError)) throw usageError(`invalid ${source}: ${err.message}`);
    throw err;
  }
}

/** Validates and types the parsed flags. Throws CliError (exit 2) naming the flag or variable. */
export function resolveOptions(p: ParsedArgs, cwd: string = process.cwd()): Options {
  const get = (name: string) => p.values.get(name);
  const str = (name: string) => {
    const v = get(name);
    return v === undefined ? undefined : String(v.value);
  };
  const [minArgs, maxArgs] = COMMANDS[p.command].args;
  const help = get('help')?.value === true;
  const version = get('version')?.value === true;
  if (!help && !version && (p.args.length < minArgs || p.args.length > maxArgs)) {
    const what = p.args.length < minArgs ? 'missing argument' : `unexpected argument ${JSON.stringify(p.args[maxArgs])}`;
    throw usageError(`${p.command}: ${what} (usage: discv4 ${COMMANDS[p.command].usage})`);
  }
  const oneshot = p.command !== 'bootnode' && p.command !== 'keyinfo';
  const addrV = get('addr');
  const addr = addrV !== undefined ? parseHostPort(String(addrV.value), addrV.source) : { host: '0.0.0.0', port: oneshot ? 0 : DEFAULT_PORT };

  const verbosityV = get('verbosity');
  const verbosity = verbosityV !== undefined ? parseIntIn(String(verbosityV.value), verbosityV.source, 0, 5) : 3;

  const fmtV = get('log-format');
  let logFormat: LogFormat | undefined;
  if (fmtV !== undefined) {
    const f = String(fmtV.value).toLowerCase();
    if (f !== 'json' && f !== 'pretty') throw usageError(`invalid value ${JSON.stringify(fmtV.value)} for ${fmtV.source}: expected json or pretty`);
    logFormat = f;
  }

  const natV = get('nat');
  const nat = natV !== undefined ? parseNat(String(natV.value), natV.source) : { kind: 'none' as const };

  const nrV = get('netrestrict');
  const netrestrict = nrV !== undefined ? asUsage(nrV.source, () => Netlist.parse(String(nrV.value))) : undefined;
  if (netrestrict !== undefined && netrestrict.cidrs.length === 0) throw usageError(`invalid ${nrV!.source}: no networks given`);

  const bnV = get('bootnodes');
  const bootnodes: Array<string | NodeArg> = [];
  if (bnV !== undefined) {
    for (const s of String(bnV.value).split(',').map((x) => x.trim()).filter((x) => x !== '')) {
      bootnodes.push(asUsage(bnV.source, () => checkBootnode(s)));
    }
  }

  const keyhexV = get('nodekeyhex');
  if (keyhexV !== undefined && get('nodekey') !== undefined) {
    throw usageError(`${get('nodekey')!.source} and ${keyhexV.source} are mutually exclusive`);
  }

  const metricsV = get('metrics-addr');
  const metricsAddr = metricsV !== undefined ? parseHostPort(String(metricsV.value), metricsV.source) : undefined;

  const httpV = get('http-addr');
  // Loopback unless an address is given: the API shows the node's view of the network to whoever reaches it.
  const httpAddr = httpV !== undefined ? parseHostPort(String(httpV.value).trim().startsWith(':') ? `127.0.0.1${String(httpV.value).trim()}` : String(httpV.value), httpV.source) : undefined;

  const siV = get('status-interval');
  const statusIntervalMs = siV !== undefined ? parseDuration(String(siV.value), siV.source) : DEFAULT_STATUS_INTERVAL_MS;

  const toV = get('timeout');
  const defaultTimeout = p.command === 'lookup' || p.command === 'crawl' ? 30_000 : 5_000;
  const timeoutMs = toV !== undefined ? parseDuration(String(toV.value), toV.source) : defaultTimeout;
  if (timeoutMs <= 0) throw usageError(`invalid value ${JSON.stringify(toV!.value)} for ${toV!.source}: must be more than 0`);

  const netV = get('network');
  const fidV = get('fork-id');
  const ffV = get('fork-filter');
  let fork: Options['fork'];
  if (netV !== undefined || fidV !== undefined) {
    const ghV = get('genesis-hash');
    const chosen: NetworkChoice = netV !== undefined ? resolveNetwork(String(netV.value), netV.source, ghV === undefined ? undefined : { value: String(ghV.value), source: ghV.source }, cwd) : {};
    let id: ForkId | undefined;
    if (fidV !== undefined) {
      try {
        id = parseForkIdArg(String(fidV.value));
      } catch (err) {
        throw usageError(`${(err as Error).message} (${fidV.source})`);
      }
    }
    const filter = ffV !== undefined ? String(ffV.value) : 'prefer';
    if (filter !== 'strict' && filter !== 'prefer' && filter !== 'off') {
      throw usageError(`invalid value ${JSON.stringify(filter)} for ${ffV!.source}: expected strict, prefer or off`);
    }
    fork = { ...chosen, id, filter };
  } else if (ffV !== undefined) {
    throw usageError(`${ffV.source} needs --network or --fork-id`);
  }
  if (get('genesis-hash') !== undefined && fork?.schedule === undefined) throw usageError(`${get('genesis-hash')!.source} needs --network <genesis file>`);
  const knV = get('known-nodes');
  const knownNodes = knV !== undefined ? parseIntIn(String(knV.value), knV.source, 0, 10_000_000) : 100_000;
  const bsV = get('bucket-size');
  const bucketSize = bsV !== undefined ? parseIntIn(String(bsV.value), bsV.source, 1, 1024) : undefined;
  const forV = get('for');
  const banForMs = forV !== undefined ? parseDuration(String(forV.value), forV.source) : Infinity;
  if (!(banForMs > 0)) throw usageError(`invalid value ${JSON.stringify(forV!.value)} for ${forV!.source}: must be more than 0`);
  const reasonV = get('reason');
  const banReason = reasonV !== undefined ? String(reasonV.value) : '';
  const parV = get('parallel');
  const parallel = parV !== undefined ? parseIntIn(String(parV.value), parV.source, 1, 64) : 1;
  const outFmtV = get('format');
  const format = outFmtV !== undefined ? String(outFmtV.value) : 'json';
  if (format !== 'json' && format !== 'csv' && format !== 'geth') {
    throw usageError(`invalid value ${JSON.stringify(format)} for ${outFmtV!.source}: expected json, csv or geth`);
  }
  const rlV = get('ratelimit');
  const rateLimits = rlV !== undefined ? parseRateLimits(String(rlV.value), rlV.source) : undefined;
  const thV = get('threads');
  const threads = thV !== undefined ? parseIntIn(String(thV.value), thV.source, 1, 256) : undefined;
  const v5V = get('v5');
  const v5Text = v5V === undefined ? 'false' : String(v5V.value).toLowerCase();
  if (!['true', '1', 'false', '0'].includes(v5Text)) throw usageError(`invalid value ${JSON.stringify(v5V!.value)} for ${v5V!.source}: expected true or false`);
  const v5 = v5Text === 'true' || v5Text === '1';
  const mnV = get('max-nodes');
  const maxNodes = mnV !== undefined ? parseIntIn(String(mnV.value), mnV.source, 1, 10_000_000) : DEFAULT_MAX_NODES;

  const datadir = resolvePath(cwd, str('datadir') ?? DEFAULT_DATADIR);
  return {
    command: p.command,
    commandGiven: p.commandGiven,
    args: p.args,
    help,
    version,
    addr,
    nodekey: str('nodekey'),
    nodekeyhex: str('nodekeyhex'),
    genkey: str('genkey'),
    writeaddress: get('writeaddress')?.value === true,
    nat,
    netrestrict,
    bootnodes,
    datadir,
    verbosity,
    logFormat,
    metricsAddr,
    httpAddr,
    statusIntervalMs,
    timeoutMs,
    maxNodes,
    knownNodes,
    fork,
    banForMs,
    banReason,
    bucketSize,
    parallel,
    format,
    threads,
    rateLimits,
    v5,
    out: str('out'),
  };
}

/** Help for one command, or the overview (`command` undefined). */
export function helpText(command: CommandName | undefined, version: string): string {
  const lines: string[] = [];
  const flagLines = (cmd: CommandName) => {
    const specs = FLAGS.filter((f) => f.commands.includes(cmd));
    const heads = specs.map((f) => `--${f.name}${f.arg ? ` ${f.arg}` : ''}`);
    const w = Math.max(...heads.map((h) => h.length));
    specs.forEach((f, i) => {
      const env = f.env !== undefined && (f.envCommands ?? f.commands).includes(cmd) ? ` [$${f.env}]` : '';
      lines.push(`  ${heads[i].padEnd(w)}  ${f.help}${env}`);
    });
  };
  if (command === undefined) {
    lines.push(`discv4 ${version}: Ethereum discovery v4 bootnode and tools`, '');
    lines.push('Usage: discv4 [command] [flags]', '', 'Commands:');
    const w = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
    for (const c of Object.values(COMMANDS)) lines.push(`  ${c.usage.padEnd(w)}  ${c.summary}`);
    lines.push('', 'Flags of the bootnode command (run "discv4 <command> --help" for the others):');
    flagLines('bootnode');
    lines.push('', 'Exit codes: 0 ok, 1 runtime error, 2 usage error. A flag overrides its $DISCV4_* variable.');
  } else {
    const c = COMMANDS[command];
    lines.push(`Usage: discv4 ${c.usage} [flags]`, '', `${c.summary[0].toUpperCase()}${c.summary.slice(1)}.`, '', 'Flags:');
    flagLines(command);
  }
  return `${lines.join('\n')}\n`;
}
