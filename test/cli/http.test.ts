/**
 * `--http-addr`: the operator's HTTP API and dashboard on a small loopback
 * network. A bootnode serving a devnet from its genesis file, three nodes
 * bonded to it (two of the devnet, one of mainnet), all spawned as CLI
 * processes on 127.0.0.1. The API answers with the node's real state; the
 * dashboard, loaded in headless Chromium (puppeteer-core, the system's
 * /usr/bin/chromium), renders its charts and node table from it without a
 * console error.
 */
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'puppeteer-core';
import { forkId, formatForkId, headAt, NETWORKS } from '../../src/node/forkid';
import { loadChainSpec } from '../../src/node/genesis';
import { hostAllowed } from '../../src/cli/http/server';
import { decodeEnrText } from '../../src/cli/enr-text';
import { decodeRecord } from '../../src/enr/record';
import { decodeEthEntry } from '../../src/node/forkid';
import { parseArgs, resolveOptions } from '../../src/cli/flags';
import { Bootnode, httpGet, killAll, runCli, startBootnode, stop, tempDir } from './helpers';

// The page's DOM, inside page.evaluate/waitForFunction callbacks (they run in the browser).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const CHROMIUM = '/usr/bin/chromium';

interface NodeRow {
  id: string;
  ip: string;
  udpPort: number;
  source: string;
  bucket: number | null;
  forkId: string | null;
  fork: string;
  enrSeq: string | null;
  firstSeen: number | null;
  lastPong: number | null;
}

async function getJson<T = Record<string, unknown>>(url: string): Promise<{ status: number; body: T }> {
  const r = await httpGet(url);
  assert.match(r.type ?? '', /^application\/json/, `${url} answers JSON`);
  return { status: r.status, body: JSON.parse(r.body) as T };
}

