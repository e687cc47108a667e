/**
 * Honest peers behind one address (a NAT, a cloud host running several
 * clients) always bond with the bootnode, even while other keys on that
 * same address ping and never answer our ping-backs, and also after a
 * restart in which the bootnode pings stored peers of that address that
 * are dead. The anti-amplification budget is per IP: these are the
 * honest traffic it must never cost.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { encodePacket, PacketType } from '../../src';
import { NodeDB } from '../../src/db';
import { RawPeer, startNode, TestNode } from '../transport/helpers';
import { httpGet, killAll, sample, startBootnode, stop, tempDir } from './helpers';

const HONEST = 20;
const SILENT = 5;
/** Each silent key pings every this many ms (5 pings/s each). */
const SILENT_INTERVAL_MS = 200;

/** Keys on 127.0.0.1 that ping the bootnode all the time and never answer its ping-backs. */
async function startSilentPingers(target: { port: number }): Promise<{ peers: RawPeer[]; retarget(port: number): void; stop(): Promise<void> }> {
  const peers = await Promise.all(Array.from({ length: SILENT }, () => RawPeer.bind('127.0.0.1')));
  let port = target.port;
  const timer = setInterval(() => {
    for (const p of peers) {
      p.sendRaw(
        encodePacket(PacketType.Ping, { from: { ip: '127.0.0.1', udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: port } }, p.key),
        { ip: '127.0.0.1', udpPort: port },
      );
    }
  }, SILENT_INTERVAL_MS);
  return {
    peers,
    retarget: (p) => (port = p),
    stop: async () => {
      clearInterval(timer);
      await Promise.all(peers.map((p) => p.close()));
    },
  };
}

/** 20 honest nodes on 127.0.0.1 (different ports and keys) ask the bootnode for nodes at once; each must be answered. */
async function honestRound(boot: { id: Buffer; ip: string; udpPort: number }): Promise<{ nodes: TestNode[]; failures: string[] }> {
  const nodes = await Promise.all(Array.from({ length: HONEST }, () => startNode('127.0.0.1', { respTimeoutMs: 1000 })));
  const results = await Promise.allSettled(nodes.map((n) => n.t.findnode(boot, randomBytes(64))));
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`node ${i}: ${(r.reason as Error).message}`] : []));
  return { nodes, failures };
}

describe('honest peers behind one address', function () {
  this.timeout(90_000);
  after(killAll);

  it('all 20 bond and get findnode answers while 5 silent keys on that address ping; also after a restart with dead DB peers there', async () => {
    const dir = tempDir();
    const args = ['--datadir', dir, '--metrics-addr', '127.0.0.1:0'];
    let b = await startBootnode(args, dir);
    const silent = await startSilentPingers(b);
    const open: TestNode[] = [];
    try {
      // Let the silent keys cost what they cost first: pongs, and ping-backs that time out.
      await new Promise((r) => setTimeout(r, 1500));
      const first = await honestRound({ id: Buffer.from(b.id, 'hex'), ip: '127.0.0.1', udpPort: b.port });
      open.push(...first.nodes);
      assert.deepEqual(first.failures, [], 'before the restart');
      // The bootnode answered the silent keys all along (pongs), and they did not bond.
      for (const p of silent.peers) assert.ok(p.ofType(PacketType.Pong).length >= 5, 'silent keys get pongs');

      // The 20 die; in the bootnode's DB they are stored peers, as a long-running
      // bootnode holds its peers (stored once they answered a revalidation, which
      // takes longer than this test). It restarts on that DB.
      await Promise.all(first.nodes.map((n) => n.t.close()));
      open.length = 0;
      const stopped = await stop(b);
      assert.equal(stopped.code, 0, stopped.stderr);
      const db = await NodeDB.open(join(dir, 'nodes'));
      const nowMs = Date.now();
      for (const n of first.nodes) {
        db.putNode({ id: n.node.id, ip: Buffer.from([127, 0, 0, 1]), udpPort: n.node.udpPort, tcpPort: 0, lastPingSentMs: nowMs, lastPongReceivedMs: nowMs, findFails: 0 });
      }
      await db.close();
      b = await startBootnode(args, dir);
      silent.retarget(b.port);
      // It pings its stored peers on this address; none answers.
      let pingsOut = 0;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const body = (await httpGet(`${b.metricsUrl}`)).body;
        pingsOut = sample(body, 'discv4_packets_out_total{type="ping"}') ?? 0;
        if (pingsOut >= HONEST) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(pingsOut >= HONEST, `the restarted bootnode pinged its ${HONEST} stored peers (${pingsOut} pings out)`);
      await new Promise((r) => setTimeout(r, 1500)); // those pings time out

      const second = await honestRound({ id: Buffer.from(b.id, 'hex'), ip: '127.0.0.1', udpPort: b.port });
      open.push(...second.nodes);
      assert.deepEqual(second.failures, [], 'after the restart');
      const body = (await httpGet(`${b.metricsUrl}`)).body;
      assert.equal(sample(body, 'discv4_drops_total{reason="unbonded"}') ?? 0, 0, 'no findnode of an honest node was dropped');
    } finally {
      await silent.stop();
      await Promise.all(open.map((n) => n.t.close()));
      await stop(b);
    }
  });
});
