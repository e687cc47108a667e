import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { keccak256 } from '../../src';
import { distCmp } from '../../src/table/distance';
import { insertByDistance } from '../../src/table/table';
import { Lookup, LookupNode } from '../../src/lookup/lookup';

/** A fake network: each node knows its 16 closest nodes and 20 random ones, and answers findnode from those. */
function world(size: number) {
  const nodes: LookupNode[] = Array.from({ length: size }, (_, i) => {
    const id = randomBytes(64);
    return { id, hash: keccak256(id), ip: Buffer.from([10, 0, i >> 8, i & 255]), udpPort: 30303, tcpPort: 30303 };
  });
  const known = new Map<string, LookupNode[]>();
  for (const n of nodes) {
    const close: LookupNode[] = [];
    for (const m of nodes) if (m !== n) insertByDistance(close, m, n.hash, 16);
    const random = Array.from({ length: 20 }, () => nodes[Math.floor(Math.random() * size)]).filter((m) => m !== n);
    known.set(n.id.toString('hex'), [...close, ...random]);
  }
  const trueClosest = (targetHash: Buffer, k: number) => {
    const out: LookupNode[] = [];
    for (const n of nodes) insertByDistance(out, n, targetHash, k);
    return out;
  };
  const answer = (n: LookupNode, target: Buffer): LookupNode[] => {
    const th = keccak256(target);
    const out: LookupNode[] = [];
    for (const m of known.get(n.id.toString('hex'))!) insertByDistance(out, m, th, 16);
    return out;
  };
  return { nodes, answer, trueClosest };
}

const ids = (l: readonly LookupNode[]) => l.map((n) => n.id.toString('hex'));

describe('Lookup', () => {
  it('finds the true 16 closest nodes of a 500-node network from 3 random seeds', async () => {
    const w = world(500);
    for (let round = 0; round < 5; round++) {
      const target = randomBytes(64);
      const seeds = [0, 1, 2].map(() => w.nodes[Math.floor(Math.random() * 500)]);
      const lookup = new Lookup({ target, seeds, findnode: async (n, t) => w.answer(n, t) });
      const result = await lookup.run();
      assert.deepEqual(ids(result), ids(w.trueClosest(keccak256(target), 16)));
      assert.ok(lookup.stats.hops >= 1);
    }
  });

  it('keeps at most alpha = 3 queries in flight', async () => {
    const w = world(200);
    let inflight = 0;
    let peak = 0;
    const lookup = new Lookup({
      target: randomBytes(64),
      seeds: w.nodes.slice(0, 16),
      findnode: async (n, t) => {
        inflight++;
        peak = Math.max(peak, inflight);
        await new Promise((r) => setTimeout(r, 1));
        inflight--;
        return w.answer(n, t);
      },
    });
    await lookup.run();
    assert.equal(peak, 3);
  });

  it('ends once every one of the k closest has been asked, and asks nobody twice', async () => {
    const w = world(300);
    const asked: string[] = [];
    const lookup = new Lookup({
      target: randomBytes(64),
      seeds: w.nodes.slice(0, 5),
      findnode: async (n, t) => {
        asked.push(n.id.toString('hex'));
        return w.answer(n, t);
      },
    });
    const result = await lookup.run();
    assert.equal(new Set(asked).size, asked.length, 'a node was asked twice');
    for (const n of result) assert.ok(asked.includes(n.id.toString('hex')), 'a result node was never asked');
    assert.equal(lookup.stats.queries, asked.length);
  });

  it('counts failed queries, reports them, and still finishes with the nodes that answered', async () => {
    const w = world(300);
    const failing = new Set(ids(w.nodes.slice(0, 100)));
    const reports: Array<[string, boolean]> = [];
    const target = randomBytes(64);
    const lookup = new Lookup({
      target,
      seeds: w.nodes.slice(100, 110),
      findnode: async (n, t) => {
        if (failing.has(n.id.toString('hex'))) throw new Error('timeout');
        return w.answer(n, t);
      },
      onAnswered: (n) => reports.push([n.id.toString('hex'), true]),
      onFailed: (n) => reports.push([n.id.toString('hex'), false]),
    });
    const result = await lookup.run();
    assert.ok(lookup.stats.failures > 0);
    assert.equal(reports.filter(([, ok]) => !ok).length, lookup.stats.failures);
    assert.ok(reports.every(([id, ok]) => ok === !failing.has(id)));
    assert.equal(result.length, 16);
    // Sorted by distance to the target.
    const th = keccak256(target);
    for (let i = 1; i < result.length; i++) assert.ok(distCmp(th, result[i - 1].hash, result[i].hash) <= 0);
  });

  it('never asks or returns our own node', async () => {
    const w = world(100);
    const self = w.nodes[0];
    const asked: string[] = [];
    const lookup = new Lookup({
      target: self.id,
      seeds: w.nodes.slice(1, 4),
      selfId: self.id,
      findnode: async (n, t) => {
        asked.push(n.id.toString('hex'));
        return w.answer(n, t);
      },
    });
    const result = await lookup.run();
    assert.ok(!asked.includes(self.id.toString('hex')));
    assert.ok(!ids(result).includes(self.id.toString('hex')));
  });

  it('streams newly seen nodes while it runs, each once, seeds first', async () => {
    const w = world(200);
    const seeds = w.nodes.slice(0, 3);
    const lookup = new Lookup({ target: randomBytes(64), seeds, findnode: async (n, t) => w.answer(n, t) });
    const streamed: string[] = [];
    for await (const n of lookup) streamed.push(n.id.toString('hex'));
    assert.deepEqual(streamed.slice(0, 3), ids(seeds));
    assert.equal(new Set(streamed).size, streamed.length);
    assert.equal(streamed.length, lookup.stats.seen);
    assert.ok(streamed.length > 16);
  });

  it('finishes at once with no seeds', async () => {
    const lookup = new Lookup({ target: randomBytes(64), seeds: [], findnode: async () => [] });
    assert.deepEqual(await lookup.run(), []);
    assert.equal(lookup.stats.queries, 0);
  });
});
