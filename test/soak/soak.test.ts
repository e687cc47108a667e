/**
 * A short version of the hostile-traffic soak (scripts/soak/soak.ts runs
 * it for 10 minutes): the real bootnode under a mixed hostile load from
 * 200+ addresses in 127.0.0.0/8 keeps serving an honest peer, stays
 * bounded in memory, answers each attack with the limit meant for it, and
 * never sends unbonded sources more than they sent.
 */
import * as assert from 'node:assert/strict';
import { formatReport, runSoak } from '../../scripts/soak/soak';

describe('hostile-traffic soak (short: 25 s)', function () {
  this.timeout(120_000);

  it('keeps serving an honest peer under garbage, ping floods from 10,000 keys, findnode floods, spoofed pongs and replays', async () => {
    const r = await runSoak({ seconds: 25, keys: 10_000, scale: 0.5 });
    const text = formatReport(r);
    assert.ok(r.honest.ping.successRate >= 0.99, text);
    assert.ok(r.honest.findnode.successRate >= 0.95, text);
    assert.ok(r.honest.ping.p99Ms < 200, text);
    // Each attack met its limit.
    for (const reason of ['bad_hash', 'rate_ip', 'rate_type', 'unbonded', 'unsolicited', 'amplification']) {
      assert.ok((r.drops[reason] ?? 0) > 0, `no ${reason} drops: ${text}`);
    }
    assert.equal(r.bondedFlooders, 10, 'the bonded flooders bonded');
    assert.ok(r.amplification.ratio <= 1, text);
    // Bounded: RSS well below what unbounded state would reach, and not still climbing at the end.
    assert.ok(r.node.rssMaxMiB < 400, text);
    // Climbing = growth above where the last samples started (a drop, e.g. a GC after the attack stops, is not).
    const tail = r.node.rssMiB.slice(-4);
    assert.ok(Math.max(...tail) - tail[0] < 40, `RSS still climbing at the end: ${text}`);
  });
});
