/**
 * `discv4 bans | ban | unban` edit a running bootnode's persistent ban
 * list through its node DB: a ban takes effect within seconds, survives a
 * restart, and lifting it restores service.
 */
import { strict as assert } from 'node:assert';
import { generatePrivateKey, nodeIdFromPrivateKey } from '../../src/crypto';
import { killAll, runCli, startBootnode, stop, tempDir } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('discv4 ban / unban / bans', function () {
  this.timeout(90_000);
  after(killAll);

  it('bans a node id in a running bootnode, keeps the ban across a restart, and lifts it', async () => {
    const cwd = tempDir();
    const key = generatePrivateKey();
    const id = nodeIdFromPrivateKey(key).toString('hex');
    const ping = (enode: string) => runCli(['ping', enode, '--addr', '127.0.0.1:0', '--nodekeyhex', key.toString('hex'), '--timeout', '1s'], { cwd });
    let b = await startBootnode(['--datadir', 'd', '--status-interval', '0'], cwd);
    assert.equal((await ping(b.enode)).code, 0);

    const ban = await runCli(['ban', id, '--datadir', 'd', '--for', '1h', '--reason', 'test'], { cwd });
    assert.equal(ban.code, 0, ban.stderr);
    assert.match(ban.stdout, new RegExp(`^banned id ${id} until \\d{4}-`));
    // The bootnode re-reads the list every 5 s.
    let refused = false;
    for (let i = 0; i < 10 && !refused; i++) {
      refused = (await ping(b.enode)).code !== 0;
      if (!refused) await sleep(1000);
    }
    assert.ok(refused, 'the running bootnode still answers the banned node');

    // Survives a restart.
    await stop(b);
    b = await startBootnode(['--datadir', 'd', '--status-interval', '0'], cwd);
    assert.notEqual((await ping(b.enode)).code, 0, 'ban lost on restart');
    const list = await runCli(['bans', '--datadir', 'd'], { cwd });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^id ${id} \\d{4}-\\S+ \\(test\\)$`, 'm'));

    const unban = await runCli(['unban', id, '--datadir', 'd'], { cwd });
    assert.equal(unban.code, 0, unban.stderr);
    let answered = false;
    for (let i = 0; i < 10 && !answered; i++) {
      answered = (await ping(b.enode)).code === 0;
      if (!answered) await sleep(1000);
    }
    assert.ok(answered, 'still refused after unban');
    assert.equal((await runCli(['bans', '--datadir', 'd'], { cwd })).stdout, 'no bans\n');
    await stop(b);
  });

  it('fails clearly on a bad target, a missing ban and a missing DB', async () => {
    const cwd = tempDir();
    const bad = await runCli(['ban', 'example.com', '--datadir', 'none'], { cwd });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no node DB at .*none/);
    const b = await startBootnode(['--datadir', 'd', '--status-interval', '0'], cwd);
    await stop(b);
    const badTarget = await runCli(['ban', 'example.com', '--datadir', 'd'], { cwd });
    assert.equal(badTarget.code, 2);
    assert.match(badTarget.stderr, /not an IP address or a node id/);
    const missing = await runCli(['unban', '10.0.0.1', '--datadir', 'd'], { cwd });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /10\.0\.0\.1 is not banned/);
  });
});
