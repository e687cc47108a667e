/**
 * The one-line switch: an application written against @ethereumjs/devp2p
 * compiles (npm test typechecks test/) and behaves the same with our DPT
 * after changing only its import; and devp2p's customCrypto hooks drive
 * our packets when given.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DPT } from '../../src/dpt';
import { nobleKeccak256 } from '../helpers/noble-crypto';
import { runApp as runEthjsApp } from './app/ethjs-app';
import { runApp as runOurApp } from './app/our-app';
import { destroyAll, freePort, hex, OURS, startDpt } from './helpers';
import { generatePrivateKey } from '../../src';

describe('DPT: drop-in replacement for @ethereumjs/devp2p', function () {
  this.timeout(15_000);
  afterEach(destroyAll);

  it('the application sources differ in their import line only', () => {
    const read = (f: string) => fs.readFileSync(path.join(__dirname, 'app', f), 'utf8').split('\n');
    const theirs = read('ethjs-app.ts');
    const ours = read('our-app.ts');
    assert.equal(theirs.length, ours.length);
    const differing = theirs.map((line, i) => (line === ours[i] ? -1 : i)).filter((i) => i >= 0);
    assert.equal(differing.length, 1);
    assert.match(ours[differing[0]], /^import \{ DPT.*\} from '\.\.\/\.\.\/\.\.\/src\/dpt';$/);
  });

  it('the same application gives the same event log on both', async () => {
    const keyA = generatePrivateKey();
    const keyB = generatePrivateKey();
    const run = async (app: typeof runOurApp) => {
      const [pa, pb] = [await freePort(), await freePort()];
      const log = await app(keyA, keyB, pa, pb);
      // Ports differ per run: name them.
      return log.map((l) => l.replaceAll(String(pb), 'B'));
    };
    const theirs = await run(runEthjsApp);
    const ours = await run(runOurApp);
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours.slice(0, 3), ['new B', 'added B 30303', 'peers 1 1 closest 1']);
    assert.ok(ours.includes('Peer is banned') && ours.includes('Server already destroyed'));
  });

  it("uses common.customCrypto hooks for its packets when given (devp2p's Common option)", async () => {
    let hashed = 0;
    const keccak256 = (msg: Uint8Array) => {
      hashed++;
      return nobleKeccak256(msg);
    };
    const a = await startDpt(OURS, { common: { customCrypto: { keccak256 } } });
    const b = await startDpt(OURS);
    const peer = await a.dpt.addPeer(b.info);
    assert.equal(hex(peer.id), hex(b.dpt.id));
    assert.ok(hashed >= 4, `keccak256 hook called ${hashed} times`);
    assert.ok(a.dpt instanceof DPT);
  });
});
