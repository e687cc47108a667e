/**
 * crawl marks as alive only the nodes that answered it, with lastSeen =
 * their last answer; a node that others list but that never answers is in
 * the output as reported (lastReported), not alive, and never in geth's
 * nodes.json. The "bootnode" here is a bare transport whose neighbors
 * answers list one dead node (a bound socket that never replies).
 */
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generatePrivateKey, keccak256, nodeIdFromPrivateKey } from '../../src/crypto';
import { formatEnode } from '../../src/node/enode';
import { startNode, TestNode } from '../transport/helpers';
import { runCli, scratchDirs } from './helpers';

describe('discv4 crawl: alive means it answered us', function () {
  this.timeout(60_000);
  const dir = scratchDirs();
  let boot: TestNode;
  let dead: dgram.Socket;
  let deadId: Buffer;

  before(async () => {
    dead = dgram.createSocket('udp4');
    await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r));
    deadId = nodeIdFromPrivateKey(generatePrivateKey());
    const deadNode = { id: deadId, ip: Buffer.from([127, 0, 0, 1]), udpPort: dead.address().port, tcpPort: 0 };
    boot = await startNode('127.0.0.1', { closest: () => [deadNode] });
  });
  after(async () => {
    await boot.t.close();
    dead.close();
  });

  it('lists a reported node that never answered as not alive, without lastSeen, and keeps it out of nodes.json', async () => {
    const cwd = dir();
    const enode = formatEnode(boot.node.id, Buffer.from([127, 0, 0, 1]), 0, boot.node.udpPort);
    const out = path.join(cwd, 'crawl.json');
    const gethOut = path.join(cwd, 'nodes.json');
    const args = ['crawl', '--bootnodes', enode, '--addr', '127.0.0.1:0', '--timeout', '4s'];
    const [json, geth] = await Promise.all([runCli([...args, '--out', out], { cwd }), runCli([...args, '--format', 'geth', '--out', gethOut], { cwd })]);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Array<{ id: string; alive: boolean; lastSeen?: string; lastReported?: string }>;
    const bootRow = rows.find((r) => r.id === boot.node.id.toString('hex'));
    const deadRow = rows.find((r) => r.id === deadId.toString('hex'));
    assert.ok(bootRow !== undefined && deadRow !== undefined, JSON.stringify(rows));
    assert.equal(bootRow.alive, true);
    assert.ok(Date.parse(bootRow.lastSeen ?? '') > 0, 'lastSeen: when it answered');
    assert.equal(deadRow.alive, false);
    assert.equal(deadRow.lastSeen, undefined, 'never answered: no lastSeen');
    assert.ok(Date.parse(deadRow.lastReported ?? '') > 0, 'lastReported: when a neighbors answer listed it');

    assert.equal(geth.code, 0, geth.stderr);
    const set = JSON.parse(fs.readFileSync(gethOut, 'utf8')) as Record<string, unknown>;
    assert.equal(set[keccak256(deadId).toString('hex')], undefined, 'nodes.json holds only nodes that answered with their record');
  });
});
