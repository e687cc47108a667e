import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { keccak256, nodeIdFromPrivateKey } from '../../src';
import { signRecord } from '../../src/enr/record';
import { logDistance, distCmp } from '../../src/table/distance';
import { BUCKET_MIN_DISTANCE, N_BUCKETS, NodeRecordInfo, Table, TableNode } from '../../src/table/table';
import { FakeClock } from '../../src/transport/clock';
import type { PongInfo } from '../../src/transport/transport';
import { TimeoutError } from '../../src';

/** A scripted network: ping answers per node id (default: answers, seq 0). */
class FakeNet {
  readonly pings: string[] = [];
  readonly enrRequests: string[] = [];
  dead = new Set<string>();
  seqs = new Map<string, bigint>();
  records = new Map<string, Buffer>();

  ping = (n: TableNode): Promise<PongInfo> => {
    const key = n.id.toString('hex');
    this.pings.push(key);
    if (this.dead.has(key)) return Promise.reject(new TimeoutError());
    const enrSeq = this.seqs.get(key);
    return Promise.resolve({ to: { ip: Buffer.from([1, 2, 3, 4]), udpPort: 1, tcpPort: 0 }, rttMs: 1, ...(enrSeq === undefined ? {} : { enrSeq }) });
  };

  requestENR = (n: TableNode): Promise<Buffer> => {
    const key = n.id.toString('hex');
    this.enrRequests.push(key);
    const r = this.records.get(key);
    return r ? Promise.resolve(r) : Promise.reject(new TimeoutError());
  };
}

const flush = () => new Promise((r) => setImmediate(r));

function makeTable(over: Partial<ConstructorParameters<typeof Table>[0]> = {}) {
  const net = new FakeNet();
  const clock = new FakeClock();
  const selfId = randomBytes(64);
  const table = new Table({ selfId, net, clock, exemptLANFromIPLimits: false, ...over });
  return { net, clock, table, selfId };
}

/** Random node ids landing in the table's bucket `index` (16 = distance 256: half of all ids). */
function idsInBucket(table: Table, index: number, count: number): Buffer[] {
  const out: Buffer[] = [];
  while (out.length < count) {
    const id = randomBytes(64);
    if (table.bucketIndex(keccak256(id)) === index) out.push(id);
  }
  return out;
}

let ipCounter = 0;
/** A public IPv4 address in its own /24 each time. */
function freshIp(): Buffer {
  ipCounter++;
  return Buffer.from([45, (ipCounter >> 8) & 255, ipCounter & 255, 1]);
}

function info(id: Buffer, ip: Buffer = freshIp(), udpPort = 30303): NodeRecordInfo {
  return { id, ip, udpPort, tcpPort: 30303 };
}

