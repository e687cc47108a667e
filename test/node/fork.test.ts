/**
 * Fork-aware serving on an in-memory network: nodes advertising different fork ids
 * (their records' `eth` entry) join a bootnode; its neighbors answers hold
 * only its network's nodes ('strict'), its network's first ('prefer'), or
 * everyone ('off'); its own record carries its fork id.
 */
import { strict as assert } from 'node:assert';
import { decodeRecord } from '../../src/enr/record';
import { decodeEthEntry, ethEntry, forkId, headAt, NETWORKS } from '../../src/node/forkid';
import type { Discovery } from '../../src/node/discovery';
import { MEMORY_WALL_START_MS, memoryNodes } from './helpers';

describe('fork-aware serving', function () {
  const nodes = memoryNodes({ transport: { respTimeoutMs: 300 } });
  const { start, run, endpointOf } = nodes;
  const mainnet = () => forkId(NETWORKS.mainnet, headAt(MEMORY_WALL_START_MS));
  const sepolia = () => forkId(NETWORKS.sepolia, headAt(MEMORY_WALL_START_MS));

  async function network(filter: 'strict' | 'prefer' | 'off') {
    const boot = await start({ fork: { network: 'mainnet', filter }, inboundNodes: 'always' });
    const join = async (eth: ReturnType<typeof mainnet> | undefined) => {
      const d = await start(eth === undefined ? {} : { recordPairs: { eth: ethEntry(eth) } });
      await run(d.transport.ping(endpointOf(boot)));
      return d;
    };
    const ours = [await join(mainnet()), await join(mainnet())];
    const other = [await join(sepolia()), await join(sepolia())];
    const unknown = [await join(undefined)];
    const all = [...ours, ...other, ...unknown];
    // They bond, enter its table, and it fetches their records.
    await run(nodes.net.drain());
    assert.ok(
      all.every((d) => boot.table.getNode(d.nodeId)?.record !== undefined),
      `table ${boot.table.size}, records ${all.filter((d) => boot.table.getNode(d.nodeId)?.record !== undefined).length}`,
    );
    const asker = await join(mainnet());
    await run(nodes.net.drain());
    const found = await run(asker.transport.findnode(endpointOf(boot), asker.nodeId));
    const ids = (ds: Discovery[]) => ds.map((d) => d.nodeId.toString('hex'));
    return { boot, ours: ids(ours), other: ids(other), unknown: ids(unknown), got: found.map((n) => n.id.toString('hex')) };
  }

  it("advertises its network's fork id in the eth entry of its record", async () => {
    const boot = await start({ fork: { network: 'mainnet' } });
    const eth = decodeRecord(boot.localRecord)!.pairs.get('eth')!;
    assert.deepEqual(decodeEthEntry(eth), mainnet());
  });

  it("'strict' answers findnode with nodes of its network only", async () => {
    const r = await network('strict');
    assert.deepEqual(new Set(r.got.filter((id) => !r.ours.includes(id))), new Set(), `got others: ${r.got.length}`);
    for (const id of r.ours) assert.ok(r.got.includes(id));
  });

  it("'prefer' lists its network's nodes first, then unknown, then the others", async () => {
    const r = await network('prefer');
    const rank = (id: string) => (r.ours.includes(id) ? 0 : r.unknown.includes(id) ? 1 : r.other.includes(id) ? 2 : 0);
    const ranks = r.got.map(rank);
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    for (const id of [...r.ours, ...r.other]) assert.ok(r.got.includes(id));
  });

  it("'off' answers with everyone", async () => {
    const r = await network('off');
    for (const id of [...r.ours, ...r.other, ...r.unknown]) assert.ok(r.got.includes(id));
  });
});
