/**
 * geth's `devp2p discv4 test` suite (our black-box port, test/helpers/v4test.ts)
 * against one bootnode on default settings: all 14 cases in geth's order,
 * from one source address, a fresh key per case, back to back, twice.
 * Every case that does not complete the endpoint proof leaves an
 * unanswered ping-back behind: the bootnode's anti-amplification budget
 * must not mistake that for an attack.
 */
import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import { generatePrivateKey, nodeIdFromPrivateKey } from '../../src';
import { runV4Tests, V4_TESTS } from '../helpers/v4test';
import { killAll, startBootnode, stop, tempDir } from './helpers';

describe('geth v4test suite against the bootnode', function () {
  this.timeout(60_000);
  after(killAll);

  it('passes all 14 cases, run twice back to back against one bootnode with default settings', async () => {
    assert.equal(V4_TESTS.length, 14);
    const dir = tempDir();
    const b = await startBootnode(['--datadir', dir], dir);
    try {
      const remote = { id: Buffer.from(b.id, 'hex'), ip: '127.0.0.1', udpPort: b.port };
      for (const round of [1, 2]) {
        const results = await runV4Tests(remote);
        const failed = results.filter((r) => r.error !== undefined).map((r) => `${r.name}: ${r.error}`);
        assert.deepEqual(failed, [], `round ${round}`);
        assert.deepEqual(results.map((r) => r.name), V4_TESTS.map((c) => c.name));
      }
    } finally {
      await stop(b);
    }
  });

  it('fails the cases that need replies against a node that never answers (the harness can fail)', async () => {
    const mute = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => mute.bind(0, '127.0.0.1', resolve));
    try {
      const results = await runV4Tests({ id: nodeIdFromPrivateKey(generatePrivateKey()), ip: '127.0.0.1', udpPort: mute.address().port });
      const failed = results.filter((r) => r.error !== undefined).map((r) => r.name);
      // The cases that expect silence pass; every case that expects a reply fails.
      assert.deepEqual(failed, [
        'Ping/Basic',
        'Ping/WrongTo',
        'Ping/WrongFrom',
        'Ping/ExtraData',
        'Ping/ExtraDataWrongFrom',
        'Ping/BondThenPingWithWrongFrom',
        'Findnode/BasicFindnode',
        'Findnode/UnsolicitedNeighbors',
        'Findnode/PastExpiration',
        'Amplification/InvalidPongHash',
        'Amplification/WrongIP',
      ]);
    } finally {
      mute.close();
    }
  });
});
