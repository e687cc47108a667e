/**
 * The CLI's parts in process: flags, node arguments, key files, the log
 * rate limiter, metric names.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey, nodeIdFromPrivateKey } from '../../src/crypto';
import { signRecord } from '../../src/enr/record';
import { Discovery } from '../../src/node/discovery';
import { listen } from '../../src/transport/listen';
import { decodeEnrText, describeRecord, EnrTextError, encodeEnrText, nodeFromEnr, parseNodeArg } from '../../src/cli/enr-text';
import { CliError, EXIT_FAILURE, EXIT_USAGE, KeyFileError } from '../../src/cli/errors';
import { parseArgs, parseDuration, parseHostPort, resolveOptions } from '../../src/cli/flags';
import { parseKeyHex, readKeyFile, writeKeyFile, loadOrCreateKey } from '../../src/cli/keyfile';
import { createLogger, LogLimiter, prettyLine } from '../../src/cli/log';
import { exitCodeOf } from '../../src/cli/main';
import { createMetrics, metricsFailure, serveMetrics } from '../../src/cli/metrics';
import { Registry } from 'prom-client';
import { bindFailure, checkPortsFree } from '../../src/cli/bootnode';
import { osExplain, osProblem } from '../../src/errors';
import { BindError } from '../../src/transport/socket';
import { bindNative } from '../../src/transport/native-socket';
import { DROP_REASONS } from '../../src/transport/transport';
import { parseNat } from '../../src/cli/nat';
import { resultsDir } from '../../bench/results-dir';
import { REPO_ROOT } from '../helpers/vectors';
import { tempDir } from './helpers';

/** Runs fn and returns the CliError it throws (fails if it throws nothing or something else). */
function cliError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CliError, `expected a CliError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a CliError');
}

const opts = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveOptions(parseArgs(argv, env), '/work');

describe('cli flags', () => {
  it('reads -flag value, --flag value and --flag=value; the last repeat wins', () => {
    assert.deepEqual(opts(['-addr', '1.2.3.4:5']).addr, { host: '1.2.3.4', port: 5 });
    assert.deepEqual(opts(['--addr', ':30301']).addr, { host: '0.0.0.0', port: 30301 });
    assert.deepEqual(opts(['--addr=[::1]:7', '--addr', '[::]:8']).addr, { host: '::', port: 8 });
    assert.equal(opts(['--verbosity=5']).verbosity, 5);
    assert.equal(opts(['--writeaddress']).writeaddress, true);
    assert.equal(opts(['--writeaddress=false']).writeaddress, false);
  });

  it('defaults: bootnode on 0.0.0.0:30303 with ./discv4-data; one-shot commands on an ephemeral port', () => {
    const b = opts([]);
    assert.equal(b.command, 'bootnode');
    assert.deepEqual(b.addr, { host: '0.0.0.0', port: 30303 });
    assert.equal(b.datadir, path.resolve('/work', 'discv4-data'));
    assert.equal(b.verbosity, 3);
    assert.equal(b.statusIntervalMs, 60_000);
    assert.deepEqual(b.nat, { kind: 'none' });
    const p = opts(['ping', 'enode://x']);
    assert.deepEqual(p.addr, { host: '0.0.0.0', port: 0 });
    assert.equal(p.timeoutMs, 5_000);
    assert.equal(opts(['crawl']).timeoutMs, 30_000);
  });

  it('takes DISCV4_* variables for the bootnode, flags overriding them; one-shot commands ignore service settings', () => {
    const env = { DISCV4_ADDR: '127.0.0.1:9', DISCV4_DATADIR: 'x', DISCV4_VERBOSITY: '4', DISCV4_BOOTNODES: '' };
    const o = opts([], env);
    assert.deepEqual(o.addr, { host: '127.0.0.1', port: 9 });
    assert.equal(o.datadir, path.resolve('/work', 'x'));
    assert.equal(o.verbosity, 4);
    assert.equal(opts(['--verbosity', '1'], env).verbosity, 1);
    // The service's port is not what `discv4 ping` run from the same shell should bind.
    assert.equal(opts(['ping', 'enode://x'], env).addr.port, 0);
    const bad = cliError(() => opts([], { DISCV4_VERBOSITY: 'loud' }));
    assert.equal(bad.message, 'invalid value "loud" for DISCV4_VERBOSITY: expected an integer from 0 to 5');
  });

  it('rejects unknown flags, missing values, flags of other commands, bad argument counts (exit 2)', () => {
    const cases: Array<[string[], string]> = [
      [['--nope'], 'unknown flag --nope (see discv4 --help)'],
      [['-x=1'], 'unknown flag -x (see discv4 --help)'],
      [['--addr'], 'flag --addr needs a value <ip:port>'],
      [['--datadir', '--verbosity', '3'], 'flag --datadir needs a value <dir>'],
      [['ping', '--datadir', 'd', 'enode://x'], 'flag --datadir is not used by the ping command (see discv4 ping --help)'],
      [['ping'], 'ping: missing argument (usage: discv4 ping <enode|enr>)'],
      [['crawl', 'extra'], 'crawl: unexpected argument "extra" (usage: discv4 crawl)'],
      [['--writeaddress=maybe'], 'invalid value "maybe" for --writeaddress: expected true or false'],
      [['--nodekey', 'k', '--nodekeyhex', 'ab'], '--nodekey and --nodekeyhex are mutually exclusive'],
      [['--status-interval', 'soon'], 'invalid value "soon" for --status-interval: expected a duration such as 500ms, 30s, 5m'],
      [['crawl', '--max-nodes', '0'], 'invalid value "0" for --max-nodes: expected an integer from 1 to 10000000'],
      [['--bootnodes', 'enode://abc@1.2.3.4:1'], 'invalid --bootnodes: invalid enode URL "enode://abc@1.2.3.4:1": expected enode://<128 hex chars>@<ip>:<port>[?discport=<port>]'],
    ];
    for (const [argv, message] of cases) {
      const err = cliError(() => opts(argv));
      assert.equal(err.message, message, argv.join(' '));
      assert.equal(err.exitCode, EXIT_USAGE);
    }
  });

  it('parses addresses and durations', () => {
    assert.deepEqual(parseHostPort('10.0.0.1:65535', 'x'), { host: '10.0.0.1', port: 65535 });
    for (const bad of ['10.0.0.1', '10.0.0.1:65536', 'host:1', '[::1]', '1.2.3.4:-1', '::1:5']) {
      assert.throws(() => parseHostPort(bad, '--addr'), CliError, bad);
    }
    assert.equal(parseDuration('250ms', 'x'), 250);
    assert.equal(parseDuration('1.5', 'x'), 1500);
    assert.equal(parseDuration('2m', 'x'), 120_000);
    assert.equal(parseDuration('1h', 'x'), 3_600_000);
    assert.throws(() => parseDuration('-1s', 'x'), CliError);
  });

  it('accepts geth --nat forms, implements none and extip', () => {
    assert.deepEqual(parseNat('none'), { kind: 'none' });
    assert.deepEqual(parseNat('extip:203.0.113.7'), { kind: 'extip', ip: '203.0.113.7' });
    assert.deepEqual(parseNat('ExtIP:2001:db8::1'), { kind: 'extip', ip: '2001:db8::1' });
    assert.deepEqual(parseNat('upnp'), { kind: 'upnp' });
    assert.deepEqual(parseNat('pmp'), { kind: 'pmp' });
    assert.deepEqual(parseNat('pmp:192.168.1.1'), { kind: 'pmp', gateway: '192.168.1.1' });
    assert.deepEqual(parseNat('any'), { kind: 'any' });
    for (const bad of ['extip', 'extip:', 'extip:host', 'pmp:gw', 'stun', 'none:1']) assert.throws(() => parseNat(bad), CliError, bad);
  });
});

describe('cli node arguments (enode URLs, ENR text)', () => {
  const key = generatePrivateKey();
  const id = nodeIdFromPrivateKey(key);
  const record = signRecord(key, 7n, { ip: Buffer.from([10, 1, 2, 3]), udp: 30305, tcp: 30306 });

  it('round-trips a record through enr: text (base64url, no padding)', () => {
    const text = encodeEnrText(record);
    assert.match(text, /^enr:[A-Za-z0-9_-]+$/);
    assert.ok(decodeEnrText(text).equals(record));
    assert.ok(decodeEnrText(`  ${text}==\n`).equals(record), 'padding and whitespace are tolerated');
  });

  it('reads an ENR argument as the node it describes', () => {
    const n = nodeFromEnr(encodeEnrText(record));
    assert.ok(n.id.equals(id));
    assert.deepEqual([...n.ip], [10, 1, 2, 3]);
    assert.equal(n.udpPort, 30305);
    assert.equal(n.tcpPort, 30306);
    assert.equal(n.seq, 7n);
    const rows = new Map(describeRecord(record));
    assert.equal(rows.get('id'), id.toString('hex'));
    assert.equal(rows.get('seq'), '7');
    assert.equal(rows.get('ip'), '10.1.2.3');
    assert.equal(rows.get('enode'), `enode://${id.toString('hex')}@10.1.2.3:30306?discport=30305`);
  });

  it('rejects ENRs with a bad prefix, alphabet or signature, or without an endpoint', () => {
    const tampered = Buffer.from(record);
    tampered[tampered.length - 1] ^= 1;
    const noEndpoint = signRecord(key, 1n, {});
    const cases: Array<[string, RegExp]> = [
      ['enr-abc', /expected enr:<base64url>/],
      ['enr:ab+c', /not base64url/],
      ['enr:', /not base64url/],
      [encodeEnrText(tampered), /invalid signature/],
      [encodeEnrText(noEndpoint), /has no IP and UDP port/],
    ];
    for (const [text, re] of cases) assert.throws(() => nodeFromEnr(text), (e: unknown) => e instanceof EnrTextError && re.test(e.message), text);
  });

  it('parses enode URLs and refuses anything else as a node argument', async () => {
    const n = await parseNodeArg(`enode://${id.toString('hex')}@127.0.0.1:30303?discport=30301`);
    assert.equal(n.udpPort, 30301);
    assert.equal(n.tcpPort, 30303);
    await assert.rejects(parseNodeArg('127.0.0.1:30303'), /expected an enode URL .* or an ENR/);
    const err = await parseNodeArg('bogus').catch((e: unknown) => e);
    assert.equal(exitCodeOf(err), EXIT_USAGE);
  });
});

