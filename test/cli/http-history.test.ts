/**
 * The dashboard's data that is kept beside the node's counters: the
 * traffic history ring (rates per interval, bounded, a live last point)
 * and the per-source refusal tally (bounded, top sources first).
 */
import { strict as assert } from 'node:assert';
import { History } from '../../src/cli/http/history';
import { RefusalTally } from '../../src/transport/refusals';
import type { TransportStats } from '../../src/transport/transport';

function stats(inN: number, outN: number, drops: Record<string, number>): TransportStats {
  return { packetsIn: { ping: inN }, packetsOut: { pong: outN }, drops } as unknown as TransportStats;
}

describe('dashboard data: history ring and refusal tally', () => {
  it('turns cumulative counters into per-second rates per interval, keeps only `size` samples and ends with a live point', () => {
    let now = 1_000_000;
    let cur = stats(0, 0, { bad_hash: 0, banned: 0 });
    const h = new History(() => cur, 5000, 3, () => now);
    h.sample();
    for (let i = 1; i <= 4; i++) {
      now += 5000;
      cur = stats(i * 50, i * 25, { bad_hash: 0, banned: i * 5 });
      h.sample();
    }
    // Ring of 3 samples: 2 intervals; the live point is not added within a second of the last sample.
    now += 500;
    let s = h.series();
    assert.deepEqual(s.inPerSec, [10, 10]);
    assert.deepEqual(s.outPerSec, [5, 5]);
    assert.deepEqual(Object.keys(s.dropsPerSec), ['banned']);
    assert.deepEqual(s.dropsPerSec.banned, [1, 1]);
    // Two seconds later, with 40 more packets in: the live point is 20/s.
    now += 1500;
    cur = stats(240, 100, { bad_hash: 0, banned: 20 });
    s = h.series();
    assert.deepEqual(s.inPerSec, [10, 10, 20]);
    assert.equal(s.t[s.t.length - 1], now);
  });

  it('counts refusals per source, lists the most refused first, and stays within its bound', () => {
    const t = new RefusalTally(4);
    const ip = (n: number) => new Uint8Array([10, 0, 0, n]);
    for (let i = 0; i < 5; i++) t.count(ip(1), 'rate_ip', 100 + i);
    t.count(ip(2), 'banned', 200);
    t.count(ip(2), 'banned', 201);
    t.count(ip(3), 'netrestrict', 300);
    t.count(new Uint8Array(16).fill(0xfe), 'rate_type', 400);
    assert.deepEqual(t.top(2), [
      { ip: '10.0.0.1', count: 5, lastReason: 'rate_ip', lastMs: 104 },
      { ip: '10.0.0.2', count: 2, lastReason: 'banned', lastMs: 201 },
    ]);
    // Full: a new source makes room by forgetting the least refused half.
    t.count(ip(9), 'rate_global', 500);
    assert.ok(t.size <= 4);
    const ips = t.top(10).map((x) => x.ip);
    assert.ok(ips.includes('10.0.0.1') && ips.includes('10.0.0.2') && ips.includes('10.0.0.9'), JSON.stringify(ips));
    assert.ok(!ips.includes('10.0.0.3'));
  });
});
