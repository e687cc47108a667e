/**
 * Operator packaging: the Dockerfile (with .dockerignore) and the systemd
 * unit packaging/systemd/discv4-bootnode.service.
 *
 * No Docker engine runs in the tests (nor on CI), so the image is never
 * built here. Instead the Dockerfile is parsed and checked against this
 * repository: two stages, a non-root runtime user, the /data volume, the
 * UDP and metrics ports, every path the runtime stage copies out of the
 * build stage is one the build makes here (dist/ from `npm run build`, the
 * addon from `npm install`; so run `npm run build` first, as npm test
 * does), the addon lands where src/crypto/native.ts looks for it, the CMD
 * flags are accepted by the CLI, and the HEALTHCHECK script works against
 * a running bootnode.
 *
 * The unit file is parsed and its hardening checked always. When
 * /usr/bin/systemd-analyze exists, `systemd-analyze verify` runs too, on a
 * temporary copy in which only the install directory (/opt/discv4-native)
 * is replaced by this repository (and the node binary by this test's node
 * if the unit's one does not exist here): verify checks that ExecStart's
 * binary exists, and the test itself checks that the script does. Without
 * systemd-analyze the test still passes on the parsed checks and says so
 * in its title (no skip). Nothing here uses the network.
 */
import * as assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/vectors';
import { startBootnode, stop, tempDir } from './cli/helpers';
import { SHUTDOWN_TIMEOUT_MS } from '../src/cli/bootnode';

const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile');
const DOCKERIGNORE = path.join(REPO_ROOT, '.dockerignore');
const UNIT = path.join(REPO_ROOT, 'packaging', 'systemd', 'discv4-bootnode.service');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const INSTALL_DIR = '/opt/discv4-native';
const TSX_CJS = require.resolve('tsx/cjs');
const CLI_SRC = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** The file name src/crypto/native.ts loads from <package root>/build/Release. */
const ADDON = 'discv4_native.node';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

// ---- Dockerfile parsing ----------------------------------------------------

interface Instruction {
  cmd: string;
  /** The arguments as written (continuations joined). */
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\')) {
      line = line.slice(0, -1);
      i++;
      while (i < lines.length && lines[i].trim().startsWith('#')) i++;
      if (i >= lines.length) break;
      line += ` ${lines[i].trim()}`;
    }
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    out.push({ cmd: m[1].toUpperCase(), args: m[2].replace(/\s+/g, ' ').trim(), line: start + 1 });
  }
  return out;
}

/** Stages, with `${ARG}` of global ARG defaults substituted in FROM. */
function stagesOf(ins: Instruction[]): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const i of ins) {
    if (i.cmd === 'FROM') {
      const words = i.args.split(' ').filter((w) => !w.startsWith('--'));
      const image = words[0].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs.get((a ?? b)!) ?? '');
      const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      stages.push({ image, name, instructions: [] });
    } else if (stages.length === 0) {
      if (i.cmd === 'ARG') {
        const [k, v] = i.args.split('=');
        globalArgs.set(k, v ?? '');
      }
    } else {
      stages[stages.length - 1].instructions.push(i);
    }
  }
  return stages;
}