describe('cli key files', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir('discv4-key-')));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes hex + newline with mode 0600 in a 0700 directory, and never overwrites', async () => {
    const file = path.join(dir, 'sub', 'nodekey');
    const key = generatePrivateKey();
    await writeKeyFile(file, key);
    assert.equal(fs.readFileSync(file, 'utf8'), `${key.toString('hex')}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    await assert.rejects(writeKeyFile(file, generatePrivateKey()), /already exists; not overwriting/);
    assert.equal(fs.readFileSync(file, 'utf8'), `${key.toString('hex')}\n`);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['nodekey'], 'no temp file left behind');
  });

  it("reads geth's format (0x prefix, surrounding whitespace) and warns only about open permissions", async () => {
    const key = generatePrivateKey();
    const file = path.join(dir, 'k');
    fs.writeFileSync(file, `  0x${key.toString('hex').toUpperCase()}\r\n`, { mode: 0o600 });
    const warnings: string[] = [];
    const warn = (m: string) => void warnings.push(m);
    assert.ok((await readKeyFile(file, warn)).equals(key));
    assert.deepEqual(warnings, []);
    fs.chmodSync(file, 0o640);
    await readKeyFile(file, warn);
    assert.deepEqual(warnings, [`key file ${file} is accessible by other users (mode 0640); run: chmod 600 ${file}`]);
  });

  it('creates the key on first use and returns the same one afterwards', async () => {
    const file = path.join(dir, 'data', 'nodekey');
    const a = await loadOrCreateKey(file, () => undefined);
    const b = await loadOrCreateKey(file, () => undefined);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.ok(a.key.equals(b.key));
  });

  it('names the problem without echoing the secret', () => {
    const secret = 'f'.repeat(63);
    assert.throws(() => parseKeyHex(secret, 'key file x'), (e: unknown) => e instanceof KeyFileError && e.message === 'key file x does not hold a private key: expected 64 hex characters, found 63 hex characters');
    assert.throws(() => parseKeyHex('z'.repeat(64), 'key file x'), /found non-hex characters$/);
    assert.throws(() => parseKeyHex('f'.repeat(64), 'key file x'), /invalid secp256k1 private key/); // above the curve order
    assert.equal(exitCodeOf(new KeyFileError('x')), EXIT_FAILURE);
  });
});

describe('cli logs', () => {
  const capture = (verbosity = 3) => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ verbosity, format: 'json', write: (s) => lines.push(JSON.parse(s) as Record<string, unknown>) });
    return { log, lines };
  };

  it('maps verbosity to levels as geth (3 = info) and writes one JSON object per line', () => {
    const { log, lines } = capture(2);
    log.info('hidden');
    log.warn({ port: 1 }, 'shown');
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, 'warn');
    assert.equal(lines[0].msg, 'shown');
    assert.equal(lines[0].port, 1);
    assert.ok(!Number.isNaN(Date.parse(String(lines[0].time))));
    assert.equal(capture(0).log.isLevelEnabled('error'), false);
    assert.equal(capture(5).log.isLevelEnabled('trace'), true);
  });

  it('rate-limits each event key to a burst per window, then reports how many were suppressed', () => {
    const { log, lines } = capture(3);
    let now = 0;
    const limiter = new LogLimiter(log, { burst: 2, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 1000; i++) limiter.event('bad_packet', 'warn', { i }, 'bad packet');
    limiter.event('other', 'warn', {}, 'other event');
    assert.deepEqual(lines.map((l) => l.msg), ['bad packet', 'bad packet', 'other event']);
    now = 59_999;
    limiter.flush();
    assert.equal(lines.length, 3, 'window not over yet');
    now = 60_000;
    limiter.event('bad_packet', 'warn', {}, 'bad packet');
    assert.equal(lines[3].msg, 'bad packet (998 more like this suppressed in 60 s)');
    assert.equal(lines[3].suppressed, 998);
    assert.equal(lines[4].msg, 'bad packet', 'a new window starts');
    now = 200_000;
    limiter.flush();
    assert.equal(lines.length, 5, 'nothing suppressed, nothing to report');
  });

  it('skips events below the level without any bookkeeping, and bounds the number of keys', () => {
    const { log, lines } = capture(3);
    const limiter = new LogLimiter(log, { burst: 1, maxKeys: 2 });
    limiter.event('k', 'debug', {}, 'not logged');
    for (let i = 0; i < 100; i++) limiter.event(`peer-${i}`, 'info', {}, 'per peer');
    assert.deepEqual(lines.map((l) => l.event), ['peer-0', 'peer-1', '_overflow']);
  });

  it('pretty-prints in geth console layout', () => {
    const time = '2024-11-24T08:30:01.123Z';
    const line = prettyLine(JSON.stringify({ level: 'info', time, msg: 'status', peers: 12, in: '3.2/s', note: 'a b' }));
    // Local time, as geth prints it.
    const t = new Date(time);
    const p2 = (n: number) => String(n).padStart(2, '0');
    const stamp = `[${p2(t.getMonth() + 1)}-${p2(t.getDate())}|${p2(t.getHours())}:${p2(t.getMinutes())}:01.123]`;
    assert.equal(line, `INFO  ${stamp} status${' '.repeat(34)} peers=12 in=3.2/s note="a b"\n`);
  });
});

describe('cli metrics', () => {
  it('mirrors transport counters at scrape time, with Prometheus names, units and help', async () => {
    const d = await Discovery.start({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, refreshOnStart: false });
    const m = createMetrics(d, { version: '0.0.0' });
    const client = await listen({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0 });
    try {
      const scrape = async () => m.registry.getSingleMetricAsString('discv4_packets_in_total');
      assert.match(await scrape(), /discv4_packets_in_total\{type="ping"\} 0/);
      await client.ping({ id: d.nodeId, ip: '127.0.0.1', udpPort: d.transport.socket.address().port });
      await client.ping({ id: d.nodeId, ip: '127.0.0.1', udpPort: d.transport.socket.address().port });
      assert.match(await scrape(), /discv4_packets_in_total\{type="ping"\} 2/);
      assert.match(await scrape(), /discv4_packets_in_total\{type="enr_request"\} 0/);
      const all = await m.registry.getMetricsAsJSON();
      for (const metric of all.filter((x) => x.name.startsWith('discv4_'))) {
        assert.match(metric.name, /^discv4_[a-z0-9_]+$/);
        assert.ok(metric.help.length > 10, `${metric.name} has help`);
        if (String(metric.type) === 'counter') assert.match(metric.name, /_total$/, `${metric.name}: counters end in _total`);
        else assert.ok(!metric.name.endsWith('_total'), `${metric.name}: only counters end in _total`);
      }
      await d.lookup();
      assert.match(await m.registry.getSingleMetricAsString('discv4_lookup_duration_seconds'), /discv4_lookup_duration_seconds_count 1/);
    } finally {
      m.stop();
      await client.close();
      await d.close();
    }
  });

  it('names byte counters *_bytes_total, and the drops help names every drop reason, from DROP_REASONS', async () => {
    const d = await Discovery.start({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, refreshOnStart: false });
    const m = createMetrics(d, { version: '0.0.0' });
    try {
      const all = (await m.registry.getMetricsAsJSON()).filter((x) => x.name.startsWith('discv4_'));
      const names = all.map((x) => x.name);
      assert.ok(names.includes('discv4_received_bytes_total') && names.includes('discv4_sent_bytes_total'), names.join(' '));
      for (const x of all) {
        // Prometheus: the unit, then _total for counters (node_network_receive_bytes_total).
        if (/bytes/.test(x.name)) assert.match(x.name, String(x.type) === 'counter' ? /_bytes_total$/ : /_bytes$/, `${x.name}: unit suffix`);
      }
      const drops = all.find((x) => x.name === 'discv4_drops_total')!;
      assert.deepEqual(Object.keys(d.transport.stats().drops).sort(), [...DROP_REASONS].sort(), 'DROP_REASONS is the set stats().drops counts');
      for (const r of DROP_REASONS) assert.match(drops.help, new RegExp(`\\b${r}\\b`), `help names ${r}`);
    } finally {
      m.stop();
      await d.close();
    }
  });
});

describe('cli error translation (osProblem, bindFailure, metricsFailure)', () => {
  it('turns every file-system and socket errno into a reason and a fix naming the flag, never the errno', () => {
    const codes = ['ENOENT', 'ENOTDIR', 'EEXIST', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EADDRINUSE', 'EADDRNOTAVAIL'];
    for (const code of codes) {
      const p = osProblem(Object.assign(new Error(`${code}: something`), { code }), '--datadir');
      assert.ok(p !== undefined, code);
      assert.doesNotMatch(`${p.reason}; ${p.fix}`, /\bE[A-Z]{3,}\b/, `${code}: plain words`);
      assert.ok(p.reason.length > 5 && p.fix.length > 10, code);
      // LMDB's errors carry the errno number (os.constants.errno) instead of its name.
      assert.deepEqual(osProblem({ code: os.constants.errno[code as keyof typeof os.constants.errno], message: 'x' }, '--datadir'), p, `${code} as a number`);
    }
    for (const code of ['ENOTDIR', 'EEXIST', 'EISDIR', 'EACCES', 'EROFS']) assert.match(osProblem({ code }, '--nodekey')!.fix, /--nodekey/, code);
    // LMDB's text for an errno, without a code.
    assert.equal(osProblem(new Error('Permission denied: Attempting to setup locks'))!.reason, 'permission denied');
    assert.equal(osProblem(new Error('MDB_No space left on device'))!.reason, 'no space left on the device');
    assert.equal(osProblem(new Error('Read-only file system'))!.reason, 'the file system is read-only');
    // A port refused for permission is a privileged port, not a file to chown.
    assert.match(osProblem({ code: 'EACCES' }, '--addr', 'port')!.fix, /ports below 1024 need root or CAP_NET_BIND_SERVICE: choose another --addr port/);
    // Not an OS error: no translation; osExplain keeps the message.
    assert.equal(osProblem(new Error('MDB_CORRUPTED: Located page was wrong type')), undefined);
    assert.equal(osExplain(new Error('MDB_CORRUPTED: Located page was wrong type')), 'MDB_CORRUPTED: Located page was wrong type');
    assert.equal(osExplain({ code: 'ENOSPC' }), 'no space left on the device; free some disk space');
  });

  it('a UDP port taken after the start-up check: the BindError becomes the same one line', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    const addr = { host: '127.0.0.1', port: taken.address().port };
    try {
      const check = await checkPortsFree({ addr, metricsAddr: undefined }).then(() => undefined, (e: unknown) => e as CliError);
      const bind = await bindNative({ address: addr.host, port: addr.port }).then(
        async (s) => {
          await s.close();
          assert.fail('bound a taken port');
        },
        (e: unknown) => bindFailure(addr, e),
      );
      assert.ok(check instanceof CliError && bind instanceof CliError);
      assert.equal(bind.message, check.message);
      assert.equal(bind.message, `cannot bind UDP 127.0.0.1:${addr.port}: address already in use; another process listens there (another node?): stop it, or choose another --addr port`);
      assert.equal(exitCodeOf(bind), EXIT_FAILURE);
    } finally {
      taken.close();
    }
    // A BindError without an errno keeps its own message (it names the address already).
    assert.equal(bindFailure(addr, new BindError('cannot bind UDP x:1: invalid address (EINVAL)')).message, 'cannot bind UDP x:1: invalid address (EINVAL)');
  });

  it('a metrics port in use: the same line from the start-up check and from serveMetrics', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const addr = { host: '127.0.0.1', port: (taken.address() as net.AddressInfo).port };
    try {
      const check = await checkPortsFree({ addr: { host: '127.0.0.1', port: 0 }, metricsAddr: addr }).then(() => undefined, (e: unknown) => e as CliError);
      const serve = await serveMetrics(new Registry(), addr).then(
        async (s) => {
          await s.close();
          assert.fail('served on a taken port');
        },
        (e: unknown) => e as CliError,
      );
      assert.ok(check instanceof CliError && serve instanceof CliError);
      assert.equal(serve.message, check.message);
      assert.equal(serve.message, metricsFailure(addr, Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })).message);
      assert.match(serve.message, /^cannot serve metrics on 127\.0\.0\.1:\d+: address already in use; another process listens there \(another node\?\): stop it, or choose another --metrics-addr port$/);
    } finally {
      taken.close();
    }
  });
});

describe('bench result paths (npm run bench -- --quick, npm run sim -- --quick)', () => {
  it('quick runs write to bench/results/quick, which git ignores; no quick result is tracked', () => {
    assert.equal(resultsDir(false), path.join(REPO_ROOT, 'bench', 'results'));
    assert.equal(resultsDir(true), path.join(REPO_ROOT, 'bench', 'results', 'quick'));
    // Every writer takes its directory from resultsDir.
    for (const f of ['bench/index.ts', 'bench/loopback/index.ts', 'sim/run.ts']) {
      assert.match(fs.readFileSync(path.join(REPO_ROOT, f), 'utf8'), /resultsDir\(quick\)/, `${f} writes to resultsDir(quick)`);
    }
    // The ignore rule, read from .gitignore itself (a source tarball has no git to ask).
    assert.ok(fs.readFileSync(path.join(REPO_ROOT, '.gitignore'), 'utf8').split('\n').includes('bench/results/quick/'));
    const git = (...args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
    if (git('rev-parse', '--is-inside-work-tree').stdout.trim() !== 'true') return; // not a git checkout: the file checks above stand
    // check-ignore: exit 0 when ignored, 1 when not.
    for (const f of ['micro.json', 'loopback.json', 'scoreboard.md', 'loopback-chart.svg', 'sim.json']) {
      assert.equal(git('check-ignore', '-q', path.join(resultsDir(true), f)).status, 0, `quick/${f} is ignored`);
      assert.equal(git('check-ignore', '-q', path.join(resultsDir(false), f)).status, 1, `${f} (a full run's) is not ignored`);
    }
    const tracked = git('ls-files', 'bench/results').stdout.split('\n').filter(Boolean);
    assert.ok(tracked.includes('bench/results/micro.json'), tracked.join(' '));
    assert.deepEqual(tracked.filter((f) => /quick/.test(f)), [], 'no quick result is tracked');
  });
});

