import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { MemoryBondStore } from '../../src/transport/bonds';

const ip4 = (a: number, b: number, c: number, d: number) => Buffer.from([a, b, c, d]);

describe('MemoryBondStore', () => {
  it('keys records by node id and IP bytes: the same id at another IP is another record', () => {
    const s = new MemoryBondStore();
    const id = randomBytes(64);
    s.upsert(id, 0, ip4(10, 0, 0, 1)).lastPongReceivedMs = 5;
    assert.equal(s.get(id, 0, ip4(10, 0, 0, 1))?.lastPongReceivedMs, 5);
    assert.equal(s.get(id, 0, ip4(10, 0, 0, 2)), undefined);
    assert.equal(s.get(randomBytes(64), 0, ip4(10, 0, 0, 1)), undefined);
    assert.equal(s.size, 1);
  });

  it('reads the id at an offset inside a bigger buffer (a datagram) and copies it', () => {
    const s = new MemoryBondStore();
    const datagram = randomBytes(200);
    const id = Buffer.from(datagram.subarray(30, 94));
    s.upsert(datagram, 30, ip4(1, 2, 3, 4)).findFails = 2;
    datagram.fill(0); // the store must not keep a view of reused memory
    assert.equal(s.get(id, 0, ip4(1, 2, 3, 4))?.findFails, 2);
  });

  it('tells IPv4 and IPv6 addresses apart even when the bytes overlap', () => {
    const s = new MemoryBondStore();
    const id = randomBytes(64);
    const v6 = Buffer.alloc(16);
    v6.set([10, 0, 0, 1]);
    s.upsert(id, 0, ip4(10, 0, 0, 1)).findFails = 1;
    s.upsert(id, 0, v6).findFails = 2;
    assert.equal(s.get(id, 0, ip4(10, 0, 0, 1))?.findFails, 1);
    assert.equal(s.get(id, 0, v6)?.findFails, 2);
  });

  it('evicts the least recently used record at its bound, counting evictions', () => {
    const s = new MemoryBondStore(3);
    const ids = [0, 1, 2, 3].map(() => randomBytes(64));
    const ip = ip4(127, 0, 0, 1);
    s.upsert(ids[0], 0, ip);
    s.upsert(ids[1], 0, ip);
    s.upsert(ids[2], 0, ip);
    s.upsert(ids[0], 0, ip); // touch 0: now 1 is the oldest
    s.upsert(ids[3], 0, ip);
    assert.equal(s.size, 3);
    assert.equal(s.evictions, 1);
    assert.equal(s.get(ids[1], 0, ip), undefined);
    for (const i of [0, 2, 3]) assert.ok(s.get(ids[i], 0, ip), `record ${i} evicted`);
  });

  it('stays bounded and consistent under many identities (every live record is found)', () => {
    const max = 2_000;
    const s = new MemoryBondStore(max);
    const ids: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      const id = randomBytes(64);
      ids.push(id);
      s.upsert(id, 0, ip4(10, (i >> 16) & 255, (i >> 8) & 255, i & 255)).findFails = i;
      assert.ok(s.size <= max);
    }
    assert.equal(s.size, max);
    assert.equal(s.evictions, 10_000 - max);
    for (let i = 10_000 - max; i < 10_000; i++) {
      assert.equal(s.get(ids[i], 0, ip4(10, (i >> 16) & 255, (i >> 8) & 255, i & 255))?.findFails, i);
    }
    assert.equal(s.get(ids[0], 0, ip4(10, 0, 0, 0)), undefined);
  });
});