/** The JSON (exec) form of CMD / ENTRYPOINT / HEALTHCHECK CMD. */
function execForm(args: string, what: string): string[] {
  assert.ok(args.startsWith('['), `${what} must use the exec (JSON) form so signals reach node: ${args}`);
  const v = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${what} is not a JSON array of strings`);
  return v as string[];
}

function last(stage: Stage, cmd: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.cmd === cmd).pop();
}

function workdir(stage: Stage): string {
  const w = last(stage, 'WORKDIR');
  assert.ok(w !== undefined, `stage ${stage.name ?? stage.image} sets no WORKDIR`);
  return w.args;
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.cmd === 'COPY' || i.cmd === 'ADD')
    .map((i) => {
      assert.equal(i.cmd, 'COPY', `line ${i.line}: use COPY, not ADD`);
      const words = i.args.split(' ');
      const flags = words.filter((w) => w.startsWith('--'));
      const rest = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: rest.slice(0, -1), dest: rest[rest.length - 1] };
    });
}

/** Docker's destination: relative to WORKDIR; a directory if it ends in '/' or is '.' / './'. */
function destPath(dest: string, wd: string): string {
  return path.posix.resolve(wd, dest);
}

/** .dockerignore as Docker reads it: `**`, `*`, `?`, `!` exceptions, the last match wins, a directory excludes its contents. */
function dockerignore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      let re = '';
      for (let i = 0; i < pat.length; i++) {
        const c = pat[i];
        if (c === '*' && pat[i + 1] === '*') {
          re += '.*';
          i++;
          if (pat[i + 1] === '/') i++;
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (rel: string) => {
    const parts = path.posix.normalize(rel).split('/');
    let excluded = false;
    for (const r of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (r.re.test(parts.slice(0, n).join('/'))) {
          excluded = !r.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

// ---- unit file parsing -----------------------------------------------------

type Unit = Map<string, Map<string, string[]>>;

/** Sections -> key -> values (a key may repeat; empty assignments kept as ''). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s !== null) {
      section = new Map();
      unit.set(s[1], section);
      continue;
    }
    assert.ok(section !== undefined, `unit: "${line}" is outside any section`);
    assert.ok(!line.endsWith('\\'), `unit: keep "${line}" on one line (the checks here do not join continuations)`);
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `unit: "${line}" is not key=value`);
    const key = line.slice(0, eq).trim();
    const values = section.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    section.set(key, values);
  }
  return unit;
}

function one(unit: Unit, section: string, key: string): string | undefined {
  const v = unit.get(section)?.get(key);
  if (v === undefined) return undefined;
  assert.equal(v.length, 1, `[${section}] ${key}= is set ${v.length} times`);
  return v[0];
}

function isYes(v: string | undefined): boolean {
  return v !== undefined && ['yes', 'true', 'on', '1'].includes(v.toLowerCase());
}

/** The service's ExecStart split into node binary, script and arguments. */
function execStart(unit: Unit): { node: string; script: string; args: string[] } {
  const v = one(unit, 'Service', 'ExecStart');
  assert.ok(v !== undefined, 'no ExecStart');
  assert.ok(!/["'\\$%]/.test(v), `ExecStart uses quoting or expansion; the checks here split on spaces: ${v}`);
  const words = v.split(/\s+/);
  const [node, script, ...args] = words[0] === '/usr/bin/env' ? words.slice(1) : words;
  assert.match(path.basename(node), /^node(js)?$/, `ExecStart does not run node: ${v}`);
  return { node, script, args };
}

/** The hardening the unit must keep (checked from the file, with or without systemd-analyze). */
function checkHardening(unit: Unit): void {
  const svc = unit.get('Service');
  assert.ok(svc !== undefined, 'no [Service] section');
  for (const key of [
    'NoNewPrivileges',
    'ProtectHome',
    'PrivateTmp',
    'PrivateDevices',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
    'ProtectControlGroups',
    'RestrictNamespaces',
    'LockPersonality',
  ]) {
    assert.ok(isYes(one(unit, 'Service', key)), `${key}= must be yes`);
  }
  assert.equal(one(unit, 'Service', 'ProtectSystem'), 'strict');
  assert.equal(one(unit, 'Service', 'SystemCallArchitectures'), 'native');
  assert.equal(one(unit, 'Service', 'CapabilityBoundingSet'), '', 'CapabilityBoundingSet= must be empty (no capabilities)');
  assert.equal(one(unit, 'Service', 'AmbientCapabilities'), '', 'AmbientCapabilities= must be empty');
  const families = one(unit, 'Service', 'RestrictAddressFamilies')?.split(/\s+/) ?? [];
  assert.deepEqual([...families].sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  // V8's JIT needs writable+executable memory: MemoryDenyWriteExecute=yes would kill node at start.
  const mdwe = one(unit, 'Service', 'MemoryDenyWriteExecute');
  assert.ok(mdwe === undefined || !isYes(mdwe), 'MemoryDenyWriteExecute must be off (V8 JIT)');
  const user = one(unit, 'Service', 'User');
  assert.ok(user !== undefined && user !== 'root' && user !== '0', `the service must run as a dedicated user, not ${user ?? 'root (no User=)'}`);
  assert.ok(!isYes(one(unit, 'Service', 'PermissionsStartOnly')), 'PermissionsStartOnly is deprecated');
}

// ---- running the CLI ---------------------------------------------------------

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DISCV4_')) env[k] = v;
  return env;
}

/** Runs the CLI from source (tsx) with `args`; resolves with exit code and output. */
function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', TSX_CJS, CLI_SRC, ...args], { cwd: os.tmpdir(), env: cleanEnv(), timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The bootnode command accepts these flags and values: parsing and
 * validation run before --help is acted on, so exit 0 with the help text
 * means every flag is known to the bootnode command and every value
 * (addresses, ...) is valid. Each flag must also be documented in the help.
 */
async function assertBootnodeAccepts(args: readonly string[], where: string): Promise<void> {
  const flags = args.filter((a) => a.startsWith('-'));
  assert.ok(flags.length > 0, `${where}: no flags`);
  const r = await runCli([...args, '--help']);
  assert.equal(r.code, 0, `${where}: the CLI rejects ${args.join(' ')}: ${r.stderr.trim()}`);
  for (const f of flags) {
    const name = f.replace(/^--?/, '').split('=')[0];
    assert.ok(r.stdout.includes(`--${name} `), `${where}: --${name} is not in the bootnode's help`);
  }
}

