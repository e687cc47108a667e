import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey } from '../../src';
import { Discovery } from '../../src/node/discovery';
import { formatEnode, parseEnode } from '../../src/node/enode';
import { until } from '../transport/helpers';
import { loopbackNodes } from './helpers';

describe('Discovery on loopback', () => {
  const start = loopbackNodes({ transport: { respTimeoutMs: 300 } });
  const enodeOf = (d: Discovery) => formatEnode(d.nodeId, Buffer.from([127, 0, 0, 1]), 0, d.transport.socket.address().port);
  const knows = (a: Discovery, b: Discovery) => a.table.getNode(b.nodeId) !== undefined;

  it('three nodes find each other from one bootnode', async () => {
    const boot = await start();
    await boot.refresh();
    const a = await start({ bootnodes: [enodeOf(boot)] });
    await a.refresh();
    const b = await start({ bootnodes: [enodeOf(boot)] });
    await b.refresh();
    const ok = await until(() => knows(a, b) && knows(b, a) && knows(boot, a) && knows(boot, b) && knows(a, boot) && knows(b, boot), 5000);
    assert.ok(ok, `tables: boot ${boot.table.size}, a ${a.table.size}, b ${b.table.size}`);
    // A lookup from a finds b and the bootnode.
    const found = await a.lookup(b.nodeId);
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
    await a.refresh();
    assert.ok(knows(a, boot));
    assert.ok(log.includes('alive') && log.indexOf('alive') < log.indexOf('added'), log.join(','));
    a.table.remove(boot.nodeId);
    assert.equal(log[log.length - 1], 'removed');
  });

  it("keeps nodes that ping it out of the table with inboundNodes: 'never'", async () => {
    const a = await start({ inboundNodes: 'never' });
    await a.refresh();
    const b = await start();
    await b.transport.ping({ id: a.nodeId, ip: '127.0.0.1', udpPort: a.transport.socket.address().port });
    // b is now bonded with a (a pinged it back); a still leaves it out.
    assert.ok(await until(() => a.transport.isBonded(b.nodeId, '127.0.0.1'), 2000));
    assert.equal(a.table.size, 0);
    const c = await start({ inboundNodes: 'always' });
    await b.transport.ping({ id: c.nodeId, ip: '127.0.0.1', udpPort: c.transport.socket.address().port });
    assert.ok(await until(() => knows(c, b), 2000), "'always' admits the pinging node before any refresh");
  });

  it('streams nodes from random lookups (randomNodes)', async () => {
    const boot = await start();
    await boot.refresh();
    const a = await start({ bootnodes: [enodeOf(boot)] });
    await a.refresh();
    const b = await start({ bootnodes: [enodeOf(boot)] });
    await b.refresh();
    const seen = new Set<string>();
    const it = b.randomNodes();
    const deadline = Date.now() + 5000;
    while (seen.size < 2 && Date.now() < deadline) {
      const r = await it.next();
      if (r.done) break;
      seen.add(r.value.id.toString('hex'));
    }
    await it.return(undefined);
    assert.ok(seen.has(boot.nodeId.toString('hex')));
    assert.ok(seen.has(a.nodeId.toString('hex')));
  });

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