describe('Table', () => {
  it('puts nodes in buckets by log distance, folding distances <= 239 into bucket 0', () => {
    const { table } = makeTable();
    assert.equal(N_BUCKETS, 17);
    for (let i = 0; i < 200; i++) {
      const h = keccak256(randomBytes(64));
      const d = logDistance(table.selfHash, h);
      const expected = d <= BUCKET_MIN_DISTANCE ? 0 : d - BUCKET_MIN_DISTANCE - 1;
      assert.equal(table.bucketIndex(h), expected);
    }
    // Our own hash is at distance 0: bucket 0.
    assert.equal(table.bucketIndex(table.selfHash), 0);
  });

  it('keeps at most 16 entries per bucket and 10 replacements, newest replacement first', () => {
    const { table } = makeTable();
    const ids = idsInBucket(table, 16, 30);
    for (const id of ids) table.addVerified(info(id));
    const b = table.buckets[16];
    assert.equal(b.entries.length, 16);
    assert.equal(b.replacements.length, 10);
    assert.deepEqual(b.replacements[0].id, ids[29]);
    assert.deepEqual(b.entries.map((n) => n.id.toString('hex')), ids.slice(0, 16).map((i) => i.toString('hex')));
  });

  it('holds more nodes per bucket when configured larger (a bootnode-sized table)', () => {
    const { table } = makeTable({ bucketSize: 40, exemptLANFromIPLimits: true });
    const ids = idsInBucket(table, 16, 45);
    ids.forEach((id, i) => table.addVerified(info(id, Buffer.from([10, 0, i >> 8, i & 255]))));
    assert.equal(table.buckets[16].entries.length, 40);
    assert.equal(table.buckets[16].replacements.length, 5);
  });

  it('copies a caller\'s bytes but shares the Buffers of a TableNode it is given (never written in place)', () => {
    const a = makeTable().table;
    const b = makeTable().table;
    const [id] = idsInBucket(a, 16, 1);
    const ip = freshIp();
    a.addVerified(info(id, ip));
    const inA = a.getNode(id)!;
    // A caller's view may be reused after the call: the table kept a copy.
    assert.notEqual(inA.id, id);
    ip.fill(0);
    assert.notDeepEqual(inA.ip, ip);
    // Another table adding that TableNode shares its bytes and its hash, in the right bucket.
    b.addVerified(inA);
    const inB = b.getNode(id)!;
    assert.notEqual(inB, inA, 'each table has its own entry (liveness, revalidation)');
    assert.equal(inB.id, inA.id);
    assert.equal(inB.hash, inA.hash);
    assert.equal(inB.ip, inA.ip);
    assert.equal(b.bucketIndex(inB.hash), b.buckets.findIndex((bk) => bk.entries.includes(inB)));
    // An endpoint change assigns a new ip Buffer: the other table's entry keeps its endpoint.
    b.addVerified(info(id, Buffer.from([45, 9, 9, 9]), 4444), { inbound: true });
    assert.deepEqual(inB.ip, Buffer.from([45, 9, 9, 9]));
    assert.notDeepEqual(inA.ip, Buffer.from([45, 9, 9, 9]));
    assert.equal(inA.udpPort, 30303);
  });

  it('never adds itself', () => {
    const { table, selfId } = makeTable();
    assert.equal(table.addVerified(info(selfId)), false);
    assert.equal(table.size, 0);
  });

  it('limits a bucket to 2 nodes from one /24 and the table to 10', () => {
    const { table } = makeTable();
    const ids = idsInBucket(table, 16, 3);
    const ip = (d: number) => Buffer.from([45, 1, 1, d]);
    assert.equal(table.addVerified(info(ids[0], ip(1))), true);
    assert.equal(table.addVerified(info(ids[1], ip(2))), true);
    assert.equal(table.addVerified(info(ids[2], ip(3))), false, 'third node of a /24 in one bucket');
    // Table-wide: 10 nodes of one /24 spread over buckets, then no more.
    const t2 = makeTable().table;
    let added = 0;
    for (let bucket = 0; bucket < N_BUCKETS && added < 12; bucket++) {
      if (bucket < 10) continue; // buckets 10..16 are reachable with random ids in reasonable time
      for (const id of idsInBucket(t2, bucket, 2)) if (t2.addVerified(info(id, Buffer.from([45, 9, 9, 1 + added])))) added++;
    }
    for (const id of idsInBucket(t2, 16, 4)) if (t2.addVerified(info(id, Buffer.from([45, 9, 9, 100 + added])))) added++;
    assert.ok(added <= 10, `added ${added} nodes from one /24`);
    assert.equal(t2.stats.ipLimited > 0, true);
  });

  it('limits IPv6 nodes per /64', () => {
    const { table } = makeTable();
    const ids = idsInBucket(table, 16, 3);
    const v6 = (last: number) => {
      const b = Buffer.alloc(16);
      b.set([0x20, 0x01, 0x0d, 0xb9, 0, 1, 0, 2]);
      b[15] = last;
      return b;
    };
    assert.equal(table.addVerified(info(ids[0], v6(1))), true);
    assert.equal(table.addVerified(info(ids[1], v6(2))), true);
    assert.equal(table.addVerified(info(ids[2], v6(3))), false);
  });

  it('exempts loopback and LAN addresses from IP limits when configured (default)', () => {
    const { table } = makeTable({ exemptLANFromIPLimits: true });
    const ids = idsInBucket(table, 16, 5);
    for (let i = 0; i < 5; i++) assert.equal(table.addVerified(info(ids[i], Buffer.from([127, 0, 0, 1]), 30000 + i)), true);
  });

  it('pings a found node before it enters the table, and leaves out one that does not answer', async () => {
    const { table, net } = makeTable();
    const [good, bad] = idsInBucket(table, 16, 2);
    net.dead.add(bad.toString('hex'));
    table.addFound(info(good));
    table.addFound(info(bad));
    assert.equal(table.size, 0, 'nothing enters before its pong');
    await flush();
    await flush();
    assert.deepEqual(net.pings.sort(), [good.toString('hex'), bad.toString('hex')].sort());
    assert.ok(table.getNode(good));
    assert.equal(table.getNode(bad), undefined);
  });

  it('refuses nodes its admitNode rule rejects (a ban list), as entries, found nodes and replacements', async () => {
    const banned = new Set<string>();
    const { table, net } = makeTable({ admitNode: (id) => !banned.has(Buffer.from(id).toString('hex')) });
    const [a, b] = idsInBucket(table, 16, 2);
    banned.add(a.toString('hex'));
    banned.add(b.toString('hex'));
    assert.equal(table.addVerified(info(a)), false);
    table.addFound(info(b));
    await flush();
    assert.equal(table.size, 0);
    assert.deepEqual(net.pings, [], 'a refused found node is not even pinged');
    assert.equal(table.stats.refused, 2);
  });

  it('calls onAdded when a node enters and onRevalidated (not onAdded) when it answers a revalidation', async () => {
    const added: string[] = [];
    const revalidated: string[] = [];
    const { table, clock } = makeTable({
      pingIntervalMs: 1000,
      onAdded: (n) => added.push(n.id.toString('hex')),
      onRevalidated: (n) => revalidated.push(n.id.toString('hex')),
    });
    const [id] = idsInBucket(table, 16, 1);
    table.addVerified(info(id));
    for (let i = 0; i < 20 && revalidated.length === 0; i++) {
      clock.advance(1000);
      await flush();
      await flush();
    }
    assert.deepEqual(added, [id.toString('hex')]);
    assert.ok(revalidated.includes(id.toString('hex')));
  });

  it('returns the closest nodes sorted by XOR distance to the target', () => {
    const { table } = makeTable();
    for (let i = 0; i < 60; i++) table.addVerified(info(randomBytes(64)));
    const target = keccak256(randomBytes(64));
    const got = table.closest(target, 16);
    assert.equal(got.length, Math.min(16, table.size));
    for (let i = 1; i < got.length; i++) assert.ok(distCmp(target, got[i - 1].hash, got[i].hash) <= 0);
    // Nothing in the table is closer than the last one returned.
    const all = table.nodes();
    const worst = got[got.length - 1];
    const closer = all.filter((n) => !got.includes(n) && distCmp(target, n.hash, worst.hash) < 0);
    assert.equal(closer.length, 0);
  });

  it('finds the same closest nodes as a brute-force sort for targets in every bucket, with and without a filter, visiting buckets nearest first', () => {
    const { table } = makeTable({ bucketSize: 32 });
    // Every bucket populated: a few nodes in the low (rare) buckets, full top ones.
    const perBucket = [2, 2, 3, 3, 4, 4, 5, 6, 8, 10, 12, 16, 20, 24, 28, 32, 32];
    perBucket.forEach((n, b) => {
      for (const id of idsInBucket(table, b, n)) assert.ok(table.addVerified(info(id)));
    });
    const all = table.nodes();
    const filters: Array<((n: TableNode) => boolean) | undefined> = [undefined, (n) => n.hash[5] % 2 === 0, (n) => n.hash[9] % 7 === 0];
    /** A target at log distance 240 + bucket from us (bucket 0: below 240), random below that bit. */
    const targetIn = (bucket: number) => {
      const h = Buffer.from(table.selfHash);
      const bit = bucket === 0 ? 200 : 239 + bucket;
      const byte = 31 - (bit >> 3);
      const low = randomBytes(32);
      for (let i = byte; i < 32; i++) h[i] = i === byte ? (h[i] & ~((1 << (bit & 7)) - 1)) | (low[i] & ((1 << (bit & 7)) - 1)) : low[i];
      h[byte] ^= 1 << (bit & 7);
      return h;
    };
    let checked = 0;
    for (let trial = 0; trial < 170; trial++) {
      const bucket = trial % 17;
      const target = targetIn(bucket);
      assert.equal(table.bucketIndex(target), bucket);
      for (const accept of filters) {
        for (const count of [1, 5, 16, 40]) {
          const want = all.filter((n) => accept === undefined || accept(n)).sort((a, b) => distCmp(target, a.hash, b.hash)).slice(0, count);
          const got = table.closest(target, count, { accept });
          assert.deepEqual(got.map((n) => n.id.toString('hex')), want.map((n) => n.id.toString('hex')), `target in bucket ${bucket}, count ${count}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 170 * 3 * 4);
  });

  it('prefers nodes that passed revalidation when asked for live nodes', () => {
    const { table } = makeTable();
    const ids = idsInBucket(table, 16, 4);
    table.addVerified(info(ids[0]), { live: true });
    for (const id of ids.slice(1)) table.addVerified(info(id));
    const live = table.closest(keccak256(randomBytes(64)), 16, { preferLive: true });
    assert.deepEqual(live.map((n) => n.id.toString('hex')), [ids[0].toString('hex')]);
    assert.equal(table.closest(keccak256(randomBytes(64)), 16).length, 4);
  });

  it('answers from every entry when asked for live nodes and none passed revalidation yet', () => {
    const { table } = makeTable();
    const ids = idsInBucket(table, 16, 3);
    for (const id of ids) table.addVerified(info(id));
    const target = keccak256(randomBytes(64));
    assert.deepEqual(table.closest(target, 16, { preferLive: true }), table.closest(target, 16));
    assert.equal(table.closest(target, 2, { preferLive: true }).length, 2);
  });

  it('revalidates on a schedule with one timer, and drops a node that fails, replacing it with a replacement that answers', async () => {
    const { table, net, clock } = makeTable({ pingIntervalMs: 1000 });
    const ids = idsInBucket(table, 16, 17);
    for (const id of ids) table.addVerified(info(id)); // 16 entries + 1 replacement
    assert.ok(clock.pendingTimers() <= 1);
    const victim = ids[0].toString('hex');
    for (const id of ids.slice(0, 16)) net.dead.add(id.toString('hex'));
    // New nodes have livenessChecks 0: a single failure removes them.
    for (let i = 0; i < 40 && table.getNode(ids[0]) !== undefined; i++) {
      clock.advance(1000);
      await flush();
      await flush();
    }
    assert.ok(net.pings.includes(victim) || table.stats.revalidationFailures > 0);
    assert.ok(table.stats.removed > 0, 'no node was dropped');
    // The replacement (ids[16]) answers its verification ping and takes a slot.
    assert.ok(table.getNode(ids[16]), 'replacement not promoted');
    assert.ok(table.stats.replaced >= 1);
  });

  it('divides the liveness count by 3 on failure, so a long-lived node survives one missed ping', async () => {
    const { table, net } = makeTable();
    const [id] = idsInBucket(table, 16, 1);
    table.addVerified(info(id));
    const n = table.getNode(id)!;
    for (let i = 0; i < 9; i++) await table.revalidate(n);
    assert.equal(n.livenessChecks, 9);
    net.dead.add(id.toString('hex'));
    await table.revalidate(n);
    assert.equal(n.livenessChecks, 3);
    assert.ok(table.getNode(id), 'dropped after one failure despite 9 successes');
    await table.revalidate(n);
    await table.revalidate(n);
    assert.equal(table.getNode(id), undefined);
  });

  it('fetches the record when a pong carries a higher enr-seq, and updates seq, record and endpoint', async () => {
    const { table, net } = makeTable();
    const key = randomBytes(32);
    const id = nodeIdFromPrivateKey(key);
    table.addVerified(info(id, Buffer.from([45, 0, 0, 1]), 30303));
    const n = table.getNode(id)!;
    const record = signRecord(key, 7n, { ip: Buffer.from([45, 0, 0, 2]), udp: 30304 });
    net.seqs.set(id.toString('hex'), 7n);
    net.records.set(id.toString('hex'), record);
    await table.revalidate(n);
    assert.deepEqual(net.enrRequests, [id.toString('hex')]);
    assert.equal(n.seq, 7n);
    assert.deepEqual(n.record, record);
    assert.deepEqual(n.ip, Buffer.from([45, 0, 0, 2]));
    assert.equal(n.udpPort, 30304);
    // Same seq again: no new request.
    await table.revalidate(n);
    assert.equal(net.enrRequests.length, 1);
  });

  it('ignores a fetched record signed by another key', async () => {
    const { table, net } = makeTable();
    const [id] = idsInBucket(table, 16, 1);
    table.addVerified(info(id, Buffer.from([45, 0, 0, 1])));
    const n = table.getNode(id)!;
    net.seqs.set(id.toString('hex'), 9n);
    net.records.set(id.toString('hex'), signRecord(randomBytes(32), 9n, { ip: Buffer.from([6, 6, 6, 6]), udp: 1 }));
    await table.revalidate(n);
    assert.equal(n.seq, 0n);
    assert.deepEqual(n.ip, Buffer.from([45, 0, 0, 1]));
  });

  it('drops a node after 5 findnode failures when its bucket can spare it', () => {
    const { table } = makeTable();
    const ids = idsInBucket(table, 16, 5);
    for (const id of ids) table.addVerified(info(id));
    table.trackFindnode(table.getNode(ids[0])!, 4);
    assert.ok(table.getNode(ids[0]));
    table.trackFindnode(table.getNode(ids[0])!, 5);
    assert.equal(table.getNode(ids[0]), undefined);
    // A bucket with fewer than 4 nodes keeps its nodes (small networks bootstrap).
    const t2 = makeTable().table;
    const few = idsInBucket(t2, 16, 2);
    for (const id of few) t2.addVerified(info(id));
    t2.trackFindnode(t2.getNode(few[0])!, 10);
    assert.ok(t2.getNode(few[0]));
  });

  it('updates an entry from inbound contact (new endpoint) but not from a found node with an old seq', () => {
    const { table } = makeTable();
    const [id] = idsInBucket(table, 16, 1);
    table.addVerified(info(id, Buffer.from([45, 0, 0, 1]), 1111));
    table.addVerified(info(id, Buffer.from([45, 0, 0, 9]), 2222)); // found-like: seq not higher
    assert.equal(table.getNode(id)!.udpPort, 1111);
    table.addVerified(info(id, Buffer.from([45, 0, 0, 9]), 2222), { inbound: true });
    assert.equal(table.getNode(id)!.udpPort, 2222);
    assert.deepEqual(table.getNode(id)!.ip, Buffer.from([45, 0, 0, 9]));
  });
});
