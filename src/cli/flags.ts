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
import * as DEFAULTS from '../defaults';
import { formatDuration } from '../defaults';
import type { ForkFilter } from '../node/fork-policy';
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

/** One flag: how the command line and the environment give it, and how its value is typed and defaulted. */
interface FlagSpec<T = unknown> {
  name: string;
  kind: 'string' | 'bool';
  /** Placeholder of the value in help. */
  arg?: string;
  /** Help text; a default it names is read from src/defaults.ts, the same value `fallback` returns. */
  help: string;
  commands: readonly CommandName[];
  /** Environment variable, and the commands that read it (default: all of `commands`). */
  env?: string;
  envCommands?: readonly CommandName[];
  /** Never echo the value in errors (it is a secret). */
  secret?: boolean;
  /** Types a given value (a bool flag's is "true"/"false"; its variable's is the raw text). Throws a usage error naming `source`. */
  parse: (text: string, source: string) => T;
  /** The value when neither the flag nor its variable is given. */
  fallback: (command: CommandName) => T;
}

type Spec<T> = Omit<FlagSpec<T>, 'name'>;
/** Ties a spec's parse and fallback to one value type. */
const flag = <T>(spec: Spec<T>): Spec<T> => spec;

const text = (t: string): string => t;
const none = (): undefined => undefined;
const isOneshot = (cmd: CommandName) => cmd !== 'bootnode' && cmd !== 'keyinfo';

function parseBool(t: string, source: string): boolean {
  const v = t.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw usageError(`invalid value ${JSON.stringify(t)} for ${source}: expected true or false`);
}
const boolFlag = (spec: Omit<Spec<boolean>, 'kind' | 'parse' | 'fallback'>): Spec<boolean> => ({ ...spec, kind: 'bool', parse: parseBool, fallback: () => false });

const intIn = (min: number, max: number) => (t: string, source: string) => parseIntIn(t, source, min, max);

function positiveDuration(t: string, source: string): number {
  const ms = parseDuration(t, source);
  if (!(ms > 0)) throw usageError(`invalid value ${JSON.stringify(t)} for ${source}: must be more than 0`);
  return ms;
}

/** One of `choices` (case-insensitive), as "expected a, b or c" otherwise. */
function oneOf<C extends string>(choices: readonly C[]) {
  return (t: string, source: string): C => {
    const v = t.toLowerCase() as C;
    if (choices.includes(v)) return v;
    const list = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
    throw usageError(`invalid value ${JSON.stringify(t)} for ${source}: expected ${list}`);
  };
}

/** ":8080" means 127.0.0.1:8080: the API shows the node's view of the network to whoever reaches it. */
function parseHttpAddr(t: string, source: string): HostPort {
  const v = t.trim();
  return parseHostPort(v.startsWith(':') ? `127.0.0.1${v}` : v, source);
}

function parseForkId(t: string, source: string): ForkId {
  try {
    return parseForkIdArg(t);
  } catch (err) {
    throw usageError(`${(err as Error).message} (${source})`);
  }
}

function parseNetrestrict(t: string, source: string): Netlist {
  const list = asUsage(source, () => Netlist.parse(t));
  if (list.cidrs.length === 0) throw usageError(`invalid ${source}: no networks given`);
  return list;
}

function parseBootnodes(t: string, source: string): Array<string | NodeArg> {
  return t
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map((x) => asUsage(source, () => checkBootnode(x)));
}

