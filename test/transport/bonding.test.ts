/**
 * Bonding on its own (src/transport/bonding.ts): endpoint proofs and their
 * window, ping-backs (one in flight, back-off after no pong), findnodes
 * held while a ping-back is in flight, and ensureBond's wait for a ping.
 */
import { strict as assert } from 'node:assert';
import { MemoryBondStore } from '../../src/transport/bonds';
import {
  Bonding,
  HoldRefusal,
  ipKeyOf,
  MAX_FINDNODE_FAILURES,
  nodeKeyOf,
  PINGBACK_BACKOFF_MAX_MS,
  PINGBACK_BACKOFF_MS,
  PingBackOutcome,
} from '../../src/transport/bonding';
import { FakeClock } from '../../src/transport/clock';

const ID = Buffer.alloc(64, 7);
const IP = Uint8Array.from([10, 0, 0, 1]);
const OTHER_IP = Uint8Array.from([10, 0, 0, 2]);
const KEY = nodeKeyOf(ID) + ipKeyOf(IP);
const held = () => ({ id: Buffer.from(ID), target: Buffer.alloc(64, 1), ip: Buffer.from(IP), port: 30303 });

function setup(expirationMs = 60_000) {
  const clock = new FakeClock();
  let wall = 1_000_000;
  const b = new Bonding({ bonds: new MemoryBondStore(), clock, wallNow: () => wall, bondExpirationMs: expirationMs });
  return { b, clock, advanceWall: (ms: number) => (wall += ms) };
}

describe('Bonding', () => {
  it('holds an endpoint proof from a pong for the bond window, per node and IP', () => {
    const { b, advanceWall } = setup(60_000);
    assert.equal(b.hasProof(ID, IP), false);
    b.proven(ID, IP);
    assert.equal(b.hasProof(ID, IP), true);
    assert.equal(b.hasProof(ID, OTHER_IP), false, 'a proof is for one IP');
    advanceWall(60_001);
    assert.equal(b.hasProof(ID, IP), false, 'expired');
  });

  it('says a ping comes from a node without a proof until its pong, and records that it holds ours', () => {
    const { b } = setup();
    assert.equal(b.pinged(ID, IP), true);
    assert.ok(b.holdsOurProof(ID, IP) !== undefined, 'it pinged us: it will answer our findnode');
    b.proven(ID, IP);
    assert.equal(b.pinged(ID, IP), false);
  });

  it('asks for a re-bond after too many findnode failures', () => {
    const { b } = setup();
    b.pinged(ID, IP);
    b.record(ID, IP).findFails = MAX_FINDNODE_FAILURES + 1;
    assert.equal(b.holdsOurProof(ID, IP), undefined);
  });

  it('keeps one ping-back in flight per node and IP, and backs off after one that got no pong, doubling up to the cap', () => {
    const { b, clock } = setup();
    assert.ok(b.beginPingBack(KEY));
    assert.ok(!b.beginPingBack(KEY), 'one in flight');
    let wait = PINGBACK_BACKOFF_MS;
    for (let i = 0; i < 10; i++) {
      b.endPingBack(KEY, PingBackOutcome.Failed);
      clock.advance(wait - 1);
      assert.ok(!b.beginPingBack(KEY), `in back-off ${i + 1}`);
      clock.advance(1);
      assert.ok(b.beginPingBack(KEY), `back-off ${i + 1} over after ${wait} ms`);
      wait = Math.min(wait * 2, PINGBACK_BACKOFF_MAX_MS);
    }
    b.endPingBack(KEY, PingBackOutcome.Answered);
    assert.ok(b.beginPingBack(KEY), 'a pong clears the back-off');
  });

  it('holds one findnode per node while its ping-back is in flight, and releases it with the pong', () => {
    const { b } = setup();
    assert.equal(b.hold(ID, IP, held), HoldRefusal.NotBonding, 'no ping-back in flight');
    b.beginPingBack(KEY);
    assert.equal(b.hold(ID, IP, held), HoldRefusal.None);
    assert.equal(b.hold(ID, IP, held), HoldRefusal.Full, 'one per node');
    assert.equal(b.hold(ID, OTHER_IP, held), HoldRefusal.NotBonding, 'the ping-back is to the other IP');
    const r = b.endPingBack(KEY, PingBackOutcome.Answered);
    assert.ok(r.answer?.target.equals(Buffer.alloc(64, 1)));
    assert.equal(r.dropped, false);
    assert.equal(b.released, 1);
  });

  it('drops a held findnode when the ping-back gets no pong', () => {
    const { b } = setup();
    b.beginPingBack(KEY);
    b.hold(ID, IP, held);
    const r = b.endPingBack(KEY, PingBackOutcome.Failed);
    assert.equal(r.answer, undefined);
    assert.equal(r.dropped, true);
    assert.deepEqual(b.endPingBack(KEY, PingBackOutcome.Failed), { dropped: false }, 'nothing held any more');
  });

  it("ends ensureBond's wait when the node pings, or at the timeout", async () => {
    const { b, clock } = setup();
    let woken = false;
    const w = b.waitForPing(KEY, 1000).then(() => (woken = true));
    b.pinged(ID, IP);
    await w;
    assert.ok(woken);
    let timedOut = false;
    const t = b.waitForPing(KEY, 1000).then(() => (timedOut = true));
    clock.advance(999);
    await Promise.resolve();
    assert.ok(!timedOut);
    clock.advance(1);
    await t;
    assert.ok(timedOut);
  });
});
