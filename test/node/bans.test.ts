/**
 * The persistent ban list: bans survive a restart (they live in the node
 * DB), expire, are bounded, and are enforced: a banned IP's datagrams are
 * dropped before any crypto, a banned node id never enters the table, and
 * an IP that keeps exceeding the rate limits bans itself.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NodeDB } from '../../src/db';
import { BanList, banTarget, MAX_BANS } from '../../src/node/bans';
import { encodePacket, generatePrivateKey, PacketType } from '../../src';
import type { Discovery } from '../../src/node/discovery';
import { ipToBytes } from '../../src/wire/ip';
import { farFuture } from '../transport/helpers';
import { memoryNodes } from './helpers';

describe('ban list', () => {
  it('keeps bans in the node DB across a restart, until they expire', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discv4-bans-'));
    let now = 1_000_000;
    try {
      const db = await NodeDB.open(dir);
      const bans = new BanList(db, () => now);
      await bans.ban('203.0.113.9', 60_000, 'flood');
      await bans.ban('a'.repeat(128), Infinity);
      await db.close();
      const db2 = await NodeDB.open(dir);
      const again = new BanList(db2, () => now);
      assert.deepEqual(again.list().map((b) => [b.kind, b.target, b.reason]), [['ip', '203.0.113.9', 'flood'], ['id', 'a'.repeat(128), '']]);
      assert.ok(again.isBannedIp(Uint8Array.from([203, 0, 113, 9])));
      now += 60_001;
      assert.ok(!again.isBannedIp(Uint8Array.from([203, 0, 113, 9])), 'expired');
      assert.equal(again.list().length, 1);
      assert.ok(await again.unban('a'.repeat(128)));
      assert.equal(again.size, 0);
      await db2.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sees changes another BanList (another process: the CLI) made to the same DB on reload', async () => {
    const db = await NodeDB.open(null);
    const node = new BanList(db);
    const cli = new BanList(db);
    await cli.ban('10.1.2.3', 1_000_000);
    assert.ok(!node.isBannedIp(Uint8Array.from([10, 1, 2, 3])));
    node.reload();
    assert.ok(node.isBannedIp(Uint8Array.from([10, 1, 2, 3])));
    await db.close();
  });

  it('holds at most MAX_BANS bans, dropping the ones that end first', async () => {
    const bans = new BanList(null, () => 0);
    for (let i = 0; i < MAX_BANS + 5; i++) await bans.ban(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1000 + i);
    assert.equal(bans.size, MAX_BANS);
    assert.ok(!bans.isBannedIp(Uint8Array.from([10, 0, 0, 0])), 'the earliest-ending ban went');
  });

  it('accepts IPs and node ids and rejects anything else', () => {
    assert.deepEqual(banTarget('::ffff:1.2.3.4').kind, 'ip');
    assert.deepEqual(banTarget('0x' + 'AB'.repeat(64)), { kind: 'id', target: 'ab'.repeat(64) });
    assert.throws(() => banTarget('example.com'), /not an IP address or a node id/);
  });
});

describe('ban enforcement in Discovery (in-memory network)', () => {
  const nodes = memoryNodes({ transport: { respTimeoutMs: 300 } });
  const { start, run, endpointOf } = nodes;
  /** A raw peer at `ip` (its own key) that counts what it receives. */
  const rawPeer = (ip: string) => {
    const sock = nodes.net.bind(ip, 30303);
    const key = generatePrivateKey();
    let received = 0;
    sock.start(() => received++);
    return {
      get received() {
        return received;
      },
      /** Pings `to` `count` times, then lets the network settle. */
      async ping(to: Discovery, count: number): Promise<void> {
        const target = endpointOf(to);
        for (let i = 0; i < count; i++) {
          const pkt = encodePacket(PacketType.Ping, { from: { ip, udpPort: 30303 }, to: { ip: target.ip, udpPort: target.udpPort }, expiration: farFuture }, key);
          sock.send(pkt, 0, pkt.length, ipToBytes(target.ip), target.udpPort, () => undefined);
        }
        await run(nodes.net.drain());
      },
    };
  };

  it('drops a banned IP before any crypto and keeps a banned node id out of the table', async () => {
    const d = await start({ inboundNodes: 'always' });
    await d.ban('10.9.0.5', 60_000, 'test');
    const peer = rawPeer('10.9.0.5');
    await peer.ping(d, 1);
    assert.equal(d.transport.stats().drops.banned, 1);
    assert.equal(d.transport.stats().packetsIn.ping, 0, 'dropped before verification');
    assert.equal(peer.received, 0, 'nothing sent back');
    // Unbanned, the same peer's ping is answered (pong and ping-back): the check above can fail.
    assert.ok(await d.unban('10.9.0.5'));
    await peer.ping(d, 1);
    assert.ok(peer.received >= 1, 'answered once unbanned');
    // A node id ban: it may talk, but never enters the table.
    const other = await start({});
    await d.ban(other.nodeId.toString('hex'), 60_000);
    await run(other.transport.ping(endpointOf(d)).catch(() => undefined));
    assert.equal(d.table.getNode(other.nodeId), undefined);
    assert.ok(d.transport.stats().drops.banned >= 2);
  });

  it('bans an IP that keeps exceeding the rate limits, and persists the ban', async () => {
    const d = await start({ transport: { respTimeoutMs: 300, rateLimits: { pingPerSec: 1, abuseThreshold: 50 } }, autoBanMs: 60_000 });
    const banned: string[] = [];
    d.on('banned', (b) => banned.push(b.target));
    const flooder = rawPeer('10.9.0.6');
    await flooder.ping(d, 200);
    await run(new Promise<void>((r) => setImmediate(r)));
    assert.deepEqual(banned, ['10.9.0.6'], `drops ${JSON.stringify(d.transport.stats().drops)}`);
    assert.ok(d.bans.list().some((b) => b.target === '10.9.0.6' && /rate limits/.test(b.reason)));
    await flooder.ping(d, 1);
    assert.ok(d.transport.stats().drops.banned > 0, 'its next datagram is dropped as banned');
  });
});
