import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as src from '../src';
import { REPO_ROOT } from './helpers/vectors';

/**
 * A real ES-module import. (tsx compiles test files to CommonJS and turns a
 * literal `import()` into require(), which would not load the .mjs entry as
 * the ESM loader does.)
 */
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

const CJS_ENTRY = path.join(REPO_ROOT, 'dist', 'cjs', 'index.js');
const ESM_ENTRY = path.join(REPO_ROOT, 'dist', 'esm', 'index.mjs');
const NAMES = [
  'encodePacket',
  'decodePacket',
  'writePacket',
  'readPacket',
  'PacketView',
  'DecodeError',
  'DecodeStatus',
  'DiscError',
  'InvalidArgumentError',
  'PacketType',
  'keccak256',
  'nodeIdFromPrivateKey',
  'sign',
  'recover',
  'nativeCrypto',
  'ipToBytes',
  'ipToString',
  'logDistance',
  'distCmp',
  'nodeHash',
] as const;

type Api = typeof src;

describe('built package entry points (dist; `npm run build` makes them)', () => {
  before(function () {
    for (const f of [CJS_ENTRY, ESM_ENTRY]) {
      assert.ok(fs.existsSync(f), `${path.relative(REPO_ROOT, f)} is missing: run \`npm run build\` (npm test does) before mocha`);
    }
  });

  it('loads the CommonJS entry with require() and exposes the API', () => {
    const cjs = require(CJS_ENTRY) as Record<string, unknown>;
    for (const name of NAMES) assert.ok(cjs[name] !== undefined, `dist/cjs is missing ${name}`);
    assert.equal(typeof cjs.encodePacket, 'function');
    assert.equal(typeof cjs.decodePacket, 'function');
  });

  it('loads the ES module entry with import() and exposes the same API', async () => {
    const esm = await importEsm(pathToFileURL(ESM_ENTRY).href);
    assert.equal(Object.prototype.toString.call(esm), '[object Module]');
    for (const name of NAMES) assert.ok(esm[name] !== undefined, `dist/esm is missing ${name}`);
  });

  it('shares one implementation between require and import: DecodeError and PacketType are the same objects', async () => {
    const cjs = require(CJS_ENTRY) as Record<string, unknown>;
    const esm = await importEsm(pathToFileURL(ESM_ENTRY).href);
    for (const name of NAMES) assert.equal(esm[name], cjs[name], `${name} differs between the CJS and ESM entries`);
    assert.equal(esm.default, cjs);
  });

  it('resolves the package name through its exports map: require -> dist/cjs, import -> dist/esm', async () => {
    assert.equal(require.resolve('discv4-native'), CJS_ENTRY);
    const byName = await importEsm('discv4-native');
    const byPath = await importEsm(pathToFileURL(ESM_ENTRY).href);
    assert.equal(byName, byPath);
  });

  it("resolves 'discv4-native/dpt' (the ethjs-compatible DPT) for require and import, one implementation", async () => {
    const cjsPath = require.resolve('discv4-native/dpt');
    assert.equal(cjsPath, path.join(REPO_ROOT, 'dist', 'cjs', 'dpt', 'index.js'));
    const cjs = require(cjsPath) as Record<string, unknown>;
    const esm = await importEsm('discv4-native/dpt');
    for (const name of ['DPT', 'Server', 'KBucket', 'BanList', 'encode', 'decode', 'pk2id', 'id2pk', 'DNS', 'ENR']) {
      assert.equal(typeof cjs[name], 'function', `dist/cjs/dpt is missing ${name}`);
      assert.equal(esm[name], cjs[name], `${name} differs between the CJS and ESM dpt entries`);
    }
    // The root exports the same DPT class.
    assert.equal((require(CJS_ENTRY) as Record<string, unknown>).DPT, cjs.DPT);
  });

  it('ships type declarations for both entries, as package.json points to them', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      main: string;
      types: string;
      exports: { '.': { import: { types: string; default: string }; require: { types: string; default: string } } };
    };
    const dot = pkg.exports['.'];
    for (const rel of [pkg.main, pkg.types, dot.import.types, dot.import.default, dot.require.types, dot.require.default]) {
      assert.ok(fs.existsSync(path.join(REPO_ROOT, rel)), `${rel} (named in package.json) does not exist`);
    }
    assert.equal(path.join(REPO_ROOT, dot.require.default), CJS_ENTRY);
    assert.equal(path.join(REPO_ROOT, dot.import.default), ESM_ENTRY);
  });

  it('works end to end through the ES module entry: encode, decode, and throw DecodeError', async () => {
    const esm = (await importEsm(pathToFileURL(ESM_ENTRY).href)) as unknown as Api;
    const cjs = require(CJS_ENTRY) as Api;
    const key = Buffer.alloc(32, 7);
    const packet = esm.encodePacket(esm.PacketType.Findnode, { target: Buffer.alloc(64, 1), expiration: 4102444800 }, key);
    // The built code and the sources agree byte for byte.
    assert.ok(packet.equals(src.encodePacket(src.PacketType.Findnode, { target: Buffer.alloc(64, 1), expiration: 4102444800 }, key)));
    const p = esm.decodePacket(packet);
    assert.equal(p.type, esm.PacketType.Findnode);
    assert.ok(p.nodeId.equals(esm.nodeIdFromPrivateKey(key)));
    let caught: unknown;
    try {
      esm.decodePacket(packet.subarray(0, 50));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof cjs.DecodeError, 'an error thrown via import is an instance of the required class');
    assert.ok(caught instanceof cjs.DiscError);
    assert.equal((caught as InstanceType<Api['DecodeError']>).code, 'TOO_SMALL');
  });
});