const SPECS = {
  addr: flag<HostPort>({ kind: 'string', arg: '<ip:port>', env: 'DISCV4_ADDR', envCommands: ['bootnode'], commands: ['bootnode', 'keyinfo', ...ONESHOT_NET],
    help: `UDP listen address; ":${DEFAULTS.PORT}" means all interfaces (default: bootnode 0.0.0.0:${DEFAULTS.PORT}, other commands 0.0.0.0:0)`,
    parse: parseHostPort, fallback: (cmd) => ({ host: '0.0.0.0', port: isOneshot(cmd) ? 0 : DEFAULTS.PORT }) }),
  nodekey: flag<string | undefined>({ kind: 'string', arg: '<file>', env: 'DISCV4_NODEKEY', envCommands: ['bootnode'], commands: ['bootnode', 'keyinfo', ...ONESHOT_NET],
    help: 'private key file (64 hex chars, as geth\'s nodekey); default <datadir>/nodekey, created on first run (other commands: a throwaway key)',
    parse: text, fallback: none }),
  nodekeyhex: flag<string | undefined>({ kind: 'string', arg: '<hex>', env: 'DISCV4_NODEKEYHEX', envCommands: ['bootnode'], secret: true, commands: ['bootnode', 'keyinfo', ...ONESHOT_NET],
    help: 'private key as hex (visible in the process list: prefer --nodekey)', parse: text, fallback: none }),
  genkey: flag<string | undefined>({ kind: 'string', arg: '<file>', commands: ['bootnode'], help: 'generate a key into <file> (mode 0600) and exit', parse: text, fallback: none }),
  writeaddress: boolFlag({ commands: ['bootnode'], help: 'print the node id (public key, hex) and exit' }),
  nat: flag<NatSpec>({ kind: 'string', arg: '<mode>', env: 'DISCV4_NAT', envCommands: ['bootnode'], commands: ['bootnode', 'keyinfo'],
    help: 'none | extip:<IP> | upnp | pmp | pmp:<gateway> | any (default none)', parse: parseNat, fallback: () => ({ kind: 'none' }) }),
  netrestrict: flag<Netlist | undefined>({ kind: 'string', arg: '<cidrs>', env: 'DISCV4_NETRESTRICT', commands: ['bootnode', 'resolve', 'lookup', 'crawl'],
    help: 'talk only to these networks, e.g. 10.0.0.0/8,192.168.0.0/16', parse: parseNetrestrict, fallback: none }),
  bootnodes: flag<Array<string | NodeArg>>({ kind: 'string', arg: '<nodes>', env: 'DISCV4_BOOTNODES', commands: ['bootnode', 'resolve', 'lookup', 'crawl'],
    help: 'comma-separated enode URLs or ENRs to join through (default: none, a bootnode is a root)', parse: parseBootnodes, fallback: () => [] }),
  datadir: flag<string>({ kind: 'string', arg: '<dir>', env: 'DISCV4_DATADIR', commands: ['bootnode', 'bans', 'ban', 'unban'],
    help: `directory for the node key and the node DB (default ./${DEFAULTS.DATADIR})`, parse: text, fallback: () => DEFAULTS.DATADIR }),
  verbosity: flag<number>({ kind: 'string', arg: '<0-5>', env: 'DISCV4_VERBOSITY', commands: ALL,
    help: `log level: 0 silent, 1 error, 2 warn, 3 info${DEFAULTS.VERBOSITY === 3 ? ' (default)' : ''}, 4 debug, 5 trace (also prints stack traces)`,
    parse: intIn(0, 5), fallback: () => DEFAULTS.VERBOSITY }),
  'log-format': flag<LogFormat | undefined>({ kind: 'string', arg: '<json|pretty>', env: 'DISCV4_LOG_FORMAT', commands: ALL,
    help: 'log format on stderr (default: pretty on a terminal, json otherwise)', parse: oneOf(['json', 'pretty'] as const), fallback: none }),
  'metrics-addr': flag<HostPort | undefined>({ kind: 'string', arg: '<ip:port>', env: 'DISCV4_METRICS_ADDR', commands: ['bootnode'],
    help: 'serve Prometheus metrics at http://<ip:port>/metrics (default: off)', parse: parseHostPort, fallback: none }),
  'http-addr': flag<HostPort | undefined>({ kind: 'string', arg: '<ip:port>', env: 'DISCV4_HTTP_ADDR', commands: ['bootnode'],
    help: 'serve the read-only HTTP API and dashboard (/, /status, /nodes, /enode, /enr, /metrics); ":8080" means 127.0.0.1:8080 (default: off)',
    parse: parseHttpAddr, fallback: none }),
  'status-interval': flag<number>({ kind: 'string', arg: '<duration>', env: 'DISCV4_STATUS_INTERVAL', commands: ['bootnode'],
    help: `interval of the status log line, e.g. 60s, 5m; 0 turns it off (default ${formatDuration(DEFAULTS.STATUS_INTERVAL_MS)})`,
    parse: parseDuration, fallback: () => DEFAULTS.STATUS_INTERVAL_MS }),
  ratelimit: flag<RateLimits | false | undefined>({ kind: 'string', arg: '<spec>', env: 'DISCV4_RATELIMIT', commands: ['bootnode'],
    help: `ingress limits in datagrams/s, e.g. global=${DEFAULTS.RATE_LIMITS.globalPerSec},ip=${DEFAULTS.RATE_LIMITS.ipPerSec},ping=${DEFAULTS.RATE_LIMITS.pingPerSec},findnode=${DEFAULTS.RATE_LIMITS.findnodePerSec},enr=${DEFAULTS.RATE_LIMITS.enrRequestPerSec} (the defaults; unnamed keep theirs); "off" disables them`,
    parse: parseRateLimits, fallback: none }),
  network: flag<string | undefined>({ kind: 'string', arg: '<name|file>', env: 'DISCV4_NETWORK', commands: ['bootnode'],
    help: 'serve this network: mainnet, sepolia, holesky, hoodi, or any network from its geth genesis.json (its fork id goes into our record; see --fork-filter)',
    parse: text, fallback: none }),
  'genesis-hash': flag<string | undefined>({ kind: 'string', arg: '<hex>', env: 'DISCV4_GENESIS_HASH', commands: ['bootnode'],
    help: 'with --network <file>: the genesis block hash (default: computed from the file; required for a bare chain config)',
    parse: text, fallback: none }),
  'fork-id': flag<ForkId | undefined>({ kind: 'string', arg: '<hash:next>', env: 'DISCV4_FORK_ID', commands: ['bootnode'],
    help: 'a fixed fork id instead of --network\'s schedule, e.g. 0x07c9462e:0 (only exact matches count as ours)', parse: parseForkId, fallback: none }),
  'fork-filter': flag<ForkFilter | undefined>({ kind: 'string', arg: '<mode>', env: 'DISCV4_FORK_FILTER', commands: ['bootnode'],
    help: 'with --network/--fork-id: strict (neighbors answers hold only our network), prefer (ours first; default), off',
    parse: oneOf(['strict', 'prefer', 'off'] as const), fallback: none }),
  'known-nodes': flag<number>({ kind: 'string', arg: '<n>', env: 'DISCV4_KNOWN_NODES', commands: ['bootnode'],
    help: `remember up to n nodes that proved themselves (loaded from the DB) to fill neighbors answers when the table has too few (default ${DEFAULTS.KNOWN_NODES}; 0 off)`,
    parse: intIn(0, 10_000_000), fallback: () => DEFAULTS.KNOWN_NODES }),
  'bucket-size': flag<number | undefined>({ kind: 'string', arg: '<n>', env: 'DISCV4_BUCKET_SIZE', commands: ['bootnode'],
    help: `nodes per table bucket (default ${DEFAULTS.BUCKET_SIZE}, as geth; a bootnode can keep far more to answer from, up to ${DEFAULTS.MAX_BUCKET_SIZE})`,
    parse: intIn(1, DEFAULTS.MAX_BUCKET_SIZE), fallback: none }),
  threads: flag<number | undefined>({ kind: 'string', arg: '<n>', env: 'DISCV4_THREADS', commands: ['bootnode'],
    help: 'threads for packet crypto (verify, sign) on all cores; 1 keeps it on the main thread (default: the number of cores)', parse: intIn(1, 256), fallback: none }),
  v5: boolFlag({ env: 'DISCV4_V5', commands: ['bootnode'], help: 'also serve discovery v5 on the same UDP port (same key and record; ENRs in --bootnodes seed it too)' }),
  timeout: flag<number>({ kind: 'string', arg: '<duration>', commands: ONESHOT_NET,
    help: `retry until this long has passed, then fail (crawl: stop and write what it found) (default: ping, requestenr, resolve ${formatDuration(DEFAULTS.ONESHOT_TIMEOUT_MS)}; lookup, crawl ${formatDuration(DEFAULTS.WALK_TIMEOUT_MS)})`,
    parse: positiveDuration, fallback: (cmd) => (cmd === 'lookup' || cmd === 'crawl' ? DEFAULTS.WALK_TIMEOUT_MS : DEFAULTS.ONESHOT_TIMEOUT_MS) }),
  'max-nodes': flag<number>({ kind: 'string', arg: '<n>', commands: ['crawl'], help: `stop the crawl after finding this many nodes (default ${DEFAULTS.CRAWL_MAX_NODES})`,
    parse: intIn(1, 10_000_000), fallback: () => DEFAULTS.CRAWL_MAX_NODES }),
  out: flag<string | undefined>({ kind: 'string', arg: '<file>', commands: ['crawl'], help: 'write the crawl result to <file> instead of stdout', parse: text, fallback: none }),
  for: flag<number>({ kind: 'string', arg: '<duration>', commands: ['ban'], help: 'how long the ban lasts, e.g. 30m, 24h (default: until lifted)',
    parse: positiveDuration, fallback: () => Infinity }),
  reason: flag<string>({ kind: 'string', arg: '<text>', commands: ['ban'], help: 'why (shown by `bans`)', parse: text, fallback: () => '' }),
  parallel: flag<number>({ kind: 'string', arg: '<n>', commands: ['crawl'], help: `random lookups run at once (default ${DEFAULTS.CRAWL_PARALLEL}; ENR requests scale with it)`,
    parse: intIn(1, 64), fallback: () => DEFAULTS.CRAWL_PARALLEL }),
  format: flag<'json' | 'csv' | 'geth'>({ kind: 'string', arg: '<json|csv|geth>', commands: ['crawl'],
    help: 'crawl output: json (default), csv, or geth (nodes.json for `devp2p dns sign`: records keyed by node hash)',
    parse: oneOf(['json', 'csv', 'geth'] as const), fallback: () => 'json' }),
  help: boolFlag({ commands: ALL, help: 'show help and exit' }),
  version: boolFlag({ commands: ALL, help: 'print the version and exit' }),
};

