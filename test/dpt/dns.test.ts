/**
 * shouldGetDnsPeers: our DPT finds live nodes through an EIP-1459 tree
 * served by a DNS server on 127.0.0.1, without touching the process's
 * DNS settings.
 */
import * as assert from 'node:assert/strict';
import * as dns from 'node:dns';
import { DPT } from '../../src/dpt';
import { encodeEnrText, generatePrivateKey, nodeIdFromPrivateKey } from '../../src';
import { formatTreeUrl, makeTree } from '../../src/dns';
import { TestDnsServer } from '../dns/server';
import { destroyAll, knows, OURS, startDpt, until } from './helpers';

describe('DPT DNS discovery (EIP-1459)', function () {
  this.timeout(15_000);
  afterEach(destroyAll);

  it('adds the live nodes of an enrtree:// list on refresh', async () => {
    const [b, c] = await Promise.all([startDpt(OURS), startDpt(OURS)]);
    const enrs = [b, c].map((r) => encodeEnrText((r.dpt as unknown as DPT).service!.localRecord));
    const treeKey = generatePrivateKey();
    const domain = 'nodes.dpt.test';
    const server = await TestDnsServer.start(makeTree(enrs, [], 1, treeKey, domain));
    const globalServers = dns.getServers();
    try {
      const a = await startDpt(OURS, {
        shouldGetDnsPeers: true,
        dnsNetworks: [formatTreeUrl(nodeIdFromPrivateKey(treeKey), domain)],
        dnsAddr: server.address,
        dnsRefreshQuantity: 4,
      });
      const dnsPeers = await (a.dpt as unknown as DPT).getDnsPeers();
      assert.equal(dnsPeers.length, 2);
      await a.dpt.refresh();
      assert.ok(await until(() => knows(a, b) && knows(a, c), 5000), 'DNS peers not added');
      assert.ok(server.queries > 0);
      assert.deepEqual(dns.getServers(), globalServers, 'the process DNS servers changed');
    } finally {
      await server.close();
    }
  });
});
