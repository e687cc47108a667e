/**
 * The protected members of ethjs's DPT that applications read, on ours:
 * `_banlist`, `_dns`, `_server`, `_kbucket`, `_shouldFindNeighbours`, `_onKBucketPing`.
 * Every node is on 127.0.0.1; waits are bounded.
 */
import * as assert from 'node:assert/strict';
import { BanList, DNS, DPT, Server } from '../../src/dpt';
import { DiscError, encodeEnrText, generatePrivateKey, nodeIdFromPrivateKey } from '../../src';
import { formatTreeUrl, makeTree } from '../../src/dns';
import { destroy, destroyAll, freePort, hex, knows, OURS, startDpt, until } from './helpers';
import type { Running } from './helpers';

const ours = (r: Running): DPT => r.dpt as unknown as DPT;

describe('DPT: ethjs protected members (discv4-native)', function () {
  this.timeout(15_000);
  afterEach(destroyAll);

  it('_banlist is the BanList that banPeer fills and addPeer consults', async () => {
    const a = await startDpt(OURS);
    const b = await startDpt(OURS);
    const peer = await a.dpt.addPeer(b.info);
    assert.ok(ours(a)._banlist instanceof BanList);
    assert.equal(ours(a)._banlist.has(peer), false);
    a.dpt.banPeer(peer, 60_000);
    assert.equal(ours(a)._banlist.has(peer), true);
    ours(a)._banlist.delete(peer);
    assert.equal(hex((await a.dpt.addPeer(b.info)).id), hex(b.dpt.id));
  });

  it("_kbucket reads, adds and removes this DPT's peers with ethjs's KBucket API, and reports added/removed", async () => {
    const a = await startDpt(OURS);
    const b = await startDpt(OURS);
    const c = await startDpt(OURS);
    const kb = ours(a)._kbucket;
    assert.equal(ours(a)._kbucket, kb, 'one view');
    const added: string[] = [];
    const removed: string[] = [];
    kb.events.on('added', (p) => added.push(hex(p.id!)));
    kb.events.on('removed', (p) => removed.push(hex(p.id!)));
    await a.dpt.addPeer(b.info);
    assert.deepEqual(kb.getAll().map((p) => hex(p.id!)), [hex(b.dpt.id)]);
    assert.equal(hex(kb.get(b.dpt.id!)!.id!), hex(b.dpt.id));
    assert.equal(hex(kb.closest(c.dpt.id!)[0].id!), hex(b.dpt.id));
    kb.add(c.info);
    assert.ok(await until(() => kb.get(c.dpt.id!) !== null, 3000), 'add() verifies, then the peer is in');
    kb.remove(b.dpt.id!);
    assert.equal(kb.get(b.dpt.id!), null);
    assert.deepEqual(added, [hex(b.dpt.id), hex(c.dpt.id)]);
    assert.deepEqual(removed, [hex(b.dpt.id)]);
  });

  it('_server is the bound Server; assigning it throws a typed UNSUPPORTED error', async () => {
    const a = await startDpt(OURS);
    assert.ok(ours(a)._server instanceof Server);
    assert.throws(
      () => {
        (ours(a) as unknown as { _server: unknown })._server = {};
      },
      (err: unknown) => err instanceof DiscError && err.code === 'UNSUPPORTED',
    );
  });

  it('_shouldFindNeighbours set after bind turns on admitting nodes that ping us', async () => {
    const a = await startDpt(OURS, { shouldFindNeighbours: false });
    const b = await startDpt(OURS);
    assert.equal(ours(a)._shouldFindNeighbours, false);
    await b.dpt.addPeer(a.info);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(knows(a, b), false, 'admitted while off');
    ours(a)._shouldFindNeighbours = true;
    assert.equal(ours(a)._shouldFindNeighbours, true);
    const c = await startDpt(OURS);
    await c.dpt.addPeer(a.info);
    assert.ok(await until(() => knows(a, c), 3000), 'not admitted after turning it on');
  });

  it('_onKBucketPing bans and removes an old peer that does not answer, then adds the newcomer', async () => {
    const a = await startDpt(OURS, { timeout: 300 });
    const b = await startDpt(OURS);
    const c = await startDpt(OURS);
    const old = await a.dpt.addPeer(b.info);
    destroy(b);
    await new Promise((r) => setTimeout(r, 100));
    ours(a)._onKBucketPing([old], c.info);
    assert.ok(await until(() => knows(a, c), 3000), 'newcomer not added');
    assert.equal(knows(a, b), false);
    assert.equal(ours(a)._banlist.has(old), true);
  });

  it('_onKBucketPing rejects malformed arguments with a typed error', async () => {
    const a = await startDpt(OURS);
    for (const [old, peer] of [[null, {}], [[], null], ['x', {}]] as const) {
      assert.throws(() => ours(a)._onKBucketPing(old as never, peer as never), (e: unknown) => e instanceof DiscError && e.code === 'INVALID_ARGUMENT');
    }
  });

  it('_onKBucketPing leaves the table alone when every old peer answers (no ban for the newcomer)', async () => {
    const a = await startDpt(OURS);
    const b = await startDpt(OURS);
    const c = await startDpt(OURS);
    const old = await a.dpt.addPeer(b.info);
    const newcomer = { ...c.info, id: c.dpt.id };
    ours(a)._onKBucketPing([old], newcomer);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(knows(a, b), true);
    assert.equal(knows(a, c), false);
    assert.equal(ours(a)._banlist.has(newcomer), false);
  });

  it('_dns.__setNativeDNSModuleResolve answers this DPT\'s TXT lookups and no other client\'s', async () => {
    const b = await startDpt(OURS);
    const treeKey = generatePrivateKey();
    const domain = 'nodes.members.test';
    const records = makeTree([encodeEnrText(ours(b).service!.localRecord)], [], 1, treeKey, domain);
    const asked: string[] = [];
    const port = await freePort();
    const a = new DPT(generatePrivateKey(), {
      endpoint: { address: '127.0.0.1', udpPort: port, tcpPort: port },
      dnsNetworks: [formatTreeUrl(nodeIdFromPrivateKey(treeKey), domain)],
      dnsAddr: '127.0.0.1:9', // nothing answers there: only the mock can
    });
    try {
      assert.ok(a._dns instanceof DNS);
      a._dns.__setNativeDNSModuleResolve({
        resolve: (name: string) => {
          asked.push(name);
          const text = records.get(name);
          return text === undefined ? [] : [[Array.isArray(text) ? text.join('') : text]];
        },
      });
      const peers = await a.getDnsPeers();
      assert.deepEqual(peers.map((p) => hex(p.id)), [hex(b.dpt.id)]);
      assert.ok(asked.includes(domain));
      assert.throws(() => a._dns.__setNativeDNSModuleResolve({} as never), (e: unknown) => e instanceof DiscError);
      const other = new DNS({ dnsServerAddress: '127.0.0.1:9', timeoutMs: 200 });
      assert.deepEqual(await other.getPeers(1, [formatTreeUrl(nodeIdFromPrivateKey(treeKey), domain)]), []);
    } finally {
      a.destroy();
    }
  });
});
