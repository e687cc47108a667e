/**
 * EIP-2124 fork ids: our schedules give go-ethereum's ids (its
 * core/forkid tests, as data), its validation rules hold, and the `eth`
 * ENR entry round-trips.
 */
import { strict as assert } from 'node:assert';
import { decodeEthEntry, ethEntry, forkId, formatForkId, isCompatible, NETWORKS, parseForkIdArg } from '../../src/node/forkid';
import { encodeRlp } from '../../src/wire/rlp';

// [network, head block, head time, hash, next] from go-ethereum core/forkid/forkid_test.go TestCreation.
const GETH: Array<[keyof typeof NETWORKS, number, number, string, number]> = [
  ['mainnet', 0, 0, 'fc64ec04', 1150000],
  ['mainnet', 1920000, 0, '91d1f948', 2463000],
  ['mainnet', 15050000, 0, 'f0afd0e3', 1681338455],
  ['mainnet', 20000000, 1681338455, 'dce96c2d', 1710338135],
  ['mainnet', 30000000, 1710338135, '9f3d2254', 1746612311],
  ['mainnet', 30000000, 1746612311, 'c376cf8b', 1764798551],
  ['mainnet', 30000000, 1764798551, '5167e2a6', 1765290071],
  ['mainnet', 30000000, 1765290071, 'cba2a1c0', 1767747671],
  ['mainnet', 50000000, 2000000000, '07c9462e', 0],
  ['sepolia', 0, 0, 'fe3366e7', 1735371],
  ['sepolia', 1735371, 0, 'b96cbd13', 1677557088],
  ['sepolia', 1735372, 1741159776, 'ed88b5fd', 1760427360],
  ['sepolia', 1735372, 2000000000, '268956b6', 0],
  ['holesky', 0, 0, 'c61a6098', 1696000704],
  ['holesky', 123, 1740434112, 'dfbd9bed', 1759308480],
  ['holesky', 123, 2000000000, '9bc6cb31', 0],
  ['hoodi', 0, 0, 'bef71d30', 1742999832],
];

describe('fork ids (EIP-2124)', () => {
  it("matches go-ethereum's fork ids for mainnet, sepolia, holesky and hoodi", () => {
    for (const [net, block, time, hash, next] of GETH) {
      const id = forkId(NETWORKS[net], { block, time });
      assert.equal(formatForkId(id), `0x${hash}:${next}`, `${net} at block ${block}, time ${time}`);
    }
  });

  it("validates remote ids by EIP-2124's rules", () => {
    const main = NETWORKS.mainnet;
    const head = { block: 30000000, time: 1746612311 }; // Prague, next Osaka
    const id = (hash: string, next: number) => ({ hash: Buffer.from(hash, 'hex'), next });
    assert.ok(isCompatible(main, head, id('c376cf8b', 1764798551)), 'same state, same next');
    assert.ok(isCompatible(main, head, id('c376cf8b', 0)), 'same state, no next known');
    assert.ok(!isCompatible(main, head, id('c376cf8b', 1746612000)), 'announces a fork we already passed');
    assert.ok(isCompatible(main, head, id('9f3d2254', 1746612311)), 'behind (Cancun), announcing our next fork');
    assert.ok(!isCompatible(main, head, id('9f3d2254', 0)), 'behind and not aware of Prague: stale');
    assert.ok(isCompatible(main, head, id('5167e2a6', 1765290071)), 'ahead on a fork we know (Osaka)');
    assert.ok(!isCompatible(main, head, id('268956b6', 0)), 'another network (sepolia)');
  });

  it('round-trips the eth ENR entry and parses --fork-id', () => {
    const id = parseForkIdArg('0x07c9462e:1767747671');
    assert.deepEqual(decodeEthEntry(encodeRlp(ethEntry(id))), id);
    // geth's entry may carry more fields (rlp "tail"): still read.
    assert.deepEqual(decodeEthEntry(encodeRlp([[id.hash, id.next, 7]])), id);
    assert.equal(decodeEthEntry(encodeRlp([Buffer.from('x')])), undefined);
    assert.throws(() => parseForkIdArg('nope'), /invalid fork id/);
  });
});