describe('--http-addr: HTTP API and dashboard', function () {
  this.timeout(90_000);
  let cwd: string;
  let genesisFile: string;
  let boot: Bootnode;
  let members: Bootnode[] = [];
  let stranger: Bootnode;
  let api: string;

  before(async () => {
    cwd = tempDir('discv4-http-');
    genesisFile = path.join(cwd, 'devnet.json');
    // A devnet: all block forks at genesis, Shanghai/Cancun at genesis, Prague later, a small alloc.
    fs.writeFileSync(
      genesisFile,
      JSON.stringify({
        config: { chainId: 39438, homesteadBlock: 0, eip150Block: 0, eip155Block: 0, eip158Block: 0, byzantiumBlock: 0, constantinopleBlock: 0, petersburgBlock: 0, istanbulBlock: 0, berlinBlock: 0, londonBlock: 0, mergeNetsplitBlock: 0, terminalTotalDifficulty: 0, shanghaiTime: 0, cancunTime: 0, pragueTime: 1900000000 },
        timestamp: '0x65000000',
        gasLimit: '0x1c9c380',
        difficulty: '0x0',
        alloc: { '0x8943545177806ed17b9f23f0a21ee5948ecaa776': { balance: '0xd3c21bcecceda1000000' } },
      }),
    );
    boot = await startBootnode(['--datadir', 'boot', '--status-interval', '0', '--http-addr', '127.0.0.1:0', '--network', genesisFile, '--fork-filter', 'prefer'], cwd);
    api = boot.httpUrl!;
    for (const name of ['m1', 'm2']) {
      members.push(await startBootnode(['--datadir', name, '--status-interval', '0', '--network', genesisFile, '--bootnodes', boot.enode], cwd));
    }
    stranger = await startBootnode(['--datadir', 'other', '--status-interval', '0', '--network', 'mainnet', '--bootnodes', boot.enode], cwd);
    // Bonded, in the bootnode's table, with their records (fork ids) fetched.
    const ids = [...members, stranger].map((m) => m.id);
    const deadline = Date.now() + 40_000;
    for (;;) {
      const { body } = await getJson<{ nodes: NodeRow[] }>(`${api}nodes?source=table`);
      const have = body.nodes.filter((n) => ids.includes(n.id) && n.forkId !== null);
      if (have.length === ids.length) break;
      if (Date.now() > deadline) throw new Error(`the three nodes did not all reach the table with their records: ${JSON.stringify(body.nodes)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  after(async () => {
    for (const c of [...members, stranger, boot]) if (c !== undefined) await stop(c);
    killAll();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('reads --http-addr :port as loopback, and refuses a malformed address or genesis file with one line and exit 2', async () => {
    const o = resolveOptions(parseArgs(['--http-addr', ':8080']));
    assert.deepEqual(o.httpAddr, { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(resolveOptions(parseArgs(['--http-addr', '0.0.0.0:8080'])).httpAddr, { host: '0.0.0.0', port: 8080 });
    const bad = await runCli(['--http-addr', 'localhost', '--datadir', 'x'], { cwd });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^discv4: invalid value "localhost" for --http-addr: expected <ip>:<port>/);
    fs.writeFileSync(path.join(cwd, 'broken.json'), '{"config": ');
    const broken = await runCli(['--network', path.join(cwd, 'broken.json'), '--datadir', 'x'], { cwd });
    assert.equal(broken.code, 2);
    assert.equal(broken.stderr.trimEnd().split('\n').length, 1, broken.stderr);
    assert.match(broken.stderr, /^discv4: genesis file .*broken\.json is not valid JSON/);
  });

  it('serves our enode URL and ENR as text, and our genesis file\'s fork id in the record and /status', async () => {
    const enode = await httpGet(`${api}enode`);
    assert.equal(enode.status, 200);
    assert.match(enode.type ?? '', /^text\/plain/);
    assert.equal(enode.body, `${boot.enode}\n`);
    const enr = await httpGet(`${api}enr`);
    assert.equal(enr.body.trim().startsWith('enr:'), true);
    const rec = decodeRecord(decodeEnrText(enr.body.trim()))!;
    const ours = formatForkId(forkId(loadChainSpec(genesisFile), headAt(Date.now())));
    assert.equal(formatForkId(decodeEthEntry(rec.pairs.get('eth')!)!), ours);
    const { body: s } = await getJson<Record<string, any>>(`${api}status`);
    assert.equal(s.id, boot.id);
    assert.equal(s.enr, enr.body.trim());
    assert.equal(s.fork.id, ours);
    assert.equal(s.fork.source, genesisFile);
    assert.equal(s.listen.udpPort, boot.port);
    assert.equal(s.recordSeq, rec.seq.toString());
    assert.equal(s.v5.on, false);
    assert.equal(typeof s.cryptoThreads, 'number');
    assert.ok(s.uptimeSec >= 0);
    assert.equal(s.table.buckets.length, 17);
    assert.equal(s.table.buckets.reduce((a: number, b: number) => a + b, 0), s.table.size);
    assert.ok(s.table.size >= 3, `table holds the three nodes: ${s.table.size}`);
    assert.ok(s.packets.in.ping > 0 && s.packets.out.pong > 0, JSON.stringify(s.packets));
    const byMatch = (m: string) => s.forks.filter((g: { fork: string }) => g.fork === m).reduce((a: number, g: { nodes: number }) => a + g.nodes, 0);
    assert.ok(byMatch('ours') >= 2 && byMatch('other') >= 1, JSON.stringify(s.forks));
  });

  it('lists table nodes with endpoint, fork id and match, seen times and enr seq; filters, pages and writes CSV', async () => {
    const { body } = await getJson<{ total: number; nodes: NodeRow[] }>(`${api}nodes`);
    const row = (id: string) => body.nodes.find((n) => n.id === id)!;
    for (const m of members) {
      const r = row(m.id);
      assert.equal(r.ip, '127.0.0.1');
      assert.equal(r.udpPort, m.port);
      assert.equal(r.source, 'table');
      assert.equal(typeof r.bucket, 'number');
      assert.equal(r.fork, 'ours');
      assert.equal(r.forkId, formatForkId(forkId(loadChainSpec(genesisFile), headAt(Date.now()))));
      assert.ok(r.firstSeen! > Date.now() - 120_000 && r.firstSeen! <= Date.now(), `first seen ${r.firstSeen}`);
      assert.ok(r.lastPong! > Date.now() - 120_000, `last pong ${r.lastPong}`);
      assert.match(r.enrSeq ?? '', /^\d+$/);
    }
    assert.equal(row(stranger.id).fork, 'other');
    assert.equal(row(stranger.id).forkId, formatForkId(forkId(NETWORKS.mainnet, headAt(Date.now()))));

    const ours = await getJson<{ total: number; nodes: NodeRow[] }>(`${api}nodes?fork=other`);
    assert.deepEqual(ours.body.nodes.map((n) => n.id), [stranger.id]);
    const search = await getJson<{ total: number; nodes: NodeRow[] }>(`${api}nodes?q=${members[0].id.slice(0, 20)}`);
    assert.deepEqual(search.body.nodes.map((n) => n.id), [members[0].id]);
    const p0 = await getJson<{ total: number; offset: number; limit: number; nodes: NodeRow[] }>(`${api}nodes?limit=1`);
    const p1 = await getJson<{ total: number; offset: number; limit: number; nodes: NodeRow[] }>(`${api}nodes?limit=1&offset=1`);
    assert.equal(p0.body.nodes.length, 1);
    assert.equal(p1.body.offset, 1);
    assert.notEqual(p0.body.nodes[0].id, p1.body.nodes[0].id);
    assert.equal(p0.body.total, body.total);

    const csv = await httpGet(`${api}nodes?format=csv&source=table`);
    assert.match(csv.type ?? '', /^text\/csv/);
    const lines = csv.body.trimEnd().split('\n');
    assert.equal(lines[0], 'id,ip,udpPort,tcpPort,source,bucket,live,enrSeq,forkId,fork,firstSeen,lastSeen,lastPong');
    const strangerLine = lines.find((l) => l.startsWith(stranger.id))!;
    assert.equal(strangerLine.split(',')[1], '127.0.0.1');
    assert.equal(strangerLine.split(',')[9], 'other');
  });

  it('bound to loopback, refuses requests addressed to another host name (DNS rebinding) with 403, and serves loopback names', async () => {
    const { port } = new URL(api);
    const get = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: Number(port), path: '/status', headers: { Host: host } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
    for (const host of ['attacker.example', `attacker.example:${port}`, '192.168.1.7', '[2001:db8::1]:80']) {
      const r = await get(host);
      assert.equal(r.status, 403, host);
      assert.match((JSON.parse(r.body) as { error: string }).error, /refused: this API is bound to 127\.0\.0\.1; open it by a loopback name/);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, 'app.localhost']) assert.equal((await get(host)).status, 200, host);
    assert.equal(hostAllowed('0.0.0.0', 'node.example.org'), true, 'bound beyond loopback, the operator chose who reaches it');
  });

  it('answers unknown paths 404, other methods 405 and bad parameters 400, each with a JSON error', async () => {
    const notFound = await getJson<{ error: string }>(`${api}admin`);
    assert.equal(notFound.status, 404);
    assert.match(notFound.body.error, /no such path: \/admin/);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`${api}status`, { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
      assert.match(((await r.json()) as { error: string }).error, /read-only/);
    }
    const cases: Array<[string, RegExp]> = [
      ['nodes?limit=0', /invalid limit "0": expected an integer from 1 to 1000/],
      ['nodes?limit=abc', /invalid limit "abc"/],
      ['nodes?offset=-1', /invalid offset "-1"/],
      ['nodes?format=xml', /invalid format "xml": expected json or csv/],
      ['nodes?fork=mine', /invalid fork "mine"/],
      ['nodes?source=db', /invalid source "db"/],
      ['nodes?sort=id', /unknown parameter "sort"/],
      ['nodes?limit=1&limit=2', /parameter limit given 2 times/],
      ['status?verbose=1', /unknown parameter "verbose": this path takes none/],
    ];
    for (const [q, re] of cases) {
      const r = await getJson<{ error: string }>(`${api}${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.body.error, re, q);
    }
  });

  it('serves the Prometheus metrics of --metrics-addr at /metrics', async () => {
    const r = await httpGet(`${api}metrics`);
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^discv4_packets_in_total\{type="ping"\} [1-9]/m);
    assert.match(r.body, new RegExp(`^discv4_info\\{version="[^"]+",node_id="${boot.id}"\\} 1$`, 'm'));
  });

  it('lists a ban made with `discv4 ban` and the source it refuses most, with the reason', async () => {
    const ban = await runCli(['ban', '127.0.0.2', '--datadir', 'boot', '--reason', 'http test'], { cwd });
    assert.equal(ban.code, 0, ban.stderr);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
    try {
      const deadline = Date.now() + 15_000;
      let body: { bans: Array<{ target: string; reason: string; kind: string }>; topRefused: Array<{ ip: string; count: number; lastReason: string }> };
      for (;;) {
        // The bootnode re-reads its ban list every 5 s; until then these datagrams are plain garbage.
        sock.send(Buffer.alloc(120, 1), boot.port, '127.0.0.1');
        body = (await getJson<typeof body>(`${api}bans`)).body;
        if (body.topRefused.some((t) => t.ip === '127.0.0.2')) break;
        if (Date.now() > deadline) throw new Error(`127.0.0.2 never refused: ${JSON.stringify(body)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(body.bans.map((b) => [b.target, b.kind, b.reason]), [['127.0.0.2', 'ip', 'http test']]);
      const top = body.topRefused.find((t) => t.ip === '127.0.0.2')!;
      assert.equal(top.lastReason, 'banned');
      assert.ok(top.count >= 1);
      const { body: s } = await getJson<{ bans: number; drops: Record<string, number> }>(`${api}status`);
      assert.equal(s.bans, 1);
      assert.ok(s.drops.banned >= 1);
    } finally {
      sock.close();
      await runCli(['unban', '127.0.0.2', '--datadir', 'boot'], { cwd });
    }
  });

  describe('the dashboard in headless Chromium', () => {
    let browser: Browser;

    before(async function () {
      assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium; .ci/run does it)`);
      const puppeteer = await import('puppeteer-core');
      browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    });

    after(async () => {
      await browser?.close();
    });

    it('renders live packet and drop charts, bucket fill, nodes by fork id and the searchable node table, with no console errors', async () => {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 1500 });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      const res = await page.goto(api, { waitUntil: 'load' });
      assert.equal(res?.status(), 200);
      await page.waitForFunction(() => document.getElementById('conn')!.textContent === 'live', { timeout: 15_000 });
      // Wait for the node table and fork rows to be filled from the API.
      await page.waitForFunction((n: number) => document.querySelectorAll('#node-rows tr[data-id]').length >= n, { timeout: 15_000 }, 3);

      const shown = await page.evaluate(() => ({
        enode: document.getElementById('enode')!.textContent,
        id: document.getElementById('id')!.textContent,
        inRate: document.getElementById('in-rate')!.textContent,
        outRate: document.getElementById('out-rate')!.textContent,
        packetPaths: [...document.querySelectorAll('#chart-packets path')].map((p) => ({ series: p.getAttribute('data-series'), d: p.getAttribute('d') ?? '' })),
        buckets: [...document.querySelectorAll('#chart-buckets rect')].map((r) => Number(r.getAttribute('data-count'))),
        forks: [...document.querySelectorAll('#forks .forkrow')].map((r) => r.getAttribute('data-fork')),
        rows: [...document.querySelectorAll('#node-rows tr[data-id]')].map((r) => r.getAttribute('data-id')),
        tableCounter: document.querySelector('[data-counter="table nodes"] b')!.textContent,
        packetsIn: Number(document.querySelector('[data-counter="packets in"] b')!.textContent),
      }));
      assert.equal(shown.enode, boot.enode);
      assert.equal(shown.id, boot.id);
      // Live numbers: the rates are numbers, both series are drawn, and the "in" line rises above zero somewhere.
      assert.match(shown.inRate ?? '', /^\d+(\.\d+)?$/);
      assert.match(shown.outRate ?? '', /^\d+(\.\d+)?$/);
      assert.deepEqual(shown.packetPaths.map((p) => p.series), ['in', 'out']);
      const ys = (d: string) => [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => Number(m[2]));
      const inYs = ys(shown.packetPaths[0].d);
      assert.ok(inYs.length >= 1, `the in series has points: ${shown.packetPaths[0].d}`);
      assert.ok(Math.min(...inYs) < 164, `the in series shows traffic (a point above the zero line at y=164): ${shown.packetPaths[0].d}`);
      assert.ok(shown.packetsIn > 0);
      const { body: s } = await getJson<{ table: { size: number; buckets: number[] } }>(`${api}status`);
      assert.equal(shown.buckets.length, 17);
      assert.equal(shown.buckets.reduce((a, b) => a + b, 0), Number(shown.tableCounter));
      assert.ok(Number(shown.tableCounter) >= 3 && Math.abs(Number(shown.tableCounter) - s.table.size) <= 1);
      assert.ok(shown.forks.includes('ours') && shown.forks.includes('other'), JSON.stringify(shown.forks));
      for (const m of [...members, stranger]) assert.ok(shown.rows.includes(m.id), `node ${m.id.slice(0, 8)} listed`);

      // Drops: garbage datagrams show up as a reason in the drops chart's legend.
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      for (let i = 0; i < 20; i++) sock.send(Buffer.alloc(200, 7), boot.port, '127.0.0.1');
      await page.waitForFunction(() => document.querySelectorAll('#drops-legend [data-reason]').length > 0, { timeout: 15_000 });
      sock.close();
      const dropPaths = await page.evaluate(() => [...document.querySelectorAll('#chart-drops path')].length);
      assert.ok(dropPaths >= 1);

      // Search narrows the table to the one node.
      const target = members[1].id;
      await page.type('#search', target.slice(0, 24));
      await page.waitForFunction((id: string) => {
        const rows = [...document.querySelectorAll('#node-rows tr[data-id]')];
        return rows.length === 1 && rows[0].getAttribute('data-id') === id;
      }, { timeout: 10_000 }, target);
      await page.click('#search', { count: 3 });
      await page.keyboard.press('Backspace');
      // Cleared: all three again.
      await page.waitForFunction((n: number) => document.querySelectorAll('#node-rows tr[data-id]').length >= n, { timeout: 10_000 }, 3);

      const shot = process.env.DASHBOARD_SCREENSHOT ?? path.join(os.tmpdir(), `discv4-dashboard-${process.pid}.png`);
      await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
      const png = fs.readFileSync(shot);
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      if (process.env.DASHBOARD_SCREENSHOT === undefined) fs.rmSync(shot);

      // Self-contained: every request went to the node itself.
      const origin = new URL(api).origin;
      assert.deepEqual(requested.filter((u) => !u.startsWith(origin)), []);
      assert.deepEqual(problems, []);
      await page.close();
    });
  });
});