type FlagName = keyof typeof SPECS;
/** Each flag's typed value. */
type FlagValues = { [K in FlagName]: (typeof SPECS)[K] extends Spec<infer T> ? T : never };

/** Every flag, in help order. */
export const FLAGS: readonly FlagSpec[] = Object.entries(SPECS).map(([name, spec]) => ({ name, ...(spec as Spec<unknown>) }));

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
  const given = (name: FlagName) => p.values.get(name);
  const v = {} as Record<FlagName, unknown>;
  for (const name of Object.keys(SPECS) as FlagName[]) {
    const spec = SPECS[name] as Spec<unknown>;
    const g = given(name);
    v[name] = g === undefined ? spec.fallback(p.command) : spec.parse(String(g.value), g.source);
  }
  const f = v as FlagValues;
  const [minArgs, maxArgs] = COMMANDS[p.command].args;
  if (!f.help && !f.version && (p.args.length < minArgs || p.args.length > maxArgs)) {
    const what = p.args.length < minArgs ? 'missing argument' : `unexpected argument ${JSON.stringify(p.args[maxArgs])}`;
    throw usageError(`${p.command}: ${what} (usage: discv4 ${COMMANDS[p.command].usage})`);
  }
  if (given('nodekeyhex') !== undefined && given('nodekey') !== undefined) {
    throw usageError(`${given('nodekey')!.source} and ${given('nodekeyhex')!.source} are mutually exclusive`);
  }
  let fork: Options['fork'];
  if (f.network !== undefined || f['fork-id'] !== undefined) {
    const gh = given('genesis-hash');
    const genesisHash = f['genesis-hash'] === undefined ? undefined : { value: f['genesis-hash'], source: gh!.source };
    const chosen: NetworkChoice = f.network !== undefined ? resolveNetwork(f.network, given('network')!.source, genesisHash, cwd) : {};
    fork = { ...chosen, id: f['fork-id'], filter: f['fork-filter'] ?? 'prefer' };
  } else if (f['fork-filter'] !== undefined) {
    throw usageError(`${given('fork-filter')!.source} needs --network or --fork-id`);
  }
  if (f['genesis-hash'] !== undefined && fork?.schedule === undefined) throw usageError(`${given('genesis-hash')!.source} needs --network <genesis file>`);
  return {
    command: p.command,
    commandGiven: p.commandGiven,
    args: p.args,
    help: f.help,
    version: f.version,
    addr: f.addr,
    nodekey: f.nodekey,
    nodekeyhex: f.nodekeyhex,
    genkey: f.genkey,
    writeaddress: f.writeaddress,
    nat: f.nat,
    netrestrict: f.netrestrict,
    bootnodes: f.bootnodes,
    datadir: resolvePath(cwd, f.datadir),
    verbosity: f.verbosity,
    logFormat: f['log-format'],
    metricsAddr: f['metrics-addr'],
    httpAddr: f['http-addr'],
    statusIntervalMs: f['status-interval'],
    timeoutMs: f.timeout,
    maxNodes: f['max-nodes'],
    knownNodes: f['known-nodes'],
    fork,
    banForMs: f.for,
    banReason: f.reason,
    bucketSize: f['bucket-size'],
    parallel: f.parallel,
    format: f.format,
    threads: f.threads,
    rateLimits: f.ratelimit,
    v5: f.v5,
    out: f.out,
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
