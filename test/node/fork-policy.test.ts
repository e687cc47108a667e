/**
 * ForkPolicy on its own: which network a node's record says it is on
 * (ours, another, unknown), which known nodes may fill an answer under each
 * filter, and that "now" is the injected wall clock (a timestamp fork moves
 * our fork id and what counts as compatible).
 */
import { strict as assert } from 'node:assert';
import { generatePrivateKey } from '../../src';
import { signRecord } from '../../src/enr/record';
import { ForkPolicy, forkPolicyFor } from '../../src/node/fork-policy';
import { ethEntry, ForkId, forkId, formatForkId, headAt, NETWORKS } from '../../src/node/forkid';

/** Before Cancun (2024-03-13) and after it: mainnet's fork id differs. */
const BEFORE_CANCUN_MS = 1_700_000_000_000;
const AFTER_CANCUN_MS = 1_720_000_000_000;

const withEth = (id: ForkId) => ({ record: signRecord(generatePrivateKey(), 1n, { eth: ethEntry(id) }) });
const withoutEth = () => ({ record: signRecord(generatePrivateKey(), 1n, { udp: 30303 }) });
const noRecord = () => ({});
const mainnetAt = (ms: number) => forkId(NETWORKS.mainnet, headAt(ms));
const sepoliaAt = (ms: number) => forkId(NETWORKS.sepolia, headAt(ms));

describe('ForkPolicy', () => {
  it('tells our network, another, and unknown (no record, or no eth entry) apart', () => {
    const p = new ForkPolicy({ network: 'mainnet' }, () => AFTER_CANCUN_MS);
    assert.equal(p.matches(withEth(mainnetAt(AFTER_CANCUN_MS))), true);
    assert.equal(p.matches(withEth(sepoliaAt(AFTER_CANCUN_MS))), false);
    assert.equal(p.matches(noRecord()), undefined);
    assert.equal(p.matches(withoutEth()), undefined);
  });

  it('reads our fork id from the injected wall clock: a timestamp fork moves it', () => {
    assert.equal(formatForkId(new ForkPolicy({ network: 'mainnet' }, () => BEFORE_CANCUN_MS).ours()), '0xdce96c2d:1710338135');
    assert.equal(formatForkId(new ForkPolicy({ network: 'mainnet' }, () => AFTER_CANCUN_MS).ours()), '0x9f3d2254:1746612311');
  });

  it("judges a network's nodes by EIP-2124 at the injected time: a node that missed a passed fork is another network", () => {
    // Shanghai's id announcing no next fork: fine before Cancun, stale after it.
    const stale = { hash: Buffer.from('dce96c2d', 'hex'), next: 0 };
    assert.equal(new ForkPolicy({ network: 'mainnet' }, () => BEFORE_CANCUN_MS).matches(withEth(stale)), true);
    assert.equal(new ForkPolicy({ network: 'mainnet' }, () => AFTER_CANCUN_MS).matches(withEth(stale)), false);
  });

  it('with a fixed fork id, matches that id exactly and ignores the clock', () => {
    const id = { hash: Buffer.from('01020304', 'hex'), next: 0 };
    const p = new ForkPolicy({ id }, () => {
      throw new Error('the clock is not read for a fixed id');
    });
    assert.deepEqual(p.ours(), id);
    assert.equal(p.matches(withEth(id)), true);
    assert.equal(p.matches(withEth({ hash: Buffer.from('01020305', 'hex'), next: 0 })), false);
  });

  it("admits known nodes: ours under every filter, unknown under 'prefer' and 'off', others only under 'off'", () => {
    const ours = withEth(mainnetAt(AFTER_CANCUN_MS));
    const other = withEth(sepoliaAt(AFTER_CANCUN_MS));
    const unknown = withoutEth();
    const admits = (filter: 'strict' | 'prefer' | 'off') => {
      const p = new ForkPolicy({ network: 'mainnet', filter }, () => AFTER_CANCUN_MS);
      return [p.admitsKnown(ours), p.admitsKnown(unknown), p.admitsKnown(other)];
    };
    assert.deepEqual(admits('strict'), [true, false, false]);
    assert.deepEqual(admits('prefer'), [true, true, false]);
    assert.deepEqual(admits('off'), [true, true, true]);
  });

  it("defaults to 'prefer', and is off without a network or a fork id", () => {
    assert.equal(new ForkPolicy({ network: 'mainnet' }).filter, 'prefer');
    assert.equal(forkPolicyFor(undefined, Date.now), undefined);
    assert.equal(forkPolicyFor({ filter: 'strict' }, Date.now), undefined);
    assert.equal(forkPolicyFor({ network: 'sepolia', filter: 'strict' }, Date.now)?.filter, 'strict');
  });
});
