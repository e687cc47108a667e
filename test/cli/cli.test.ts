/**
 * The discv4 CLI as an operator runs it: child processes on 127.0.0.1,
 * port 0, in temp directories, each bounded in time.
 */
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generatePrivateKey, keccak256 } from '../../src/crypto';
import { signRecord } from '../../src/enr/record';
import { decodeEnr } from '../../src/enr';
import { encodeEnrText } from '../../src/cli/enr-text';
import { DROP_REASONS } from '../../src/transport/transport';
import { REPO_ROOT } from '../helpers/vectors';
import { runCli, CliResult, httpGet, sample, scratchDirs, startBootnode, stop } from './helpers';

/** The process failed with exactly one `discv4: ...` line as its last stderr line, and no stack trace. */
function assertFailure(r: CliResult, code: number, message: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  const last = lines[lines.length - 1];
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assert.match(last, /^discv4: /, r.stderr);
  assert.match(last, message);
  assert.ok(!/^\s+at /m.test(r.stderr), `no stack trace expected:\n${r.stderr}`);
}

/** A record whose signature no longer matches its content (one content byte changed). */
function tamperedEnr(): string {
  const rec = signRecord(generatePrivateKey(), 1n, { ip: Buffer.from([127, 0, 0, 1]), udp: 30303 });
  rec[rec.length - 1] ^= 1; // the udp port's last byte
  return encodeEnrText(rec);
}

/** The seq of the record a bootnode printed (a new node DB starts it at the time in ms, as geth). */
function seqOf(b: { enr: string }): number {
  return Number(decodeEnr(b.enr).seq);
}

