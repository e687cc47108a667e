/**
 * A bootnode forgets the dead and remembers the living (issue: throwaway
 * keys from one-shot CLI commands and crawlers bond once and leave):
 * - a node that bonded and left is out of the table within the fast
 *   revalidation window, while honest nodes beside it stay;
 * - the known set hands out only nodes that proved themselves twice, at
 *   least KNOWN_VERIFY_AFTER_MS apart; due ones are pinged, silent ones dropped;
 * - the known set survives a restart, and is checked again before use;
 * - a restarted bootnode hands out no node silent for longer than the DB
 *   expiry, and the DB forgets them at its next expiry run.
 * All on the in-memory network with a FakeClock; wall time follows it.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey } from '../../src';
import { DB_EXPIRY_INTERVAL_MS, DB_NODE_EXPIRY_MS, FAST_REVALIDATION_WINDOW_INTERVALS, KNOWN_VERIFY_AFTER_MS, PING_INTERVAL_MS } from '../../src/defaults';
import type { Discovery } from '../../src/node/discovery';
import { MEMORY_WALL_START_MS, memoryNodes } from './helpers';

describe('a bootnode forgets the dead and remembers the living', () => {
  const nodes = memoryNodes({ transport: { respTimeoutMs: 300 } });
  const { start, run, endpointOf } = nodes;
  /** Wall clock that moves with the test's FakeClock (the nodes' default). */
  const now = () => MEMORY_WALL_START_MS + nodes.clock.now();
  /** Lets `ms` of clock time pass, with everything that happens in it. */
  const pass = (ms: number) => run(new Promise<void>((r) => nodes.clock.setTimer(r, ms)), ms + 1000);
  const has = (d: Discovery, n: Discovery) => d.table.getNode(n.nodeId) !== undefined;
  const ids = (list: ReadonlyArray<{ id: Buffer }>) => list.map((n) => n.id.toString('hex')).sort();

  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    dirs = [];
  });
  const tempDb = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'discv4-dead-'));
    dirs.push(d);
    return d;
  };

  it('drops nodes that bonded and left within the fast revalidation window, and keeps the honest ones beside them', async () => {
    const boot = await start({ now, knownNodes: 1000 });
    const honest = [];
    const throwaway = [];
    for (let i = 0; i < 5; i++) honest.push(await start({ now }));
    for (let i = 0; i < 20; i++) throwaway.push(await start({ now }));
    for (const n of [...honest, ...throwaway]) await run(n.transport.ping(endpointOf(boot)));
    await run(nodes.net.drain());
    assert.deepEqual([...honest, ...throwaway].filter((n) => !has(boot, n)).length, 0, `all 25 bonded and entered the table (${boot.table.size})`);
    for (const n of throwaway) await n.close();

    await pass(PING_INTERVAL_MS * FAST_REVALIDATION_WINDOW_INTERVALS + 5_000);
    assert.deepEqual(throwaway.filter((n) => has(boot, n)).length, 0, 'every throwaway left the table');
    assert.deepEqual(honest.filter((n) => !has(boot, n)).length, 0, 'every honest node stayed');
    assert.equal(boot.known?.size, honest.length, 'the throwaways are no longer known either');
  });

  it('hands out known nodes only after a second proof of life; due ones are pinged and the silent dropped', async () => {
    // One node per bucket: the table holds few, answers come from the known set.
    const boot = await start({ now, knownNodes: 1000, inboundNodes: 'never', table: { bucketSize: 1 } });
    const honest = [];
    const throwaway = [];
    for (let i = 0; i < 10; i++) honest.push(await start({ now }));
    for (let i = 0; i < 10; i++) throwaway.push(await start({ now }));
    for (const n of [...honest, ...throwaway]) await run(n.transport.ping(endpointOf(boot)));
    assert.equal(boot.known?.size, 20);
    const answer = async (asker: Discovery) => ids(await run(asker.transport.findnode(endpointOf(boot), randomBytes(64))));
    assert.deepEqual(await answer(honest[0]), [], 'nobody is handed out after one proof');

    for (const n of throwaway) await n.close();
    await pass(KNOWN_VERIFY_AFTER_MS + 5_000);
    assert.equal(boot.known?.size, 10, 'the due nodes were pinged: the 10 silent ones are gone');
    // A newcomer asks: it gets the 10 that answered again, no throwaway (nor itself).
    const newcomer = await start({ now });
    assert.deepEqual(await answer(newcomer), ids(honest.map((n) => ({ id: n.nodeId }))));
  });

  it('keeps its known set across a restart', async () => {
    const dir = tempDb();
    const privateKey = generatePrivateKey();
    const opts = { now, privateKey, db: dir, knownNodes: 1000, inboundNodes: 'never' as const, table: { bucketSize: 1 } };
    let boot = await start(opts);
    const peers: Discovery[] = [];
    for (let i = 0; i < 20; i++) peers.push(await start({ now }));
    for (const n of peers) await run(n.transport.ping(endpointOf(boot)));
    await pass(KNOWN_VERIFY_AFTER_MS + 5_000);
    assert.equal(boot.known?.size, 20);
    await boot.close();

    for (const n of peers.slice(10)) await n.close();
    boot = await start(opts);
    assert.equal(boot.known?.size, 20, 'all 20 known again, not only what the table held');
    // Each is pinged right after the start: the 10 alive are handed out again, the 10 gone are dropped.
    await pass(2_000);
    assert.equal(boot.known?.size, 10);
    const found = await run(peers[0].transport.findnode(endpointOf(boot), randomBytes(64)));
    assert.deepEqual(ids(found), ids(peers.slice(1, 10).map((n) => ({ id: n.nodeId }))));
  });

  it('after a restart, hands out no node silent for longer than the DB expiry, and the DB forgets them', async () => {
    const dir = tempDb();
    const privateKey = generatePrivateKey();
    let offsetMs = 0;
    const later = () => now() + offsetMs;
    const opts = { now: later, privateKey, db: dir, knownNodes: 1000, inboundNodes: 'never' as const, table: { bucketSize: 1 } };
    let boot = await start(opts);
    const peers: Discovery[] = [];
    for (let i = 0; i < 20; i++) peers.push(await start({ now: later }));
    for (const n of peers) await run(n.transport.ping(endpointOf(boot)));
    await pass(KNOWN_VERIFY_AFTER_MS + 5_000);
    assert.equal(boot.known?.size, 20);
    await boot.close();
    for (const n of peers.slice(1)) await n.close();

    // Down for longer than the expiry: the 19 dead peers are past it, and so is the live one (it was silent too).
    offsetMs = DB_NODE_EXPIRY_MS + 60_000;
    boot = await start(opts);
    assert.equal(boot.known?.size, 0, 'nothing past the expiry is loaded');
    const found = await run(peers[0].transport.findnode(endpointOf(boot), randomBytes(64)));
    assert.deepEqual(found, [], 'nothing silent past the expiry is handed out');
    await peers[0].close();
    assert.equal(boot.db.size, 20, 'still stored until the expiry job runs');
    await pass(DB_EXPIRY_INTERVAL_MS + 1_000);
    // The one that was alive may have answered a seed ping after the restart (seeds are a random
    // sample): stored afresh, it may stay; none of the 19 dead does.
    const left = ids(boot.db.recentNodes(Infinity));
    assert.deepEqual(left.filter((id) => id !== peers[0].nodeId.toString('hex')), [], 'the expiry run deleted the 19 dead from the DB');
  });
});
