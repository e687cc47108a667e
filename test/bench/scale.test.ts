import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { forkClassOf, lanIp, prefillTable, recordPool } from '../../bench/loopback/prefill';
import { ScaleCaseResult, ScaleResult, scaleVerdicts } from '../../bench/loopback/scale';
import { buildScoreboard } from '../../bench/scoreboard';
import { ForkPolicy } from '../../src/node/fork-policy';
import { forkId, headAt, NETWORKS } from '../../src/node/forkid';
import { isLAN } from '../../src/transport/netutil';
import { Table } from '../../src/table/table';

const NOW = Date.UTC(2026, 0, 1);
const head = headAt(NOW);

/** A table that must never send: the prefilled entries are not nodes. */
function silentTable(bucketSize: number): Table {
  const never = () => Promise.reject(new Error('the bench table must not send'));
  return new Table({ selfId: randomBytes(64), net: { ping: never, requestENR: never }, bucketSize, pingIntervalMs: 24 * 3600 * 1000, random: () => 0.5 });
}

function caseResult(bucketSize: number, forkFilter: 'strict' | 'off', answers: number, cpuUs: number): ScaleCaseResult {
  return {
    id: `b${bucketSize}-${forkFilter}`,
    label: `${bucketSize}/bucket, fork ${forkFilter}`,
    bucketSize,
    known: bucketSize > 16 ? 100_000 : 0,
    forkFilter,
    runs: [{ answersPerSec: answers, serverCpuUsPerAnswer: cpuUs, foreignCpuCores: 0 } as ScaleCaseResult['runs'][number]],
    medianAnswersPerSec: answers,
    minAnswersPerSec: answers,
    maxAnswersPerSec: answers,
    medianServerCpuUsPerAnswer: cpuUs,
    medianServerCpuCores: 0.9,
    medianClientCpuCores: 0.1,
    rssKb: 300 * 1024,
    durationSec: 1,
  };
}

describe('bench: bootnode at scale', () => {
  it('prefills the top buckets to the bucket size with live LAN entries, each with a record the fork filter classifies', () => {
    const table = silentTable(8);
    const pool = recordPool(2, forkId(NETWORKS.mainnet, head), forkId(NETWORKS.sepolia, head));
    const r = prefillTable(table, { bucketSize: 8, fullBuckets: 6, maxCandidates: 100_000, pool });
    try {
      for (let j = 11; j < 17; j++) assert.equal(r.perBucket[j], 8, `bucket ${j}`);
      assert.equal(r.entries, table.size);
      assert.equal(r.forkClasses.ours + r.forkClasses.other + r.forkClasses.unknown, r.entries);
      const policy = new ForkPolicy({ network: 'mainnet', filter: 'strict' }, () => NOW);
      const seen = { ours: 0, other: 0, unknown: 0 };
      for (const n of table.nodes()) {
        assert.ok(n.isValidatedLive);
        assert.ok(isLAN(n.ip));
        const m = policy.matches(n);
        seen[m === true ? 'ours' : m === false ? 'other' : 'unknown']++;
      }
      assert.deepEqual(seen, r.forkClasses);
      // The strict answer holds only nodes of our network.
      const answer = policy.closest(table, randomBytes(32), 16);
      assert.equal(answer.length, 16);
      for (const n of answer) assert.equal(policy.matches(n), true);
    } finally {
      table.close();
    }
  });

  it('stops at the candidate budget when the buckets cannot fill', () => {
    const table = silentTable(1024);
    const pool = recordPool(1, forkId(NETWORKS.mainnet, head), forkId(NETWORKS.sepolia, head));
    const r = prefillTable(table, { bucketSize: 1024, fullBuckets: 10, maxCandidates: 5000, pool });
    table.close();
    assert.equal(r.candidates, 5000);
    // Half of all random ids land in the top bucket (full), a 32nd in bucket 12 (~156).
    assert.equal(r.perBucket[16], 1024);
    assert.ok(r.perBucket[12] > 50 && r.perBucket[12] < 400, String(r.perBucket[12]));
  });

  it('gives nodes distinct 10.x addresses and 75/15/10 fork classes', () => {
    assert.deepEqual([...lanIp(0x010203)], [10, 1, 2, 3]);
    const counts = { ours: 0, other: 0, unknown: 0 };
    for (let i = 0; i < 100; i++) counts[forkClassOf(i)]++;
    assert.deepEqual(counts, { ours: 75, other: 15, unknown: 10 });
  });

  it('meets the target when the big bootnode answers more than half as many findnodes per second, per fork filter', () => {
    const cases = [caseResult(16, 'strict', 6000, 140), caseResult(1024, 'strict', 3100, 200), caseResult(16, 'off', 6000, 140), caseResult(1024, 'off', 2900, 210)];
    const [strict, off] = scaleVerdicts(cases);
    assert.equal(strict.forkFilter, 'strict');
    assert.ok(Math.abs(strict.slowdown! - 6000 / 3100) < 1e-9);
    assert.equal(strict.met, true);
    assert.equal(off.met, false);
    assert.ok(Math.abs(off.cpuRatio! - 1.5) < 1e-9);

    const scale = { window: 32, fullBuckets: 10, cases, verdicts: [strict, off] } as unknown as ScaleResult;
    const sb = buildScoreboard({ suites: [], micro: [], loopback: null, scale });
    const answerRows = sb.rows.filter((r) => r.operation.startsWith('bootnode findnode answers/s'));
    assert.equal(answerRows.length, 4);
    assert.deepEqual(
      answerRows.map((r) => r.meetsTarget),
      [null, true, null, false],
    );
    assert.match(answerRows[3].target!, /MISSED/);
    assert.equal(sb.rows.filter((r) => r.operation.startsWith('bootnode server RSS')).length, 4);
    assert.ok(sb.notes.some((n) => n.startsWith('Bootnode findnode')));
  });
});
