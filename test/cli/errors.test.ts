/**
 * What an operator reads when the file system or the network refuses: one
 * line on stderr saying what is wrong and what to do (no errno alone, no
 * stack), exit 1, and nothing created behind their back: a first run that
 * fails on a taken port leaves no key file and no node DB.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { NodeDB } from '../../src/db';
import { osProblem } from '../../src/errors';
import { REPO_ROOT } from '../helpers/vectors';
import { CliResult, killAll, runCli, tempDir } from './helpers';

const ARGS = ['--threads', '1', '--status-interval', '0'];

/** The one stderr line of a failed run, after checking it is exactly one, without a stack. */
function oneLine(r: CliResult): string {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(lines[0], /\n\s+at |Error:/);
  return lines[0];
}

const isRoot = process.getuid?.() === 0;

let nobodyOk: Promise<boolean> | undefined;
/**
 * Whether the CLI can run as user nobody here: only as root, and only
 * where nobody can read the repository (a clone under a 0700 temp
 * directory cannot be). Where not, the permission cases check the message
 * mapping alone.
 */
function canRunAsNobody(): Promise<boolean> {
  if (!isRoot) return Promise.resolve(false);
  nobodyOk ??= new Promise<boolean>((resolve) => {
    const probe = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require('fs').accessSync(${JSON.stringify(path.join(REPO_ROOT, 'src', 'cli', 'main.ts'))})`;
    const c = spawn(process.execPath, ['-e', probe], { cwd: '/', uid: 65534, gid: 65534, stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('close', (code) => resolve(code === 0));
  });
  return nobodyOk;
}

/**
 * Runs the CLI as user nobody (65534), for the permission cases: root may
 * read and write anything, so tests running as root (CI, containers) drop
 * to nobody for them. Only as root.
 */
function runCliAsNobody(args: readonly string[]): Promise<CliResult> {
  return new Promise<CliResult>((resolve) => {
    const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], {
      cwd: '/',
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', TSX_DISABLE_CACHE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
}

describe('CLI: file-system and port errors say what to do', function () {
  this.timeout(60_000);
  after(killAll);

  it('a --datadir under a regular file: the key file cannot be read because a part of the path is a file', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const datadir = path.join(dir, 'afile', 'data');
    const line = oneLine(await runCli(['--datadir', datadir, '--addr', '127.0.0.1:0', ...ARGS], { cwd: dir }));
    assert.match(line, new RegExp(`cannot read key file ${datadir}/nodekey: a part of the path is a regular file, not a directory; move that file away, or choose another --datadir`));
    assert.doesNotMatch(line, /ENOTDIR/);
  });

  it('a regular file where the node DB directory goes: says a file is in the way, and what to do', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'nodes'), 'not a directory');
    const line = oneLine(await runCli(['--datadir', path.join(dir, 'data'), '--addr', '127.0.0.1:0', ...ARGS], { cwd: dir }));
    assert.match(line, /cannot create node DB directory .*\/data\/nodes: a file is in the way where a directory should be; move that file away, or choose another --datadir/);
    assert.doesNotMatch(line, /EEXIST/);
  });

  it('bans on a datadir it cannot read says why, not "no node DB"', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const line = oneLine(await runCli(['bans', '--datadir', path.join(dir, 'afile')], { cwd: dir }));
    assert.match(line, /cannot read node DB at .*afile\/nodes: a part of the path is a regular file/);
    assert.doesNotMatch(line, /no node DB/);
    // A datadir that simply has no DB yet still says so.
    const empty = tempDir();
    assert.match(oneLine(await runCli(['bans', '--datadir', empty], { cwd: empty })), /no node DB at .* \(start the bootnode with --datadir/);
  });

  it('a metrics port in use: says so with a hint, and leaves no key file or node DB behind on a first run', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const dir = tempDir();
      const datadir = path.join(dir, 'data');
      const line = oneLine(await runCli(['--datadir', datadir, '--addr', '127.0.0.1:0', '--metrics-addr', `127.0.0.1:${port}`, ...ARGS], { cwd: dir }));
      assert.equal(line, `discv4: cannot serve metrics on 127.0.0.1:${port}: address already in use; another process listens there (another node?): stop it, or choose another --metrics-addr port`);
      assert.equal(fs.existsSync(datadir), false, 'nothing created');
    } finally {
      taken.close();
    }
  });

  it('a UDP port in use: says so with a hint, and leaves no key file or node DB behind on a first run', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    const port = taken.address().port;
    try {
      const dir = tempDir();
      const datadir = path.join(dir, 'data');
      const line = oneLine(await runCli(['--datadir', datadir, '--addr', `127.0.0.1:${port}`, ...ARGS], { cwd: dir }));
      assert.equal(line, `discv4: cannot bind UDP 127.0.0.1:${port}: address already in use; another process listens there (another node?): stop it, or choose another --addr port`);
      assert.equal(fs.existsSync(datadir), false, 'nothing created');
    } finally {
      taken.close();
    }
  });

  it("a node DB the user may not write: LMDB's lock error becomes permission denied with the fix", async () => {
    // LMDB says "Permission denied: Attempting to setup locks" when it cannot
    // create its lock file. As root (CI) we reproduce it for real as user
    // nobody; the mapping itself is checked either way.
    const p = osProblem(new Error('Permission denied: Attempting to setup locks'));
    assert.deepEqual(p, {
      reason: 'permission denied',
      fix: 'make the directory and its files readable and writable by the user running discv4 (chown), or choose another --datadir',
    });
    // The same from the errno number LMDB's errors carry (code 13, EACCES).
    assert.deepEqual(osProblem(Object.assign(new Error('Permission denied: Attempting to setup locks'), { code: 13 })), p);
    if (!(await canRunAsNobody())) return;
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    // A DB made by root (the owner), read-only to everyone else.
    await (await NodeDB.open(path.join(dir, 'nodes'))).close();
    fs.chmodSync(path.join(dir, 'nodes'), 0o755);
    for (const f of fs.readdirSync(path.join(dir, 'nodes'))) fs.chmodSync(path.join(dir, 'nodes', f), 0o644);
    const r = await runCliAsNobody(['--datadir', dir, '--nodekeyhex', '11'.repeat(32), '--addr', '127.0.0.1:0', ...ARGS]);
    assert.match(oneLine(r), /^discv4: cannot open node DB at .*\/nodes: permission denied; make the directory and its files readable and writable by the user running discv4 \(chown\), or choose another --datadir$/);
  });

  it("LMDB's lock file is a directory: one line naming it and the fix, no crash, on a first run and on a DB that exists", async () => {
    // LMDB's native code crashes (SIGSEGV) on a lock file it cannot map,
    // with no message; the probe's crash read as a corrupt DB. Root can
    // reproduce this one.
    const fresh = tempDir();
    fs.mkdirSync(path.join(fresh, 'nodes', 'nodes.mdb-lock'), { recursive: true });
    const existing = tempDir();
    await (await NodeDB.open(path.join(existing, 'nodes'))).close();
    fs.rmSync(path.join(existing, 'nodes', 'nodes.mdb-lock'));
    fs.mkdirSync(path.join(existing, 'nodes', 'nodes.mdb-lock'));
    for (const dir of [fresh, existing]) {
      const r = await runCli(['--datadir', dir, '--nodekeyhex', '11'.repeat(32), '--addr', '127.0.0.1:0', ...ARGS], { cwd: dir });
      assert.equal(r.signal, null, r.stderr);
      const lock = path.join(dir, 'nodes', 'nodes.mdb-lock');
      assert.equal(
        oneLine(r),
        `discv4: cannot open node DB at ${path.join(dir, 'nodes')}: LMDB's lock file ${lock} is a directory; move it away (LMDB makes a new lock file), or choose another --datadir`,
      );
      assert.ok(fs.statSync(lock).isDirectory(), 'left as it was');
    }
    // bans says the same: the DB is there, something keeps us from it.
    const line = oneLine(await runCli(['bans', '--datadir', existing], { cwd: existing }));
    assert.match(line, /^discv4: cannot open node DB at .*\/nodes: LMDB's lock file .* is a directory; move it away/);
  });

  it('bans on a datadir its user may not read says permission denied, not "no node DB"', async () => {
    const expected = (nodes: string) =>
      `discv4: cannot read node DB at ${nodes}: permission denied; make the directory and its files readable and writable by the user running discv4 (chown), or choose another --datadir`;
    // The line as bans composes it from the errno; for real below where a second user can run it.
    const p = osProblem(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
    assert.equal(`discv4: cannot read node DB at /x/nodes: ${p?.reason}; ${p?.fix}`, expected('/x/nodes'));
    if (!(await canRunAsNobody())) return;
    const dir = tempDir();
    await (await NodeDB.open(path.join(dir, 'nodes'))).close();
    fs.chmodSync(dir, 0o700); // root's alone: nobody cannot even look inside
    assert.equal(oneLine(await runCliAsNobody(['bans', '--datadir', dir])), expected(path.join(dir, 'nodes')));
  });

  it('--writeaddress reads the key beside a running node: the taken ports are not checked', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const tcp = net.createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    try {
      const dir = tempDir();
      const gen = await runCli(['genkey', path.join(dir, 'nodekey')], { cwd: dir });
      assert.equal(gen.code, 0, gen.stderr);
      const r = await runCli(
        ['--datadir', dir, '--writeaddress', '--addr', `127.0.0.1:${udp.address().port}`, '--metrics-addr', `127.0.0.1:${(tcp.address() as net.AddressInfo).port}`],
        { cwd: dir },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, gen.stdout, 'the id of the key genkey wrote');
      assert.deepEqual(fs.readdirSync(dir), ['nodekey'], 'no node DB either');
    } finally {
      udp.close();
      tcp.close();
    }
  });
});