describe('discv4 CLI (child processes)', function () {
  this.timeout(30_000);
  const dir = scratchDirs();

  it('prints --version and --help and exits 0', async () => {
    const cwd = dir();
    const [v, h, hp] = await Promise.all([runCli(['--version'], { cwd }), runCli(['--help'], { cwd }), runCli(['help', 'ping'], { cwd })]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^discv4 \d+\.\d+\.\d+/);
    assert.equal(h.code, 0);
    for (const flag of ['--addr', '--nodekey', '--nodekeyhex', '--genkey', '--writeaddress', '--nat', '--netrestrict', '--bootnodes', '--datadir', '--verbosity', '--metrics-addr', '--log-format']) {
      assert.ok(h.stdout.includes(flag), `--help lists ${flag}`);
    }
    for (const cmd of ['bootnode', 'genkey', 'keyinfo', 'ping', 'requestenr', 'resolve', 'lookup', 'crawl']) assert.ok(h.stdout.includes(cmd));
    assert.equal(hp.code, 0);
    assert.match(hp.stdout, /Usage: discv4 ping <enode\|enr>/);
  });

  it('creates a 0600 key and a node DB on first run, exits 0 on SIGTERM, and reuses both on the next run', async () => {
    const cwd = dir();
    const first = await startBootnode(['--status-interval', '0'], cwd);
    const data = path.join(cwd, 'discv4-data');
    const keyFile = path.join(data, 'nodekey');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(keyFile, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.ok(fs.existsSync(path.join(data, 'nodes', 'nodes.mdb')), 'node DB created');
    assert.match(first.enode, new RegExp(`^enode://${first.id}@127\\.0\\.0\\.1:0\\?discport=${first.port}$`));
    assert.match(first.enr, /^enr:[A-Za-z0-9_-]+$/);

    const r1 = await stop(first, 'SIGTERM');
    assert.equal(r1.code, 0, `${r1.signal} after ${r1.ms} ms: ${r1.stderr}`);
    assert.ok(r1.ms < 5_000, `stopped in ${r1.ms} ms`);
    assert.match(r1.stderr, /"msg":"stopped"/);

    // The DB reopens (it was closed cleanly) and the key is reused: same id.
    const second = await startBootnode(['--status-interval', '0'], cwd);
    assert.equal(second.id, first.id);
    assert.ok(!/created a new node key/.test(second.stderr()));
    const r2 = await stop(second, 'SIGINT');
    assert.equal(r2.code, 0, r2.stderr);
  });

  it('pings and requests the ENR of a second bootnode on loopback, and its /metrics counters move', async () => {
    const cwd = dir();
    const b = await startBootnode(['--metrics-addr', '127.0.0.1:0', '--status-interval', '0', '--threads', '3', '--ratelimit', 'ping=1000,global=0', '--network', 'mainnet', '--fork-filter', 'strict'], cwd);
    assert.ok(b.metricsUrl !== undefined);
    assert.match(b.stdout(), /^\s*threads\s+3$/m);
    const before = await httpGet(b.metricsUrl);
    assert.equal(before.status, 200);
    assert.match(before.type ?? '', /^text\/plain/);
    const pingsBefore = sample(before.body, 'discv4_packets_in_total{type="ping"}') ?? 0;

    const [byEnode, byEnr, enr] = await Promise.all([
      runCli(['ping', b.enode, '--addr', '127.0.0.1:0'], { cwd }),
      runCli(['ping', b.enr, '--addr', '127.0.0.1:0'], { cwd }),
      runCli(['requestenr', b.enode, '--addr', '127.0.0.1:0'], { cwd }),
    ]);
    for (const r of [byEnode, byEnr]) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^pong from 127\\.0\\.0\\.1:${b.port}: rtt \\d+\\.\\d+ ms, enr-seq ${seqOf(b)}, sees us at 127\\.0\\.0\\.1:\\d+\\n$`));
    }
    assert.equal(enr.code, 0, enr.stderr);
    const lines = enr.stdout.split('\n');
    assert.equal(lines[0], b.enr, 'the record it serves is the one it printed');
    assert.match(enr.stdout, new RegExp(`^\\s+id\\s+${b.id}$`, 'm'));
    assert.match(enr.stdout, new RegExp(`^\\s+seq\\s+${seqOf(b)}$`, 'm'));
    assert.match(enr.stdout, /^\s+ip\s+127\.0\.0\.1$/m);
    assert.match(enr.stdout, new RegExp(`^\\s+udp\\s+${b.port}$`, 'm'));

    const after = await httpGet(b.metricsUrl);
    const pingsAfter = sample(after.body, 'discv4_packets_in_total{type="ping"}') ?? 0;
    assert.ok(pingsAfter >= pingsBefore + 3, `pings counted: ${pingsBefore} -> ${pingsAfter}`);
    assert.ok((sample(after.body, 'discv4_packets_in_total{type="enr_request"}') ?? 0) >= 1);
    assert.ok((sample(after.body, 'discv4_packets_out_total{type="pong"}') ?? 0) >= 3);
    assert.ok((sample(after.body, 'discv4_received_bytes_total') ?? 0) > (sample(before.body, 'discv4_received_bytes_total') ?? 0));
    for (const name of [
      'discv4_drops_total',
      'discv4_sent_bytes_total',
      'discv4_table_nodes',
      'discv4_table_size',
      'discv4_bonded_nodes',
      'discv4_pending_requests',
      'discv4_request_timeouts_total',
      'discv4_lookup_duration_seconds',
      'discv4_crypto_seconds',
      'discv4_crypto_threads',
      'discv4_work_queue_drops_total',
      'nodejs_eventloop_lag_seconds',
      'process_resident_memory_bytes',
    ]) {
      assert.match(after.body, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} is exported with help text`);
    }
    // Every drop reason /metrics shows is named in its help text and in the README's metrics table, and is one of DROP_REASONS.
    const reasons = [...after.body.matchAll(/^discv4_drops_total\{reason="([a-z_]+)"\}/gm)].map((m) => m[1]);
    assert.deepEqual([...reasons].sort(), [...DROP_REASONS].sort());
    const help = /^# HELP discv4_drops_total (.*)$/m.exec(after.body)![1];
    const readmeRow = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith('| `discv4_drops_total{reason}`'))!;
    for (const r of reasons) {
      assert.match(help, new RegExp(`\\b${r}\\b`), `help text names ${r}`);
      assert.ok(readmeRow.includes(`\`${r}\``), `README metrics table names ${r}`);
    }
    assert.ok((sample(after.body, 'discv4_crypto_seconds_count{op="open"}') ?? 0) > 0, 'crypto sampler ran');
    assert.equal(sample(after.body, 'discv4_crypto_threads'), 3);
    assert.equal((await httpGet(b.metricsUrl.replace('/metrics', '/nope'))).status, 404);
  });

  it('finds the network with lookup, resolve and crawl', async () => {
    const cwd = dir();
    const a = await startBootnode(['--datadir', 'a', '--status-interval', '0', '--metrics-addr', '127.0.0.1:0'], cwd);
    const b = await startBootnode(['--datadir', 'b', '--status-interval', '0', '--bootnodes', a.enode], cwd);
    // b joined through a: wait until a's table holds it, so a lookup via a can find it.
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
      if ((sample((await httpGet(a.metricsUrl!)).body, 'discv4_table_size') ?? 0) >= 1) break;
      assert.ok(Date.now() < deadline, 'bootnode a never added b to its table');
    }
    const out = path.join(cwd, 'crawl.json');
    // b's id at a port where nobody answers: resolve must find b through a.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const moved = b.enode.replace(/discport=\d+/, `discport=${silent.address().port}`);
    const gethOut = path.join(cwd, 'nodes.json');
    const [lookup, resolve, resolveMoved, crawl, crawlGeth, crawlCsv] = await Promise.all([
      runCli(['lookup', b.id, '--bootnodes', a.enode, '--addr', '127.0.0.1:0', '--timeout', '10s'], { cwd }),
      runCli(['resolve', b.enode, '--addr', '127.0.0.1:0'], { cwd }),
      runCli(['resolve', moved, '--bootnodes', a.enode, '--addr', '127.0.0.1:0', '--timeout', '10s'], { cwd }),
      runCli(['crawl', '--bootnodes', a.enr, '--addr', '127.0.0.1:0', '--timeout', '10s', '--out', out], { cwd }),
      runCli(['crawl', '--bootnodes', a.enr, '--addr', '127.0.0.1:0', '--timeout', '10s', '--parallel', '4', '--format', 'geth', '--out', gethOut], { cwd }),
      runCli(['crawl', '--bootnodes', a.enr, '--addr', '127.0.0.1:0', '--timeout', '10s', '--format', 'csv'], { cwd }),
    ]).finally(() => silent.close());
    assert.equal(resolveMoved.code, 0, resolveMoved.stderr);
    assert.equal(resolveMoved.stdout.split('\n')[0], b.enr, 'found at its real endpoint by a lookup');
    assert.equal(lookup.code, 0, lookup.stderr);
    assert.equal(lookup.stdout.split('\n')[0], b.enode, 'the target itself is the closest node found');
    assert.equal(resolve.code, 0, resolve.stderr);
    assert.equal(resolve.stdout.split('\n')[0], b.enr);
    assert.equal(crawl.code, 0, crawl.stderr);
    assert.match(crawl.stderr, /crawl: .* nodes, \d+ with ENR: done/);
    const nodes = JSON.parse(fs.readFileSync(out, 'utf8')) as Array<{ id: string; enode: string; enr?: string; seq?: number; alive: boolean; lastSeen?: string; lastReported?: string }>;
    for (const n of [a, b]) {
      const e = nodes.find((x) => x.id === n.id);
      assert.ok(e !== undefined, `crawl found ${n.id.slice(0, 8)}`);
      assert.equal(e.enode, n.enode);
      assert.equal(e.enr, n.enr);
      assert.equal(e.seq, seqOf(n));
      assert.equal(e.alive, true, 'it answered us');
      assert.ok(!Number.isNaN(Date.parse(e.lastSeen ?? '')));
    }
    // b was listed by a's neighbors answers; a is the bootnode we started from.
    assert.ok(!Number.isNaN(Date.parse(nodes.find((x) => x.id === b.id)?.lastReported ?? '')));
    // Only nodes that answered us carry lastSeen.
    for (const e of nodes.filter((x) => !x.alive)) assert.equal(e.lastSeen, undefined);
    // geth's nodes.json (devp2p dns sign reads it): records keyed by keccak256(id).
    assert.equal(crawlGeth.code, 0, crawlGeth.stderr);
    const set = JSON.parse(fs.readFileSync(gethOut, 'utf8')) as Record<string, { seq: number; record: string; lastResponse: string }>;
    for (const n of [a, b]) {
      const key = keccak256(Buffer.from(n.id, 'hex')).toString('hex');
      assert.equal(set[key]?.record, n.enr, `nodes.json has ${n.id.slice(0, 8)} under its hash`);
      assert.equal(set[key].seq, seqOf(n));
    }
    assert.equal(crawlCsv.code, 0, crawlCsv.stderr);
    const rows = crawlCsv.stdout.trimEnd().split('\n');
    assert.equal(rows[0], 'id,enode,enr,seq,alive,lastSeen,lastReported');
    assert.ok(rows.some((r) => r.startsWith(`${b.id},${b.enode},${b.enr},${seqOf(b)},true,`)));
  });

  it('fails with one line and exit 2 on usage errors: unknown or malformed flags, bad enode/ENR arguments', async () => {
    const cwd = dir();
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /unknown flag --bogus/],
      [['--verbosity', '9'], /invalid value "9" for --verbosity: expected an integer from 0 to 5/],
      [['--threads', '0'], /invalid value "0" for --threads: expected an integer from 1 to 256/],
      [['--network', 'goerli'], /invalid value "goerli" for --network: expected mainnet, sepolia, holesky, hoodi/],
      [['--fork-id', 'xyz'], /invalid fork id "xyz"/],
      [['--fork-filter', 'strict'], /--fork-filter needs --network or --fork-id/],
      [['--network', 'mainnet', '--fork-filter', 'loose'], /expected strict, prefer or off/],
      [['--bucket-size', '5000'], /invalid value "5000" for --bucket-size: expected an integer from 1 to 1024/],
      [['crawl', '--format', 'xml', '--bootnodes', 'enode://' + '1'.repeat(128) + '@127.0.0.1:30303'], /invalid value "xml" for --format: expected json, csv or geth/],
      [['--ratelimit', 'ping=fast'], /invalid value "fast" for --ratelimit \(ping\): expected an integer from 0 to 10000000/],
      [['--ratelimit', 'bogus=1'], /invalid value "bogus=1" for --ratelimit: expected off or key=value pairs/],
      [['--addr', 'localhost'], /invalid value "localhost" for --addr: expected <ip>:<port>/],
      [['--datadir'], /flag --datadir needs a value/],
      [['--log-format', 'xml'], /expected json or pretty/],
      [['--nat', 'extip:nowhere'], /invalid value "extip:nowhere" for --nat/],
      [['--netrestrict', '10.0.0.0/40'], /invalid --netrestrict: invalid CIDR/],
      [['ping', '--out', 'x', 'enode://00'], /flag --out is not used by the ping command/],
      [['ping', 'enode://1234@127.0.0.1:30303'], /invalid enode URL "enode:\/\/1234@127\.0\.0\.1:30303"/],
      [['requestenr', 'enr:%%%'], /invalid ENR "enr:%%%": not base64url/],
      [['ping', tamperedEnr()], /invalid ENR "enr:.*\.\.\.": invalid signature/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, { cwd })));
    results.forEach((r, i) => assertFailure(r, 2, cases[i][1]));
  });

  it('fails with one line and exit 1 on a bad or unreadable key file, a port in use, a corrupted or unreadable DB, and a ping timeout', async () => {
    const cwd = dir();
    const running = await startBootnode(['--datadir', 'running', '--status-interval', '0'], cwd);
    fs.mkdirSync(path.join(cwd, 'badkey'));
    fs.writeFileSync(path.join(cwd, 'badkey', 'nodekey'), 'not a key\n', { mode: 0o600 });
    fs.mkdirSync(path.join(cwd, 'dirkey', 'nodekey'), { recursive: true });
    fs.mkdirSync(path.join(cwd, 'corrupt', 'nodes'), { recursive: true });
    fs.writeFileSync(path.join(cwd, 'corrupt', 'nodes', 'nodes.mdb'), Buffer.alloc(8192, 0x5a));
    fs.mkdirSync(path.join(cwd, 'unreadable'));
    fs.writeFileSync(path.join(cwd, 'unreadable', 'nodes'), 'a file where the DB directory should be');
    // A peer that never answers (no ICMP either: the port is bound).
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const silentEnode = running.enode.replace(/discport=\d+/, `discport=${silent.address().port}`);
    try {
      const cases: Array<[string[], RegExp]> = [
        [['--datadir', 'badkey'], /key file .*badkey\/nodekey does not hold a private key: expected 64 hex characters/],
        [['--datadir', 'dirkey'], /cannot read key file .*dirkey\/nodekey: it is a directory/],
        [['--nodekey', 'missing.key'], /cannot read key file missing\.key: no such file/],
        [['--datadir', 'inuse', '--addr', `127.0.0.1:${running.port}`], new RegExp(`cannot bind UDP 127\\.0\\.0\\.1:${running.port}: address already in use; .*choose another --addr port`)],
        [['--datadir', 'corrupt'], /node DB at .*corrupt\/nodes is corrupt .*move or delete the directory/],
        [['--datadir', 'unreadable'], /cannot create node DB directory .*unreadable\/nodes/],
        [['ping', silentEnode, '--timeout', '1s'], /ping 127\.0\.0\.1:\d+: no pong within --timeout 1 s \(\d+ pings?\)$/],
      ];
      const results = await Promise.all(cases.map(([args]) => runCli(args[0] === 'ping' ? args : ['--addr', '127.0.0.1:0', ...args], { cwd })));
      results.forEach((r, i) => assertFailure(r, 1, cases[i][1]));
    } finally {
      silent.close();
    }
  });

  it('warns about a key file others can read and runs anyway', async () => {
    const cwd = dir();
    const gen = await runCli(['genkey', 'open.key'], { cwd });
    assert.equal(gen.code, 0, gen.stderr);
    const keyFile = path.join(cwd, 'open.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    fs.chmodSync(keyFile, 0o644);
    const b = await startBootnode(['--nodekey', 'open.key', '--status-interval', '0'], cwd);
    assert.equal(b.id, gen.stdout.trim(), 'genkey printed the id of the key it wrote');
    assert.match(b.stderr(), /key file open\.key is accessible by other users \(mode 0644\); run: chmod 600 open\.key/);
    const info = await runCli(['keyinfo', 'open.key'], { cwd });
    assert.equal(info.code, 0);
    assert.match(info.stderr, /^discv4: warning: key file open\.key is accessible/);
    assert.match(info.stdout, new RegExp(`^id\\s+${b.id}$`, 'm'));
    assert.equal((await stop(b)).code, 0);
  });
});
