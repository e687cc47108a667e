/**
 * kill -9 while the node DB is being written: the CLI bootnode (a child
 * process on 127.0.0.1) takes a steady stream of new nodes into its table
 * and DB (JoinLoad: distinct keys pinging it and answering its ping-backs),
 * is SIGKILLed at random moments several times in a row, and must come back
 * each time on the same datadir with the same key, a record seq that never
 * goes back, the nodes it had committed, and then serve.
 * scripts/crash-soak.ts runs the same for many rounds.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bootnode, killAll, runCli, startBootnode, stop, tempDir } from '../cli/helpers';
import { bootnodeArgs, dbNodesAtStart, enrSeq, sha256File, waitForDbWrites } from './fixtures/crash-helpers';
import { JoinLoad } from './fixtures/join-load';

/** SIGKILLs in a row, each under write load. */
const KILLS = 4;
/** New DB nodes to see before a kill: proof that writes are flowing. */
const WRITES_BEFORE_KILL = 60;
/** After that, the kill comes at a random moment within this window. */
const KILL_JITTER_MS = 400;

describe('node DB under kill -9 (CLI bootnode on loopback)', function () {
  this.timeout(40_000);
  let cwd: string;
  let load: JoinLoad | undefined;

  beforeEach(() => {
    cwd = tempDir('discv4-crash-');
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    killAll();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('restarts after repeated SIGKILLs mid-write: DB opens, same key and id, seq never goes back, committed nodes kept, answers a ping', async () => {
    const args = bootnodeArgs('data');
    let node: Bootnode = await startBootnode(args, cwd);
    const id = node.id;
    const keyFile = path.join(cwd, 'data', 'nodekey');
    const keyHash = sha256File(keyFile);
    let seq = enrSeq(node);
    let committed = await dbNodesAtStart(node);
    assert.equal(committed, 0, 'a new datadir');
    load = JoinLoad.start(node.port, { joinsPerSec: 300 });
    const history: string[] = [];

    for (let kill = 1; kill <= KILLS; kill++) {
      const before = await waitForDbWrites(node, committed, WRITES_BEFORE_KILL, 10_000);
      const jitterMs = Math.floor(Math.random() * KILL_JITTER_MS);
      await new Promise((r) => setTimeout(r, jitterMs));
      const dead = await stop(node, 'SIGKILL');
      assert.equal(dead.signal, 'SIGKILL', `kill ${kill}: ${dead.stderr}`);
      history.push(`kill ${kill}: ${jitterMs} ms after ${before.nodes} DB nodes (${before.pending} pending)`);

      node = await startBootnode(args, cwd); // throws if it exits (1: DB or key error, 2: usage)
      const nowSeq = enrSeq(node);
      const nowCommitted = await dbNodesAtStart(node);
      history.push(`restart ${kill}: seq ${nowSeq}, ${nowCommitted} DB nodes`);
      const log = history.join('; ');
      assert.equal(node.id, id, `kill ${kill}: the key changed (${log})`);
      assert.ok(nowSeq >= seq, `kill ${kill}: ENR seq went back from ${seq} to ${nowSeq} (${log})`);
      // Committed nodes are never lost; nothing deletes nodes within a day (expiry).
      assert.ok(nowCommitted >= committed, `kill ${kill}: DB nodes went back from ${committed} to ${nowCommitted} (${log})`);
      assert.ok(nowCommitted > 0, `kill ${kill}: the DB kept none of ${before.nodes} nodes (${log})`);
      assert.ok(nowCommitted <= load.stats.joins, `kill ${kill}: more DB nodes than ever joined (${log})`);
      seq = nowSeq;
      committed = nowCommitted;
      load.retarget(node.port);
    }
    assert.ok(load.stats.joins >= KILLS * WRITES_BEFORE_KILL, `joins: ${JSON.stringify(load.stats)}`);
    await load.stop();
    load = undefined;

    const ping = await runCli(['ping', node.enode, '--addr', '127.0.0.1:0'], { cwd });
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stdout, new RegExp(`^pong from 127\\.0\\.0\\.1:${node.port}: rtt \\d+\\.\\d+ ms, enr-seq ${seq}, `));
    const bye = await stop(node, 'SIGTERM');
    assert.equal(bye.code, 0, `clean shutdown after the crashes: ${bye.stderr}`);
    assert.equal(sha256File(keyFile), keyHash, 'the key file is unchanged');
  });
});