function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(args[i]);
    if (m !== null && m[1] === name) return m[2] ?? args[i + 1];
  }
  return undefined;
}

// ---- tests -------------------------------------------------------------------

describe('packaging: Dockerfile', function () {
  this.timeout(60_000);

  const text = fs.readFileSync(DOCKERFILE, 'utf8');
  const stages = stagesOf(parseDockerfile(text));
  const build = stages[0];
  const runtime = stages[stages.length - 1];

  it('is multi-stage: a Node 20 Debian build stage with the node-gyp toolchain, a slim Node 20 runtime', () => {
    assert.ok(stages.length >= 2, `expected >= 2 FROM, got ${stages.length}`);
    assert.match(build.image, /^node:20(\.\d+)*-(bookworm|bullseye|trixie)$/, `build stage image ${build.image}`);
    assert.match(runtime.image, /^node:20(\.\d+)*-(bookworm|bullseye|trixie)-slim$/, `runtime stage image ${runtime.image}`);
    assert.ok(build.name !== undefined, 'the build stage needs a name for COPY --from');
    const runs = build.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args);
    const apt = runs.find((r) => r.includes('apt-get install')) ?? '';
    for (const p of ['python3', 'make', 'g++']) assert.ok(apt.split(' ').includes(p), `the build stage does not install ${p}`);
    const all = runs.join(' && ');
    const at = (s: string) => {
      const i = all.indexOf(s);
      assert.ok(i >= 0, `the build stage does not run \`${s}\``);
      return i;
    };
    assert.ok(at('npm ci') < at('npm run build'), 'npm ci must come before npm run build');
    assert.ok(at('npm run build') < at('npm prune --omit=dev'), 'npm prune --omit=dev must come after the build');
    assert.ok(!/--ignore-scripts/.test(all), 'npm ci must run the install script (it builds the addon)');
  });

  it('copies into the build stage everything npm ci (install + prepare scripts) and npm run build read, none of it dockerignored', () => {
    const ignored = dockerignore(fs.readFileSync(DOCKERIGNORE, 'utf8'));
    const sources = copiesOf(build)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources);
    for (const s of sources) {
      assert.ok(fs.existsSync(path.join(REPO_ROOT, s)), `COPY ${s}: not in the repository`);
      assert.ok(!ignored(s), `COPY ${s}: excluded by .dockerignore`);
    }
    const buildConfig = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { extends?: string };
    const needed = [
      'package.json',
      'package-lock.json',
      'binding.gyp',
      'native/core.cc',
      'src/cli/main.ts',
      'tsconfig.build.json',
      ...(buildConfig.extends !== undefined ? [path.posix.normalize(buildConfig.extends)] : []),
      // files the build script names, e.g. scripts/esm-wrapper.cjs
      ...(pkg.scripts.build.match(/[\w./-]+\.c?js\b/g) ?? []),
    ];
    assert.ok(needed.includes('scripts/esm-wrapper.cjs'), `the build script changed: ${pkg.scripts.build}`);
    const covered = (f: string) => sources.some((s) => s === f || f.startsWith(`${s.replace(/\/$/, '')}/`));
    for (const f of needed) {
      assert.ok(fs.existsSync(path.join(REPO_ROOT, f)), `${f} is not in the repository`);
      assert.ok(covered(f), `the build stage does not COPY ${f}`);
      assert.ok(!ignored(f), `${f} is excluded by .dockerignore`);
    }
    // Host outputs must not leak into the image's build.
    for (const p of ['node_modules', 'build', 'dist', '.git']) assert.ok(ignored(p), `.dockerignore must exclude ${p}`);
  });

  it('runtime stage: non-root USER, VOLUME /data, UDP and metrics ports, SIGTERM', () => {
    const user = last(runtime, 'USER');
    assert.ok(user !== undefined, 'the runtime stage sets no USER (it would run as root)');
    const [u] = user.args.split(':');
    assert.ok(u !== 'root' && u !== '0' && u !== '', `USER ${user.args} is root`);
    const run = runtime.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args).join(' ');
    if (/^\d+$/.test(u)) assert.ok(run.includes(`--uid ${u}`), `no user with uid ${u} is created`);
    // The volume's mount point exists and belongs to that user, so a new named volume does too.
    assert.ok(/mkdir -p \/data/.test(run) && /chown \S+ \/data/.test(run), 'the runtime stage must create /data owned by the service user');

    const volumes = runtime.instructions
      .filter((i) => i.cmd === 'VOLUME')
      .flatMap((i) => (i.args.startsWith('[') ? (JSON.parse(i.args) as string[]) : i.args.split(' ')));
    assert.ok(volumes.includes('/data'), `VOLUME /data missing (got ${volumes.join(', ') || 'none'})`);

    const ports = runtime.instructions.filter((i) => i.cmd === 'EXPOSE').flatMap((i) => i.args.split(' '));
    const cmd = execForm(last(runtime, 'CMD')!.args, 'CMD');
    const udp = flagValue(cmd, 'addr')!.split(':').pop();
    const metrics = flagValue(cmd, 'metrics-addr')!.split(':').pop();
    assert.ok(ports.includes(`${udp}/udp`), `EXPOSE ${udp}/udp missing (got ${ports.join(' ')})`);
    assert.ok(ports.includes(`${metrics}/tcp`) || ports.includes(metrics!), `EXPOSE ${metrics}/tcp missing (got ${ports.join(' ')})`);
    assert.ok(!ports.includes(`${udp}/tcp`) && !ports.includes(udp!), 'discovery is UDP only');
    const stopSignal = last(runtime, 'STOPSIGNAL')?.args ?? 'SIGTERM';
    assert.equal(stopSignal, 'SIGTERM', 'the CLI shuts down cleanly on SIGTERM');
  });

  it('runtime stage copies only build outputs that exist after the build, and the addon where native.ts looks', () => {
    assert.ok(
      fs.existsSync(path.join(REPO_ROOT, 'dist', 'cjs', 'cli', 'main.js')),
      'dist/cjs/cli/main.js is missing: run `npm run build` (npm test does) before mocha',
    );
    const buildWd = workdir(build);
    const runWd = workdir(runtime);
    const copies = copiesOf(runtime);
    const placed = new Map<string, string>(); // runtime path -> repo path it comes from
    for (const c of copies) {
      assert.ok(c.from === undefined || c.from === build.name, `COPY --from=${c.from}: not the build stage`);
      assert.equal(c.sources.length, 1, `COPY ${c.sources.join(' ')}: one source per COPY keeps the destinations checkable`);
      const src = c.sources[0];
      assert.ok(!/[*?[]/.test(src), `COPY ${src}: no wildcards (a wildcard that matches nothing copies nothing)`);
      const rel = c.from === undefined ? src : path.posix.relative(buildWd, path.posix.resolve(buildWd, src));
      assert.ok(!rel.startsWith('..'), `COPY --from=${c.from} ${src}: outside the build stage's WORKDIR ${buildWd}`);
      assert.ok(fs.existsSync(path.join(REPO_ROOT, rel)), `COPY ${src}: ${rel} does not exist after the build in this repository`);
      const dest = destPath(c.dest, runWd);
      const target = c.dest.endsWith('/') ? path.posix.join(dest, path.posix.basename(rel)) : dest;
      placed.set(target, rel);
    }
    // Everything the runtime loads, at the paths the code expects, and nothing of the toolchain.
    const expected: Record<string, string> = {
      [path.posix.join(runWd, 'dist')]: 'dist',
      [path.posix.join(runWd, 'node_modules')]: 'node_modules',
      [path.posix.join(runWd, 'package.json')]: 'package.json',
      [path.posix.join(runWd, 'LICENSE')]: 'LICENSE',
      [path.posix.join(runWd, 'build', 'Release', ADDON)]: path.posix.join('build', 'Release', ADDON),
    };
    assert.deepEqual(Object.fromEntries([...placed].sort()), Object.fromEntries(Object.entries(expected).sort()));

    // The addon's name and place are the ones the loader and binding.gyp use:
    // native.ts walks up from dist/cjs/crypto to the package root, then build/Release.
    const loader = fs.readFileSync(path.join(REPO_ROOT, 'src', 'crypto', 'native.ts'), 'utf8');
    assert.ok(loader.includes(`'${ADDON}'`) && /path\.join\(dir, 'build', build, /.test(loader), 'src/crypto/native.ts loads the addon from elsewhere now');
    assert.ok(fs.readFileSync(path.join(REPO_ROOT, 'binding.gyp'), 'utf8').includes(`'target_name': '${ADDON.replace(/\.node$/, '')}'`));
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', 'cjs', 'crypto', 'native.js')), 'dist/cjs/crypto/native.js missing');
  });

  it('ENTRYPOINT runs the package bin with node; the CMD flags are accepted by the bootnode command', async () => {
    const entry = execForm(last(runtime, 'ENTRYPOINT')!.args, 'ENTRYPOINT');
    assert.deepEqual(entry, ['node', pkg.bin.discv4]);
    assert.equal(pkg.scripts.start, `node ${pkg.bin.discv4}`);
    const cmd = execForm(last(runtime, 'CMD')!.args, 'CMD');
    assert.equal(flagValue(cmd, 'datadir'), '/data', 'CMD must keep the data dir on the volume');
    assert.equal(flagValue(cmd, 'addr'), '0.0.0.0:30303');
    assert.equal(flagValue(cmd, 'metrics-addr'), '0.0.0.0:9090', 'metrics must listen beyond the container loopback to be published');
    await assertBootnodeAccepts(cmd, 'Dockerfile CMD');
    // The check can fail: a misspelt flag is a usage error (exit 2).
    const bad = await runCli(['--data-dir', '/data', '--help']);
    assert.equal(bad.code, 2, `a misspelt flag was accepted: ${bad.stdout}`);
  });

  it('HEALTHCHECK uses node only (no curl in a slim image) and succeeds against a running bootnode, fails without one', async () => {
    const hc = last(runtime, 'HEALTHCHECK');
    assert.ok(hc !== undefined, 'no HEALTHCHECK');
    const m = /^(.*?)\bCMD\s+(\[.*\])$/.exec(hc.args);
    assert.ok(m !== null, `HEALTHCHECK ... CMD [exec form] expected: ${hc.args}`);
    const probe = execForm(m[2], 'HEALTHCHECK CMD');
    assert.equal(probe[0], 'node');
    assert.equal(probe[1], '-e');
    const script = probe[2];
    const cmd = execForm(last(runtime, 'CMD')!.args, 'CMD');
    const metricsPort = flagValue(cmd, 'metrics-addr')!.split(':').pop();
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    assert.ok(script.includes(url), `the probe must fetch ${url} (the CMD's metrics port): ${script}`);
    const timeout = /--timeout=(\d+)s/.exec(m[1]);
    assert.ok(timeout !== null && Number(timeout[1]) <= 10, 'HEALTHCHECK needs a --timeout of a few seconds');

    const runProbe = (target: string) =>
      spawnSync(process.execPath, ['-e', script.replace(url, target)], { timeout: 15_000, encoding: 'utf8' });

    const dir = tempDir('discv4-pkg-');
    const node = await startBootnode(['--datadir', dir, '--metrics-addr', '127.0.0.1:0', '--status-interval', '0'], dir);
    try {
      assert.ok(node.metricsUrl !== undefined, 'the bootnode printed no metrics URL');
      const live = runProbe(node.metricsUrl);
      assert.equal(live.status, 0, `the probe failed against a live bootnode: ${live.stderr}`);
    } finally {
      const r = await stop(node, 'SIGTERM');
      // What `docker stop` relies on: SIGTERM ends the bootnode cleanly and in time.
      assert.equal(r.code, 0, `SIGTERM: exit ${r.code} ${r.stderr}`);
      assert.ok(r.ms < SHUTDOWN_TIMEOUT_MS + 1000, `SIGTERM shutdown took ${r.ms} ms`);
    }
    const dead = runProbe(node.metricsUrl!);
    assert.equal(dead.status, 1, 'the probe must fail when nothing answers');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('packaging: systemd unit', function () {
  this.timeout(60_000);

  const text = fs.readFileSync(UNIT, 'utf8');
  const unit = parseUnit(text);

  it('runs the bootnode from the install dir as a dedicated user with its state in StateDirectory', () => {
    assert.equal(one(unit, 'Install', 'WantedBy'), 'multi-user.target');
    assert.equal(one(unit, 'Service', 'Type') ?? 'simple', 'simple');
    assert.equal(one(unit, 'Service', 'StateDirectory'), 'discv4');
    assert.equal(one(unit, 'Service', 'WorkingDirectory'), INSTALL_DIR);
    const { script, args } = execStart(unit);
    assert.equal(script, path.posix.join(INSTALL_DIR, pkg.bin.discv4));
    assert.equal(flagValue(args, 'datadir'), '/var/lib/discv4', 'the datadir must be the StateDirectory');
    assert.ok(flagValue(args, 'addr') !== undefined, 'ExecStart sets no --addr');
    // Install steps are documented in the file.
    for (const step of ['useradd', 'daemon-reload', 'enable --now', 'npm ci', ADDON]) {
      assert.ok(text.includes(step), `the install comment does not mention ${step}`);
    }
  });

  it('restarts on failure, stops with SIGTERM and gives the DB flush time', () => {
    assert.equal(one(unit, 'Service', 'Restart'), 'on-failure');
    const rs = one(unit, 'Service', 'RestartSec');
    assert.ok(rs !== undefined && Number.parseFloat(rs) >= 1, `RestartSec=${rs}`);
    assert.equal(one(unit, 'Service', 'KillSignal') ?? 'SIGTERM', 'SIGTERM');
    const ts = one(unit, 'Service', 'TimeoutStopSec');
    assert.ok(ts !== undefined && /^\d+s?$/.test(ts), `TimeoutStopSec=${ts}: set it in seconds`);
    assert.ok(Number.parseInt(ts, 10) * 1000 > SHUTDOWN_TIMEOUT_MS, `TimeoutStopSec=${ts} must exceed the CLI's own ${SHUTDOWN_TIMEOUT_MS} ms shutdown limit`);
    const nofile = one(unit, 'Service', 'LimitNOFILE');
    assert.ok(nofile !== undefined && Number(nofile.split(':')[0]) >= 4096, `LimitNOFILE=${nofile}`);
  });

  it('keeps its hardening (parsed from the file)', () => {
    checkHardening(unit);
    assert.match(text, /MemoryDenyWriteExecute[^\n]*\n?[^\n]*(JIT|W\+X|writable and executable)/i, 'say why MemoryDenyWriteExecute is off');
  });

  it('ExecStart flags are accepted by the bootnode command', async () => {
    await assertBootnodeAccepts(execStart(unit).args, 'unit ExecStart');
  });

  it('passes systemd-analyze verify', async function () {
    if (!fs.existsSync(SYSTEMD_ANALYZE)) {
      // No systemd here: the parsed checks are all there is. Say so in the report.
      this.test!.title += ` [NOTE: ${SYSTEMD_ANALYZE} missing: checked by parsing the unit only]`;
      checkHardening(unit);
      return;
    }
    const { node, script } = execStart(unit);
    // A copy whose paths exist here: the install dir becomes this repository
    // (so the script it runs is this repository's build), and the node binary
    // becomes this test's node only if the unit's one is absent on this machine.
    let copy = text.split(INSTALL_DIR).join(REPO_ROOT);
    if (!fs.existsSync(node)) copy = copy.split(`${node} `).join(`${process.execPath} `);
    const localScript = script.replace(INSTALL_DIR, REPO_ROOT);
    assert.ok(fs.existsSync(localScript), `${path.relative(REPO_ROOT, localScript)} missing: run \`npm run build\` first`);
    const dir = tempDir('discv4-unit-');
    const file = path.join(dir, path.basename(UNIT));
    fs.writeFileSync(file, copy);
    try {
      const r = spawnSync(SYSTEMD_ANALYZE, ['verify', file], { encoding: 'utf8', timeout: 30_000 });
      // verify exits 0 even for unknown keys or bad values: those are warnings naming the file.
      const diagnostics = `${r.stdout}${r.stderr}`
        .split('\n')
        .filter((l) => l.includes(path.basename(UNIT)));
      assert.equal(r.status, 0, `systemd-analyze verify failed:\n${r.stdout}${r.stderr}`);
      assert.deepEqual(diagnostics, [], 'systemd-analyze verify warns about the unit');

      // The exposure score (systemd >= 250 can rate a unit file offline).
      const sec = spawnSync(SYSTEMD_ANALYZE, ['security', '--offline=true', file], { encoding: 'utf8', timeout: 30_000 });
      const score = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(`${sec.stdout}${sec.stderr}`);
      if (score !== null) {
        assert.ok(Number(score[1]) <= 3, `systemd-analyze security rates the unit ${score[1]} (expected <= 3, "OK")`);
      } else {
        this.test!.title += ' [NOTE: this systemd-analyze cannot rate units offline: exposure not checked]';
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
