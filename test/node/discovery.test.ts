import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey } from '../../src';
import { Discovery } from '../../src/node/discovery';
import { formatEnode, parseEnode } from '../../src/node/enode';
import { loopbackNodes, memoryNodes } from './helpers';

describe('Discovery on an in-memory network', () => {
  const nodes = memoryNodes({ transport: { respTimeoutMs: 300 } });
  const { start, run, enodeOf, endpointOf } = nodes;
  const knows = (a: Discovery, b: Discovery) => a.table.getNode(b.nodeId) !== undefined;

  it('three nodes find each other from one bootnode', async () => {
    const boot = await start();
    await run(boot.refresh());
    const a = await start({ bootnodes: [enodeOf(boot)] });
    await run(a.refresh());
    const b = await start({ bootnodes: [enodeOf(boot)] });
    await run(b.refresh());
    await nodes.net.drain();
    const pairs: Array<[string, Discovery, Discovery]> = [['a-b', a, b], ['b-a', b, a], ['boot-a', boot, a], ['boot-b', boot, b], ['a-boot', a, boot], ['b-boot', b, boot]];
    assert.deepEqual(pairs.filter(([, x, y]) => !knows(x, y)).map(([n]) => n), [], `tables: boot ${boot.table.size}, a ${a.table.size}, b ${b.table.size}`);
    // A lookup from a finds b and the bootnode.
    const found = await run(a.lookup(b.nodeId));
    const ids = found.map((n) => n.id.toString('hex'));
    assert.ok(ids.includes(b.nodeId.toString('hex')));
    assert.ok(ids.includes(boot.nodeId.toString('hex')));
  });

  it('emits nodeAlive, then nodeAdded, for a node that answers, and nodeRemoved when it leaves', async () => {
    const boot = await start();
    const a = await start({ bootnodes: [enodeOf(boot)] });
    const log: string[] = [];
    a.on('nodeAlive', () => log.push('alive'));
    a.on('nodeAdded', () => log.push('added'));
    a.on('nodeRemoved', () => log.push('removed'));
    await run(a.refresh());
    assert.ok(knows(a, boot));
    assert.ok(log.includes('alive') && log.indexOf('alive') < log.indexOf('added'), log.join(','));
    a.table.remove(boot.nodeId);
    assert.equal(log[log.length - 1], 'removed');
  });

  it("keeps nodes that ping it out of the table with inboundNodes: 'never'", async () => {
    const a = await start({ inboundNodes: 'never' });
    await run(a.refresh());
    const b = await start();
    await run(b.transport.ping(endpointOf(a)));
    await nodes.net.drain();
    // b is now bonded with a (a pinged it back); a still leaves it out.
    assert.ok(a.transport.isBonded(b.nodeId, endpointOf(b).ip), 'a pinged b back and got its pong');
    assert.equal(a.table.size, 0);
    const c = await start({ inboundNodes: 'always' });
    await run(b.transport.ping(endpointOf(c)));
    await nodes.net.drain();
    assert.ok(knows(c, b), "'always' admits the pinging node before any refresh");
  });

  it('streams nodes from random lookups (randomNodes)', async () => {
    const boot = await start();
    await run(boot.refresh());
    const a = await start({ bootnodes: [enodeOf(boot)] });
    await run(a.refresh());
    const b = await start({ bootnodes: [enodeOf(boot)] });
    await run(b.refresh());
    const seen = new Set<string>();
    const it = b.randomNodes();
    // Bounded: each round is a lookup over a three-node network.
    for (let i = 0; i < 50 && seen.size < 2; i++) {
      const r = await run(it.next());
      if (r.done) break;
      seen.add(r.value.id.toString('hex'));
    }
    await run(it.return(undefined));
    assert.ok(seen.has(boot.nodeId.toString('hex')));
    assert.ok(seen.has(a.nodeId.toString('hex')));
  });
});

describe('Discovery on loopback', () => {
  const start = loopbackNodes({ transport: { respTimeoutMs: 300 } });
  const enodeOf = (d: Discovery) => formatEnode(d.nodeId, Buffer.from([127, 0, 0, 1]), 0, d.transport.socket.address().port);
  const knows = (a: Discovery, b: Discovery) => a.table.getNode(b.nodeId) !== undefined;

  it('restarts from its on-disk DB knowing its peers and keeping its record seq', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discv4-node-'));
    try {
      const boot = await start();
      await boot.refresh();
      const key = generatePrivateKey();
      const first = await start({ privateKey: key, db: dir, bootnodes: [enodeOf(boot)] });
      await first.refresh();
      assert.ok(knows(first, boot));
      const seq = first.localSeq;
      const port = first.transport.socket.address().port;
      await first.close(); // close() is idempotent: closeAll() skips it later

      // Same key, same endpoint, no bootnodes: the DB alone must bring the peer back.
      const again = await start({ privateKey: key, db: dir, port, refreshOnStart: false });
      assert.equal(again.localSeq, seq, 'seq must not change when the record content did not');
      assert.ok(again.db.seedNodes(30, 24 * 3600 * 1000).some((n) => n.id.equals(boot.nodeId)), 'peer not in the DB');
      await again.refresh();
      assert.ok(knows(again, boot), 'restarted node did not reconnect to its peer from the DB');
      await again.close();

      // A new endpoint changes the record: seq goes up, never back.
      const moved = await start({ privateKey: key, db: dir, refreshOnStart: false });
      assert.equal(moved.localSeq, seq + 1n);
    } finally {
      await start.closeAll();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('enode URLs', () => {
  it('round-trips IPv4 and IPv6 enode URLs with and without discport', () => {
    const id = Buffer.alloc(64, 0xab);
    for (const [ip, tcp, udp] of [
      [Buffer.from([10, 0, 0, 1]), 30303, 30303],
      [Buffer.from([10, 0, 0, 1]), 30303, 30301],
      [Buffer.from('20010db8000000000000000000000001', 'hex'), 0, 9000],
    ] as const) {
      const url = formatEnode(id, ip, tcp, udp);
      const e = parseEnode(url);
      assert.deepEqual(e.id, id);
      assert.deepEqual(e.ip, ip);
      assert.equal(e.tcpPort, tcp);
      assert.equal(e.udpPort, udp);
    }
  });

  it('rejects malformed enode URLs with BAD_ENODE', () => {
    for (const bad of ['enode://abc@1.2.3.4:30303', 'enr:-abc', `enode://${'ab'.repeat(64)}@1.2.3.4`, `enode://${'ab'.repeat(64)}@1.2.3.4:99999`, `enode://${'ab'.repeat(64)}@1.2.3.4:0`]) {
      assert.throws(() => parseEnode(bad), (err: unknown) => (err as { code?: string }).code === 'BAD_ENODE', bad);
    }
  });
});
