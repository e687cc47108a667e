/**
 * What our neighbors answers hold (closestForFindnode), without sockets: a
 * Table over a network that is never used, nodes whose records carry
 * mainnet's or sepolia's fork id or none, and known-good nodes beyond the
 * table.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { generatePrivateKey, keccak256, nodeIdFromPrivateKey } from '../../src';
import { signRecord } from '../../src/enr/record';
import { closestForFindnode } from '../../src/node/closest';
import { ForkFilter, ForkPolicy } from '../../src/node/fork-policy';
import { ethEntry, forkId, headAt, NETWORKS } from '../../src/node/forkid';
import { KNOWN_MAX_AGE_MS } from '../../src/defaults';
import { KnownNodes } from '../../src/node/known';
import { distCmp } from '../../src/table/distance';
import { NodeRecordInfo, Table } from '../../src/table/table';
import { FakeClock } from '../../src/transport/clock';
import type { NodeBytes } from '../../src/wire/encode';

const NOW_MS = 1_720_000_000_000;
type Net = 'ours' | 'other' | 'unknown';

let ipCounter = 0;
/** A node on `net`: its record's eth entry says mainnet ('ours'), sepolia ('other'), or nothing ('unknown'). */
function node(net: Net): NodeRecordInfo {
  const key = generatePrivateKey();
  const eth = net === 'ours' ? ethEntry(forkId(NETWORKS.mainnet, headAt(NOW_MS))) : net === 'other' ? ethEntry(forkId(NETWORKS.sepolia, headAt(NOW_MS))) : undefined;
  ipCounter++;
  return {
    id: nodeIdFromPrivateKey(key),
    ip: Buffer.from([10, 1, (ipCounter >> 8) & 255, ipCounter & 255]),
    udpPort: 30303,
    tcpPort: 0,
    record: signRecord(key, 1n, eth === undefined ? {} : { eth }),
  };
}

function table(): Table {
  const unused = () => Promise.reject(new Error('no network in this test'));
  return new Table({ selfId: randomBytes(64), net: { ping: unused, requestENR: unused }, clock: new FakeClock() });
}

const policy = (filter: ForkFilter) => new ForkPolicy({ network: 'mainnet', filter }, () => NOW_MS);
const hex = (ns: readonly NodeBytes[]) => ns.map((n) => Buffer.from(n.id).toString('hex'));

describe('closestForFindnode', () => {
  const target = keccak256(randomBytes(64));
  const byDistance = (ns: NodeRecordInfo[]) => [...ns].sort((a, b) => distCmp(target, keccak256(a.id), keccak256(b.id)));
  const nets: Net[] = ['ours', 'other', 'unknown', 'ours', 'other', 'unknown', 'ours', 'unknown'];

  function filled(): { t: Table; byNet: Record<Net, NodeRecordInfo[]> } {
    const t = table();
    const byNet: Record<Net, NodeRecordInfo[]> = { ours: [], other: [], unknown: [] };
    for (const net of nets) {
      const n = node(net);
      assert.ok(t.addVerified(n, { live: true }), 'the table took the node');
      byNet[net].push(n);
    }
    return { t, byNet };
  }

  it('without a fork policy, answers with the closest live table nodes', () => {
    const t = table();
    const live = [node('ours'), node('other'), node('unknown')];
    for (const n of live) t.addVerified(n, { live: true });
    t.addVerified(node('ours')); // not revalidated yet: left out while live ones exist
    const got = closestForFindnode({ now: () => NOW_MS, table: t })(target, 16);
    assert.deepEqual(hex(got), hex(byDistance(live)));
  });

  it("'strict' answers with our network's nodes only, closest first", () => {
    const { t, byNet } = filled();
    const got = closestForFindnode({ now: () => NOW_MS, table: t, forks: policy('strict') })(target, 16);
    assert.deepEqual(hex(got), hex(byDistance(byNet.ours)));
  });

  it("'prefer' lists ours, then unknown, then the others, each group closest first, cut at count", () => {
    const { t, byNet } = filled();
    const want = [...byDistance(byNet.ours), ...byDistance(byNet.unknown), ...byDistance(byNet.other)];
    assert.deepEqual(hex(closestForFindnode({ now: () => NOW_MS, table: t, forks: policy('prefer') })(target, 16)), hex(want));
    assert.deepEqual(hex(closestForFindnode({ now: () => NOW_MS, table: t, forks: policy('prefer') })(target, 4)), hex(want.slice(0, 4)));
  });

  it("'off' answers with everyone, closest first", () => {
    const { t, byNet } = filled();
    const got = closestForFindnode({ now: () => NOW_MS, table: t, forks: policy('off') })(target, 16);
    assert.deepEqual(hex(got), hex(byDistance([...byNet.ours, ...byNet.other, ...byNet.unknown])));
  });

  it('fills a short answer from known nodes under the same fork rule, without repeating table nodes', () => {
    const t = table();
    const inTable = [node('ours'), node('unknown')];
    for (const n of inTable) t.addVerified(n, { live: true });
    const known = new KnownNodes(100);
    const extra = { ours: [node('ours'), node('ours')], other: [node('other')], unknown: [node('unknown')] };
    for (const n of [...inTable, ...extra.ours, ...extra.other, ...extra.unknown]) known.add(n, NOW_MS, { verified: true });
    const answer = (filter: ForkFilter, count = 16) => hex(closestForFindnode({ now: () => NOW_MS, table: t, forks: policy(filter), known })(target, count));
    // 'strict': the table's own first, then the known nodes of our network.
    assert.deepEqual(answer('strict'), hex([...inTable.slice(0, 1), ...byDistance(extra.ours)]));
    // 'prefer': the table in its order, then known nodes of ours or unknown network, closest first.
    const tablePrefer = hex([inTable[0], inTable[1]]);
    assert.deepEqual(answer('prefer'), [...tablePrefer, ...hex(byDistance([...extra.ours, ...extra.unknown]))]);
    // 'off': everyone once.
    assert.deepEqual(answer('off').slice(2).sort(), hex([...extra.ours, ...extra.other, ...extra.unknown]).sort());
    // A full answer from the table asks no known node.
    assert.deepEqual(answer('off', 2), hex(byDistance(inTable)));
    // No fork policy: known nodes of any network fill it.
    const plain = hex(closestForFindnode({ now: () => NOW_MS, table: t, known })(target, 16));
    assert.equal(plain.length, 6);
    assert.equal(new Set(plain).size, 6);
  });

  it('hands out no known node silent for longer than the DB expiry (KNOWN_MAX_AGE_MS)', () => {
    const t = table();
    const known = new KnownNodes(100);
    const fresh = [node('unknown'), node('unknown')];
    const stale = [node('unknown'), node('unknown')];
    for (const n of fresh) known.add(n, NOW_MS - KNOWN_MAX_AGE_MS, { verified: true });
    for (const n of stale) known.add(n, NOW_MS - KNOWN_MAX_AGE_MS - 1, { verified: true });
    const got = hex(closestForFindnode({ now: () => NOW_MS, table: t, known })(target, 16));
    assert.deepEqual(got.sort(), hex(fresh).sort());
  });
});
