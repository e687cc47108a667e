/**
 * Discovery on injected time, over an in-memory network: its chores run on
 * the monotonic `clock` (a FakeClock here, moved by hand), and what it
 * stamps with wall time (stored nodes, known nodes, bans) reads `now`.
 */
import { strict as assert } from 'node:assert';
import { generatePrivateKey, keccak256, nodeIdFromPrivateKey } from '../../src';
import { NodeDB } from '../../src/db';
import { BanList } from '../../src/node/bans';
import { Ban, Discovery, DiscoveryOptions } from '../../src/node/discovery';
import { MemoryNetwork } from '../../src/sim/memory-network';
import { FakeClock } from '../../src/transport/clock';
import { Transport } from '../../src/transport/transport';

const WALL_MS = 1_700_000_000_000;
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('Discovery on injected clocks (in-memory network)', () => {
  const open: Discovery[] = [];
  const dbs: NodeDB[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
    await Promise.all(dbs.splice(0).map((db) => db.close()));
  });

  async function start(over: Partial<DiscoveryOptions> = {}) {
    const net = new MemoryNetwork();
    const clock = new FakeClock();
    const db = await NodeDB.open(null, { now: () => WALL_MS });
    dbs.push(db);
    const d = await Discovery.start({
      privateKey: generatePrivateKey(),
      db,
      clock,
      now: () => WALL_MS,
      refreshOnStart: false,
      refreshIntervalMs: 0,
      transportFactory: async (cfg) => new Transport({ ...cfg, socket: net.bind('10.0.0.1', 30303) }),
      ...over,
    });
    open.push(d);
    return { d, clock, db };
  }

  it('re-reads the ban list from the DB every 5 s of its clock', async () => {
    const { d, clock, db } = await start();
    const ip = Buffer.from([10, 9, 9, 9]);
    await new BanList(db).ban('10.9.9.9', 60_000, 'by the CLI');
    clock.advance(4_999);
    assert.equal(d.bans.isBannedIp(ip), false, 'not re-read yet');
    clock.advance(1);
    assert.equal(d.bans.isBannedIp(ip), true);
  });

  it('stamps stored nodes, known nodes and bans with the injected wall clock', async () => {
    const { d, db } = await start({ knownNodes: 10 });
    const id = nodeIdFromPrivateKey(generatePrivateKey());
    assert.ok(d.table.addVerified({ id, ip: Buffer.from([10, 0, 0, 2]), udpPort: 30303, tcpPort: 0 }, { live: true }));
    assert.equal(db.getNode(id)?.lastPongReceivedMs, WALL_MS);
    assert.equal(d.known?.closest(keccak256(id), 1)[0]?.seenMs, WALL_MS);
    const bans: Ban[] = [];
    // Typed by DiscoveryEvents: the listener's argument is a Ban.
    d.on('banned', (b) => bans.push(b));
    // @ts-expect-error: not an event of Discovery
    d.on('bannned', () => undefined);
    await d.ban('10.9.9.9', 60_000, 'test');
    assert.deepEqual(
      bans.map((b) => [b.target, b.addedMs, b.untilMs]),
      [['10.9.9.9', WALL_MS, WALL_MS + 60_000]],
    );
  });

  it('waits on its clock between random lookups that find nobody to ask', async () => {
    const { d, clock } = await start();
    const lookups: number[] = [];
    d.on('lookup', (e) => lookups.push(e.durationMs));
    const it = d.randomNodes();
    const next = it.next();
    await settle();
    // The refresh before the first round: a self and 3 random lookups, nobody to ask
    // (the round's own lookup, from newLookup, reports no event).
    assert.equal(lookups.length, 4);
    clock.advance(999);
    await settle();
    assert.equal(lookups.length, 4, 'still waiting');
    clock.advance(1);
    await settle();
    assert.equal(lookups.length, 8, 'the next round ran');
    assert.deepEqual(new Set(lookups), new Set([0]), 'durations on the fake clock');
    await d.close();
    clock.advance(1000);
    assert.deepEqual(await next, { value: undefined, done: true });
  });
});
