/**
 * Known-good nodes beyond the table (bootnode scale): closest lookups
 * agree with a brute-force sort, the set stays bounded, its memory is
 * measured, and a bootnode fills neighbors answers from it when its table
 * is too small.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { keccak256 } from '../../src/crypto';
import { distCmp } from '../../src/table/distance';
import { KNOWN_VERIFY_AFTER_MS } from '../../src/defaults';
import { KnownNodes } from '../../src/node/known';
import { memoryNodes } from './helpers';

const node = (i: number) => ({ id: randomBytes(64), ip: Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), udpPort: 30303, tcpPort: 30303 });

describe('known nodes', () => {
  it('finds the same 16 closest nodes as a brute-force sort', () => {
    const k = new KnownNodes();
    const all = Array.from({ length: 5000 }, (_, i) => node(i));
    all.forEach((n, i) => k.add(n, i));
    const hashes = all.map((n) => ({ id: n.id.toString('hex'), hash: keccak256(n.id) }));
    for (let t = 0; t < 50; t++) {
      const target = keccak256(randomBytes(64));
      const want = [...hashes].sort((a, b) => distCmp(target, a.hash, b.hash)).slice(0, 16).map((x) => x.id);
      assert.deepEqual(k.closest(target, 16).map((n) => n.id.toString('hex')), want);
    }
  });

  it('finds the same closest nodes as a brute-force sort after removals and with additions not merged yet, and never returns a removed node', () => {
    const k = new KnownNodes();
    const all = Array.from({ length: 5000 }, (_, i) => node(i));
    all.forEach((n, i) => k.add(n, i));
    // Remove 2,000 (one by one, as failed checks do), then add 100 more (below the merge threshold).
    const removed = new Set<string>();
    for (let i = 0; i < 5000; i += 5) for (const j of [i, i + 2]) {
      k.remove(all[j].id);
      removed.add(all[j].id.toString('hex'));
    }
    const extra = Array.from({ length: 100 }, (_, i) => node(5000 + i));
    extra.forEach((n, i) => k.add(n, 5000 + i));
    const live = [...all, ...extra].filter((n) => !removed.has(n.id.toString('hex'))).map((n) => ({ id: n.id.toString('hex'), hash: keccak256(n.id) }));
    assert.equal(k.size, live.length);
    for (let t = 0; t < 50; t++) {
      const target = t % 5 === 0 ? keccak256(extra[t].id) : keccak256(randomBytes(64));
      const want = [...live].sort((a, b) => distCmp(target, a.hash, b.hash)).slice(0, 16).map((x) => x.id);
      const got = k.closest(target, 16).map((n) => n.id.toString('hex'));
      assert.deepEqual(got, want);
      assert.ok(got.every((id) => !removed.has(id)));
    }
    assert.deepEqual(k.closest(keccak256(randomBytes(64)), 0), []);
  });

  it('stays within its bound, dropping the least recently seen', () => {
    const k = new KnownNodes(1000);
    const all = Array.from({ length: 1500 }, (_, i) => node(i));
    all.forEach((n, i) => k.add(n, i));
    assert.ok(k.size <= 1000);
    k.add(all[0], 10_000); // seen again: it is back
    assert.ok(k.closest(keccak256(all[1499].id), 1)[0].id.equals(all[1499].id), 'the newest is kept');
  });

  it('holds 100,000 nodes in bounded, measured memory', function () {
    this.timeout(60_000);
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const k = new KnownNodes(100_000);
    // As at a start: loaded from the DB in one go (one sort).
    k.load((add) => {
      for (let i = 0; i < 100_000; i++) add(node(i), i);
    });
    gc?.();
    const perNode = (process.memoryUsage().heapUsed - before) / 100_000;
    assert.equal(k.size, 100_000);
    // Buffers live outside the JS heap in part; the heap share stays small.
    assert.ok(perNode < 2048, `${perNode.toFixed(0)} bytes of heap per node`);
    console.log(`      known nodes: ${(perNode / 1024).toFixed(2)} KiB of heap per node (${gc ? 'after gc' : 'no gc'}), rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  });
});

describe('bootnode neighbors from known nodes (in-memory network)', () => {
  const nodes = memoryNodes({ transport: { respTimeoutMs: 300 } });
  const { start, run, endpointOf } = nodes;

  it('fills findnode answers from known nodes when its table is too small', async () => {
    // A table of one node per bucket: nearly everyone lands in the same few buckets.
    const boot = await start({ knownNodes: 1000, inboundNodes: 'always', table: { bucketSize: 1 } });
    const peers = [];
    for (let i = 0; i < 20; i++) {
      const p = await start({});
      await run(p.transport.ping(endpointOf(boot)));
      peers.push(p);
    }
    // Each has bonded (boot pinged it back): all 20 are known; handed out once
    // they proved themselves again (boot pings them when that is due).
    assert.equal(boot.known?.size, 20);
    await run(new Promise<void>((r) => nodes.clock.setTimer(r, KNOWN_VERIFY_AFTER_MS + 5_000)), KNOWN_VERIFY_AFTER_MS + 10_000);
    assert.ok(boot.table.size < 16, `table ${boot.table.size}`);
    const asker = peers[0];
    const found = await run(asker.transport.findnode(endpointOf(boot), randomBytes(64)));
    assert.equal(found.length, 16);
  });
});
