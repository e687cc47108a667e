/**
 * The package as a consumer gets it: `npm pack` (what npm publishes),
 * unpacked into a scratch project's node_modules, then type-checked by
 * ESM and CommonJS consumers with `strict`, `module: nodenext` and no
 * `skipLibCheck` ("types included" must hold without it). Offline: the
 * scratch project's other packages are links to this repository's
 * node_modules, so nothing is downloaded.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/vectors';

const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const ESM_CONSUMER = `
import { Discovery, decodePacket, encodePacket, generatePrivateKey, PacketType, type Packet } from 'discv4-native';
import { DPT, type PeerInfo } from 'discv4-native/dpt';

const key: Uint8Array = generatePrivateKey();
const ping = encodePacket(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: 30303 }, to: { ip: '127.0.0.1', udpPort: 30303 } }, key);
const p: Packet = decodePacket(ping);
export const kind: string = PacketType[p.type];
export async function run(): Promise<void> {
  const d = await Discovery.start({ privateKey: key, address: '127.0.0.1', port: 0 });
  await d.close();
  const dpt = new DPT(key, { endpoint: { address: '127.0.0.1', udpPort: null, tcpPort: null } });
  const peers: PeerInfo[] = dpt.getPeers();
  dpt.destroy();
  console.log(peers.length);
}
`;

const CJS_CONSUMER = `
import disc = require('discv4-native');
import dpt = require('discv4-native/dpt');

const key: Uint8Array = disc.generatePrivateKey();
const bytes: Buffer = disc.encodePacket(disc.PacketType.EnrRequest, {}, key);
export const size: number = bytes.length;
export const Ctor: typeof dpt.DPT = dpt.DPT;
`;

function tsconfig(files: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'] },
      files,
    },
    null,
    2,
  );
}

describe('the packed package in a consumer project (npm pack, strict, no skipLibCheck)', function () {
  this.timeout(120_000);
  let scratch: string;
  let files: string[];

  before(() => {
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', 'cjs', 'index.d.ts')), 'run `npm run build` first (npm test does)');
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'discv4-consumer-'));
    // The built tree as it is: npm test has just built it.
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: REPO_ROOT, encoding: 'utf8' });
    const info = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info[0].files.map((f) => f.path);
    const pkgDir = path.join(scratch, 'node_modules', 'discv4-native');
    fs.mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(scratch, info[0].filename), '-C', pkgDir, '--strip-components=1']);
    // Every other package: a link to ours (resolution, not download).
    const repoModules = path.join(REPO_ROOT, 'node_modules');
    for (const name of fs.readdirSync(repoModules)) {
      if (name.startsWith('.') || name === 'discv4-native') continue;
      fs.symlinkSync(path.join(repoModules, name), path.join(scratch, 'node_modules', name));
    }
    fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    fs.writeFileSync(path.join(scratch, 'esm.mts'), ESM_CONSUMER);
    fs.writeFileSync(path.join(scratch, 'cjs.cts'), CJS_CONSUMER);
  });

  after(() => {
    if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
  });

  const typecheck = (name: string, consumerFiles: string[]) => {
    fs.writeFileSync(path.join(scratch, name), tsconfig(consumerFiles));
    return spawnSync(process.execPath, [TSC, '-p', name], { cwd: scratch, encoding: 'utf8' });
  };

  it('ships the license, the readme, the built entries and the addon sources, and no tests', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'binding.gyp', 'native/addon.cc', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/dpt.mjs', 'dist/esm/v5.mjs']) {
      assert.ok(files.includes(f), `${f} is not in the package`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('test/') || f.startsWith('src/')), []);
  });

  it('keeps @chainsafe/discv5 out of the declarations of the root and the dpt entries (it lives at discv4-native/v5)', () => {
    const pkgDir = path.join(scratch, 'node_modules', 'discv4-native');
    const offenders = files.filter((f) => f.endsWith('.d.ts') && !f.startsWith('dist/cjs/v5/') && fs.readFileSync(path.join(pkgDir, f), 'utf8').includes('@chainsafe'));
    assert.deepEqual(offenders, []);
  });

  it('type-checks an ES module consumer of the root and the dpt entries', () => {
    const r = typecheck('tsconfig.esm.json', ['esm.mts']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('type-checks a CommonJS consumer of the root and the dpt entries', () => {
    const r = typecheck('tsconfig.cjs.json', ['cjs.cts']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('reports a type error in a consumer (the check is real)', () => {
    fs.writeFileSync(path.join(scratch, 'bad.mts'), `import { encodePacket } from 'discv4-native';\nexport const x: number = encodePacket;\n`);
    const r = typecheck('tsconfig.bad.json', ['bad.mts']);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /bad\.mts.*TS2322/);
  });
});
