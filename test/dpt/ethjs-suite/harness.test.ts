/**
 * The harness under the ported ethjs suite does what README.md beside it
 * promises: a callback that never ran or threw fails its test, and no DNS
 * setting or query leaves 127.0.0.1 while the suite runs.
 */
import * as assert from 'node:assert/strict';
import type * as DnsModule from 'node:dns';
import { destroyCreated, guardDns, Handlers, IMPLS } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dns = require('node:dns') as typeof DnsModule;

describe('ethjs suite harness', () => {
  afterEach(destroyCreated);

  it('fails a test whose wrapped handler never ran', async () => {
    const handlers = new Handlers();
    handlers.wrap('peer:added', () => undefined);
    await assert.rejects(handlers.settle(100), /handler never ran within 100 ms: peer:added/);
  });

  it('fails a test whose wrapped async handler threw after the body returned', async () => {
    const handlers = new Handlers();
    const h = handlers.wrap('peer:removed', async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('late assertion');
    });
    void h();
    await assert.rejects(handlers.settle(1000), /late assertion/);
  });

  it('passes when every wrapped handler ran and settled', async () => {
    const handlers = new Handlers();
    const h = handlers.wrap('peer:new', async () => new Promise((r) => setTimeout(r, 20)));
    void h();
    await handlers.settle(1000);
  });

  it("redirects ethjs's dns.promises.setServers(['8.8.8.8']) to a local server and restores the process's servers", async () => {
    const before = dns.getServers();
    const guard = await guardDns();
    try {
      new IMPLS[0].DPT(IMPLS[0].genPrivateKey(), {});
      assert.deepEqual(guard.setServersCalls, [['8.8.8.8']]);
      for (const servers of [dns.getServers(), dns.promises.getServers(), new dns.promises.Resolver().getServers()]) {
        assert.equal(servers.length, 1);
        assert.match(servers[0], /^127\.0\.0\.1:\d+$/);
      }
      const resolver = new dns.Resolver();
      resolver.setServers(['8.8.8.8']);
      assert.match(resolver.getServers()[0], /^127\.0\.0\.1:\d+$/);
      await assert.rejects(dns.promises.resolveTxt('nodes.example.org'), { code: 'ENOTFOUND' });
      assert.ok(guard.queries() > 0, 'the query did not reach the local server');
    } finally {
      await guard.close();
    }
    assert.deepEqual(dns.getServers(), before);
    assert.deepEqual(dns.promises.getServers(), before);
  });
});
