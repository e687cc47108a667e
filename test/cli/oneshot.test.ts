/**
 * The one-shot commands keep their promises: ping, requestenr, resolve and
 * lookup retry until --timeout and then fail with one line; crawl
 * --max-nodes is a cap on the rows written; a bad crawl --out fails before
 * any packet is sent. Child processes on 127.0.0.1 only, each bounded.
 */
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generatePrivateKey, nodeIdFromPrivateKey } from '../../src/crypto';
import { Bootnode, CliResult, httpGet, runCli, sample, scratchDirs, startBootnode } from './helpers';

/** A UDP port on 127.0.0.1 that receives but never answers (and sends no ICMP: it is bound). */
async function silentPort(): Promise<{ port: number; received: () => number; close: () => void }> {
  const s = dgram.createSocket('udp4');
  let n = 0;
  s.on('message', () => n++);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, received: () => n, close: () => s.close() };
}

function enodeAt(port: number): string {
  return `enode://${nodeIdFromPrivateKey(generatePrivateKey()).toString('hex')}@127.0.0.1:0?discport=${port}`;
}

async function timed(p: Promise<CliResult>): Promise<CliResult & { ms: number }> {
  const t0 = Date.now();
  const r = await p;
  return { ...r, ms: Date.now() - t0 };
}

/** Exit 1, and stderr is exactly one `discv4: ...` line matching `message`. */
function assertOneLineFailure(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines[0], /^discv4: /);
  assert.match(lines[0], message);
  assert.equal(r.stdout, '');
}

/** Waits until the bootnode's table holds at least `n` nodes (its /metrics). */
async function tableHolds(b: Bootnode, n: number, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    if ((sample((await httpGet(b.metricsUrl!)).body, 'discv4_table_size') ?? 0) >= n) return;
    assert.ok(Date.now() < deadline, `the bootnode's table never reached ${n} nodes`);
  }
}

