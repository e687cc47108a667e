/**
 * Any network from its genesis file (src/node/genesis.ts): the genesis
 * hash computed from a geth genesis.json (state trie of the alloc, then the
 * header) equals the real one for Sepolia and Hoodi (their genesis files,
 * converted from go-ethereum's core/genesis_alloc.go, in
 * test/fixtures/genesis) and go-ethereum's own custom-genesis vector; the
 * fork schedule read from the file gives go-ethereum's fork ids; a devnet
 * file gives the fork id EIP-2124 defines (CRC32 of the genesis hash, then
 * each passed fork as 8 bytes big-endian: computed here with zlib's CRC32,
 * and checked against a value derived by hand).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { forkId, formatForkId, isCompatible, NETWORKS } from '../../src/node/forkid';
import { chainSpec, GenesisError, genesisHash, loadChainSpec, trieRoot } from '../../src/node/genesis';
import { keccak256 } from '../../src/crypto';
import { encodeRlp } from '../../src/wire/rlp';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'genesis');
const GETH_VECTORS: Record<'sepolia' | 'hoodi', Array<[number, number, string, number]>> = {
  // go-ethereum core/forkid/forkid_test.go TestCreation: [head block, head time, hash, next]
  sepolia: [
    [0, 0, 'fe3366e7', 1735371],
    [1735371, 0, 'b96cbd13', 1677557088],
    [1735372, 1677557088, 'f7f9bc08', 1706655072],
    [1735372, 1706655072, '88cf81d9', 1741159776],
    [1735372, 1741159776, 'ed88b5fd', 1760427360],
    [1735372, 1760427360, 'e2ae4999', 1761017184],
    [1735372, 1761017184, '56078a1e', 1761607008],
  ],
  hoodi: [
    [0, 0, 'bef71d30', 1742999832],
    [123, 1742999832, '0929e24e', 1761677592],
    [123, 1761677592, 'e7e0e7ff', 1762365720],
    [123, 1762365720, '3893353e', 1762955544],
    [123, 2000000000, '23aa1351', 0],
  ],
};

const DEVNET_HASH = '5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494';
const devnetConfig = {
  chainId: 32382,
  homesteadBlock: 0,
  eip150Block: 5,
  daoForkBlock: 5,
  byzantiumBlock: 10,
  londonBlock: 0,
  shanghaiTime: 1699999000,
  cancunTime: 1700000000,
  osakaTime: 1700003600,
  bpo1Time: 1700007200,
};
const devnetGenesis = { config: devnetConfig, timestamp: '0x6553f100', gasLimit: '0x1c9c380', difficulty: '0x0', alloc: {} };

function u64be(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

describe('genesis files: genesis hash and fork schedule', () => {
  it('computes the real genesis hash of Sepolia and Hoodi from their genesis.json (alloc state root, London/Shanghai/Cancun header fields)', () => {
    for (const net of ['sepolia', 'hoodi'] as const) {
      const spec = loadChainSpec(path.join(FIXTURES, `${net}.json`));
      assert.equal(spec.hashSource, 'computed');
      assert.equal(spec.genesisHash, NETWORKS[net].genesisHash, net);
    }
  });

  it("gives go-ethereum's fork ids for Sepolia and Hoodi from their genesis files", () => {
    for (const net of ['sepolia', 'hoodi'] as const) {
      const spec = loadChainSpec(path.join(FIXTURES, `${net}.json`));
      for (const [block, time, hash, next] of GETH_VECTORS[net]) {
        assert.equal(formatForkId(forkId(spec, { block, time })), `0x${hash}:${next}`, `${net} at ${block}/${time}`);
      }
    }
  });

  it("matches go-ethereum's custom genesis vector (core/genesis_test.go: homestead at 3, one account with storage)", () => {
    const one = (n: number) => `0x01${'00'.repeat(n - 1)}`;
    const g = { config: { homesteadBlock: 3, ethash: {} }, alloc: { [one(20)]: { balance: '0x1', storage: { [one(32)]: one(32) } } } };
    assert.equal(genesisHash(g).toString('hex'), '89c99d90b79719238d2645c7642f2c9295246e80775b38cfd162b696817fbd50');
  });

  it('builds trie roots as the yellow paper defines them (empty trie, one leaf, shared-prefix extension)', () => {
    assert.equal(trieRoot([]).toString('hex'), '56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
    const k = Buffer.from('01', 'hex');
    const v = Buffer.from('ab', 'hex');
    // One pair: a leaf [hex-prefix(0x20 | ...), value], hashed.
    assert.deepEqual(trieRoot([{ key: k, value: v }]), keccak256(encodeRlp([Buffer.from('2001', 'hex'), v])));
    // 0x01 and 0x02 share nibble 0: extension [0x10, branch], the branch small enough to be inlined; each leaf's remaining path is empty (0x20).
    const branch = Array.from({ length: 17 }, () => Buffer.alloc(0) as Buffer | Buffer[]);
    branch[1] = [Buffer.from('20', 'hex'), v];
    branch[2] = [Buffer.from('20', 'hex'), Buffer.from('cd', 'hex')];
    const expected = keccak256(encodeRlp([Buffer.from('10', 'hex'), branch]));
    assert.deepEqual(trieRoot([{ key: Buffer.from('02', 'hex'), value: Buffer.from('cd', 'hex') }, { key: k, value: v }]), expected);
  });

  it('derives a devnet fork id as EIP-2124 defines it: duplicates, block 0 and forks at or before genesis left out', () => {
    const spec = chainSpec(devnetGenesis, DEVNET_HASH);
    assert.deepEqual([...new Set(spec.blocks.filter((b) => b > 0))].sort((a, b) => a - b), [5, 10]);
    const head = { block: 1_000_000, time: 1700005000 };
    // By the spec, with zlib's CRC32: genesis hash, then 5, 10 and osaka's time (shanghai and cancun are at or before genesis).
    let c = crc32(Buffer.from(DEVNET_HASH, 'hex'));
    for (const f of [5, 10, 1700003600]) c = crc32(u64be(f), c);
    const id = forkId(spec, head);
    assert.equal(id.hash.readUInt32BE(0), c);
    assert.equal(id.next, 1700007200);
    // The same value derived by hand (Python's zlib.crc32 over the same bytes).
    assert.equal(formatForkId(id), '0x59e6b4f2:1700007200');
    // Before the block forks: the genesis checksum alone, next fork 5.
    assert.equal(formatForkId(forkId(spec, { block: 0, time: 0 })), `0x${crc32(Buffer.from(DEVNET_HASH, 'hex')).toString(16).padStart(8, '0')}:5`);
    // A node of this devnet that has not reached osaka yet is compatible; a mainnet node is not.
    assert.equal(isCompatible(spec, head, forkId(spec, { block: 1_000_000, time: 1700000001 })), true);
    assert.equal(isCompatible(spec, head, forkId(NETWORKS.mainnet, head)), false);
  });

  it('reads a bare chain config when the genesis hash is given, and refuses it without one', () => {
    const spec = chainSpec(devnetConfig, `0x${DEVNET_HASH}`);
    assert.equal(spec.genesisHash, DEVNET_HASH);
    assert.equal(spec.chainId, 32382);
    assert.throws(() => chainSpec(devnetConfig), (e: unknown) => e instanceof GenesisError && /--genesis-hash/.test(e.message));
  });

  it('rejects unusable files with one clear message naming the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genesis-'));
    try {
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, '{"config": {');
      assert.throws(() => loadChainSpec(bad), (e: unknown) => e instanceof GenesisError && e.message.startsWith(`genesis file ${bad} is not valid JSON`));
      assert.throws(() => loadChainSpec(path.join(dir, 'missing.json')), /cannot read genesis file .*missing\.json: no such file/);
      const wrong = path.join(dir, 'wrong.json');
      fs.writeFileSync(wrong, JSON.stringify({ config: { londonBlock: 'soon' }, alloc: {} }));
      assert.throws(() => loadChainSpec(wrong), /config\.londonBlock: expected a number/);
      fs.writeFileSync(wrong, JSON.stringify({ config: {}, alloc: { '0x12': { balance: '1' } } }));
      assert.throws(() => loadChainSpec(wrong), /alloc 0x12: expected 20 bytes/);
      fs.writeFileSync(wrong, '[1, 2]');
      assert.throws(() => loadChainSpec(wrong), /expected a JSON object/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
