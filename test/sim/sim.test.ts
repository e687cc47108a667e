import { strict as assert } from 'node:assert';
import { generatePrivateKey } from '../../src';
import { MemoryNetwork } from '../../src/sim/memory-network';
import { createNodes, premine, runSimulation, seededRandom, SimNode, summarize } from '../../src/sim/simulation';
import { logDistance } from '../../src/table/distance';
import { BUCKET_MIN_DISTANCE } from '../../src/table/table';

const bucketOf = (a: SimNode, b: SimNode) => {
  const d = logDistance(a.hash, b.hash);
  return d <= BUCKET_MIN_DISTANCE ? 0 : d - BUCKET_MIN_DISTANCE - 1;
};

const closeAll = (nodes: SimNode[]) => Promise.all(nodes.map((n) => n.close()));

describe('simulation', () => {
  it('premines every bucket with min(16, nodes of the network in it) entries and up to 10 replacements', async () => {
    const net = new MemoryNetwork();
    const random = seededRandom(3);
    const nodes = createNodes(net, Array.from({ length: 300 }, () => generatePrivateKey()), { random });
    try {
      premine(nodes, random, 16, 10);
      const byId = new Map(nodes.map((n) => [n.transport.nodeId.toString('hex'), n]));
      for (const n of nodes) {
        // Brute force: how many nodes of the network fall in each of n's buckets.
        const inBucket = new Array<number>(17).fill(0);
        for (const m of nodes) if (m !== n) inBucket[bucketOf(n, m)]++;
        n.table.buckets.forEach((b, i) => {
          assert.equal(b.entries.length, Math.min(16, inBucket[i]), `node ${n.index} bucket ${i}`);
          assert.equal(b.replacements.length, Math.min(10, Math.max(0, inBucket[i] - 16)), `node ${n.index} bucket ${i} replacements`);
          for (const e of b.entries) assert.equal(n.table.bucketIndex(e.hash), i);
          // Entries share the node's Buffers (what lets 100,000 tables fit), never its TableNode.
          for (const e of [...b.entries, ...b.replacements]) {
            const owner = byId.get(e.id.toString('hex'))!;
            assert.ok(e.id === owner.info.id && e.hash === owner.hash && e.ip === owner.info.ip && e !== owner.info);
          }
        });
      }
    } finally {
      await closeAll(nodes);
    }
  });

  it('finds the true 16 closest in a 300-node network in at least 90 % of lookups, with bounded traffic', async () => {
    const r = await runSimulation({ nodes: 300, lookups: 20, selfLookups: 0, seed: 11 });
    assert.equal(r.lookups.count, 20);
    assert.ok(r.lookups.successRate >= 0.9, `success ${r.lookups.successRate}, overlaps of failures ${r.lookups.failureOverlaps}`);
    assert.ok(r.lookups.messages.max < 500, `max ${r.lookups.messages.max} datagrams per lookup`);
    assert.ok(r.lookups.queries.mean >= 16, 'a lookup asks at least its 16 closest');
    assert.ok(r.lookups.hops.min >= 1);
    assert.equal(r.lookups.failedQueries, 0);
    // Loss-free: nothing may be dropped for any reason.
    assert.equal(r.protocol.handlerErrors, 0);
    assert.equal(r.protocol.networkDropped, 0);
    for (const [reason, count] of Object.entries(r.protocol.drops)) assert.equal(count, 0, `drops.${reason}`);
    assert.equal(r.perLookup.length, 20);
    assert.ok(Number.isFinite(r.memory.perNodeKiB), 'memory is measured (approximately without --expose-gc)');
    assert.ok(Number.isFinite(r.memory.heapPerNodeKiB));
    assert.ok(r.memory.peakRss >= r.memory.rss, 'the peak RSS is a high-water mark, at least the RSS after setup');
    assert.ok(r.memory.heapLimit > r.memory.heapUsed);
  });

  it('lets three nodes that know only a bootnode find each other', async () => {
    const net = new MemoryNetwork();
    const [boot, a, b] = createNodes(net, [generatePrivateKey(), generatePrivateKey(), generatePrivateKey()], { respTimeoutMs: 100 });
    try {
      a.table.addVerified(boot.info, { live: true });
      b.table.addVerified(boot.info, { live: true });
      // A lookup bonds with the bootnode, which then lists the searcher (inbound, proven endpoint).
      await a.lookup(a.transport.nodeId).run();
      await net.drain();
      await b.lookup(b.transport.nodeId).run();
      await net.drain();
      await a.lookup(a.transport.nodeId).run();
      await net.drain();
      const knows = (x: SimNode, y: SimNode) => x.table.getNode(y.transport.nodeId) !== undefined;
      for (const [x, y] of [[boot, a], [boot, b], [a, b], [b, a], [a, boot], [b, boot]]) {
        assert.ok(knows(x, y), `node ${x.index} knows node ${y.index}`);
      }
    } finally {
      await closeAll([boot, a, b]);
    }
  });

  it('summarizes with nearest-rank p95 and the middle median', () => {
    const s = summarize([5, 1, 4, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    assert.deepEqual(s, { mean: 10.5, median: 10.5, p95: 19, min: 1, max: 20 });
  });
});