describe('discv4 CLI one-shot commands: --timeout, --max-nodes, --out', function () {
  this.timeout(40_000);
  const dir = scratchDirs();

  it('ping to a silent port retries until --timeout 1.5s, then fails with one line naming the timeout', async () => {
    const cwd = dir();
    const silent = await silentPort();
    try {
      const r = await timed(runCli(['ping', enodeAt(silent.port), '--addr', '127.0.0.1:0', '--timeout', '1.5s'], { cwd }));
      assertOneLineFailure(r, new RegExp(`^discv4: ping 127\\.0\\.0\\.1:${silent.port}: no pong within --timeout 1\\.5 s \\(\\d+ pings?\\)$`));
      assert.ok(r.ms >= 1_400 && r.ms < 3_000, `failed after ${r.ms} ms`);
      // It used the whole timeout: more than the one 1 s ping that used to end it.
      assert.ok(silent.received() >= 2, `pings received: ${silent.received()}`);
    } finally {
      silent.close();
    }
  });

  it('requestenr, resolve and lookup honour --timeout against a silent port', async () => {
    const cwd = dir();
    const silent = await silentPort();
    try {
      const node = enodeAt(silent.port);
      const [started, enr, resolve, resolveVia, lookup] = await Promise.all([
        // A process that starts and exits: the start-up cost under the machine's current load.
        timed(runCli(['--version'], { cwd })),
        timed(runCli(['requestenr', node, '--addr', '127.0.0.1:0', '--timeout', '1.5s'], { cwd })),
        timed(runCli(['resolve', node, '--addr', '127.0.0.1:0', '--timeout', '1.5s'], { cwd })),
        timed(runCli(['resolve', node, '--bootnodes', enodeAt(silent.port), '--addr', '127.0.0.1:0', '--timeout', '1.5s'], { cwd })),
        timed(runCli(['lookup', '--bootnodes', node, '--addr', '127.0.0.1:0', '--timeout', '1.5s'], { cwd })),
      ]);
      assertOneLineFailure(enr, new RegExp(`requestenr 127\\.0\\.0\\.1:${silent.port}: no ENR response within --timeout 1\\.5 s \\(\\d+ attempts?\\)$`));
      assertOneLineFailure(resolve, new RegExp(`resolve [0-9a-f]{16}\\.\\.\\.: no ENR response from 127\\.0\\.0\\.1:${silent.port} within --timeout 1\\.5 s \\(\\d+ attempts?\\); give --bootnodes to look it up$`));
      assertOneLineFailure(resolveVia, /resolve [0-9a-f]{16}\.\.\.: no ENR response from .* within --timeout 1\.5 s \(\d+ attempts?\); (a lookup|\d+ lookups) via --bootnodes did not find it$/);
      assertOneLineFailure(lookup, /lookup: no node answered within --timeout 1\.5 s \(\d+ lookups?\); do the bootnodes answer\?/);
      // Each ends after its 1.5 s (not the defaults: 5 s, lookup 30 s), plus start-up (as long as
      // --version's beside them, which reads the same load) and 2 s of room.
      for (const r of [enr, resolve, resolveVia, lookup]) {
        assert.ok(r.ms >= 1_400 && r.ms < started.ms + 1_500 + 2_000, `failed after ${r.ms} ms (start-up ${started.ms} ms): ${r.stderr}`);
      }
    } finally {
      silent.close();
    }
  });

  it('ping, requestenr and resolve succeed against a live bootnode; a bad enode fails at once with exit 2', async () => {
    const cwd = dir();
    const b = await startBootnode(['--status-interval', '0'], cwd);
    const [ping, enr, resolve, bad] = await Promise.all([
      runCli(['ping', b.enode, '--addr', '127.0.0.1:0', '--timeout', '10s'], { cwd }),
      runCli(['requestenr', b.enr, '--addr', '127.0.0.1:0', '--timeout', '10s'], { cwd }),
      runCli(['resolve', b.enode, '--addr', '127.0.0.1:0', '--timeout', '10s'], { cwd }),
      timed(runCli(['ping', b.enode.replace(/\?discport=\d+$/, ''), '--addr', '127.0.0.1:0', '--timeout', '10s'], { cwd })),
    ]);
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stdout, new RegExp(`^pong from 127\\.0\\.0\\.1:${b.port}: rtt \\d+\\.\\d+ ms, enr-seq \\d+, sees us at 127\\.0\\.0\\.1:\\d+\\n$`));
    assert.equal(enr.code, 0, enr.stderr);
    assert.equal(enr.stdout.split('\n')[0], b.enr);
    assert.equal(resolve.code, 0, resolve.stderr);
    assert.equal(resolve.stdout.split('\n')[0], b.enr);
    // The enode without discport has UDP port 0: a usage error, not something to retry for 10 s.
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr.trimEnd(), /^discv4: .*no UDP \(discovery\) port$/);
    assert.ok(bad.ms < 8_000, `usage error after ${bad.ms} ms`);
  });

  it('crawl --max-nodes 3 writes at most 3 rows from a network of 4', async () => {
    const cwd = dir();
    const a = await startBootnode(['--datadir', 'a', '--status-interval', '0', '--metrics-addr', '127.0.0.1:0'], cwd);
    const others = await Promise.all(['b', 'c', 'd'].map((n) => startBootnode(['--datadir', n, '--status-interval', '0', '--bootnodes', a.enode], cwd)));
    await tableHolds(a, 3, 15_000);
    const ids = new Set([a, ...others].map((n) => n.id));
    const json = path.join(cwd, 'crawl.json');
    const csv = path.join(cwd, 'crawl.csv');
    // One after the other: a crawler is a node too, and two at once could find each other.
    const rj = await runCli(['crawl', '--bootnodes', a.enode, '--addr', '127.0.0.1:0', '--timeout', '10s', '--max-nodes', '3', '--out', json], { cwd, timeoutMs: 20_000 });
    const rc = await runCli(['crawl', '--bootnodes', a.enode, '--addr', '127.0.0.1:0', '--timeout', '10s', '--max-nodes', '3', '--format', 'csv', '--out', csv], { cwd, timeoutMs: 20_000 });
    assert.equal(rj.code, 0, rj.stderr);
    const nodes = JSON.parse(fs.readFileSync(json, 'utf8')) as Array<{ id: string }>;
    assert.equal(nodes.length, 3, `rows: ${nodes.map((n) => n.id.slice(0, 8)).join(', ')}`);
    for (const n of nodes) assert.ok(ids.has(n.id), `a node of the network: ${n.id.slice(0, 8)}`);
    assert.equal(new Set(nodes.map((n) => n.id)).size, 3, 'no duplicates');
    assert.match(rj.stderr, /crawl: .* 3 nodes, \d+ with ENR: done/);
    assert.equal(rc.code, 0, rc.stderr);
    const rows = fs.readFileSync(csv, 'utf8').trimEnd().split('\n');
    assert.equal(rows[0], 'id,enode,enr,seq,alive,lastSeen,lastReported');
    assert.equal(rows.length - 1, 3, `CSV rows:\n${rows.join('\n')}`);
  });

  it('crawl with a bad --out fails at once with one line, before sending anything', async () => {
    const cwd = dir();
    const silent = await silentPort();
    fs.writeFileSync(path.join(cwd, 'afile'), 'a regular file\n');
    fs.mkdirSync(path.join(cwd, 'adir'));
    try {
      const cases: Array<[string, RegExp]> = [
        [path.join(cwd, 'missing', 'nodes.json'), /crawl: cannot write --out .*missing\/nodes\.json: directory .*missing does not exist \(create it first, or choose another path\)$/],
        [path.join(cwd, 'afile', 'nodes.json'), /crawl: cannot write --out .*afile\/nodes\.json: .*afile is not a directory/],
        ['adir', /crawl: cannot write --out adir: it is a directory \(give a file name\)$/],
      ];
      const results = await Promise.all(
        cases.map(([out]) => timed(runCli(['crawl', '--bootnodes', enodeAt(silent.port), '--addr', '127.0.0.1:0', '--timeout', '20s', '--out', out], { cwd, timeoutMs: 25_000 }))),
      );
      results.forEach((r, i) => {
        assertOneLineFailure(r, cases[i][1]);
        // Not after the 20 s crawl: before it (a start-up's worth of time).
        assert.ok(r.ms < 8_000, `failed after ${r.ms} ms`);
      });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(silent.received(), 0, 'no packet reached the bootnode');
      assert.deepEqual(fs.readdirSync(path.join(cwd, 'adir')), [], 'nothing left behind');
      assert.deepEqual(fs.readdirSync(cwd).sort(), ['adir', 'afile']);
    } finally {
      silent.close();
    }
  });
});
