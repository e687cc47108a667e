import { strict as assert } from 'node:assert';
import { generatePrivateKey } from '../../src';
import { decodeRecord } from '../../src/enr/record';
import { Discovery } from '../../src/node/discovery';
import { FakePmpGateway } from '../nat/fakes';

// The library path (the CLI's --nat goes through it too): Discovery owns
// the mapping's lifetime.
describe('Discovery with nat (fake NAT-PMP gateway on 127.0.0.1)', () => {
  let gw: FakePmpGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('maps its UDP port, advertises the external IP, and removes the mapping on close()', async () => {
    gw = await new FakePmpGateway().start();
    const d = await Discovery.start({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, nat: `pmp:127.0.0.1:${gw.port}`, refreshOnStart: false });
    const port = d.transport.socket.address().port;
    try {
      assert.ok(d.nat, 'no NAT manager');
      assert.deepEqual(decodeRecord(d.localRecord)?.udpEndpoint()?.ip, Buffer.from([203, 0, 113, 5]));
      assert.ok(gw.requests.some((r) => r.op === 1 && r.lifetime > 0 && r.internalPort === port));
    } finally {
      await d.close();
    }
    const last = gw.requests[gw.requests.length - 1];
    assert.equal(last.op, 1);
    assert.equal(last.lifetime, 0, 'close() did not unmap');
  });

  it('runs without a mapping and reports natError when the gateway is silent', async () => {
    gw = await new FakePmpGateway().start();
    gw.mode = 'silent';
    const d = await Discovery.start({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, nat: `pmp:127.0.0.1:${gw.port}`, refreshOnStart: false });
    try {
      const err = await new Promise<Error>((resolve) => d.once('natError', resolve));
      assert.equal((err as Error & { code?: string }).code, 'NAT_TIMEOUT');
      assert.equal(d.nat, undefined);
      assert.deepEqual(decodeRecord(d.localRecord)?.udpEndpoint()?.ip, Buffer.from([127, 0, 0, 1]));
    } finally {
      await d.close();
    }
  });

  it('rejects a malformed nat option with BAD_NAT before binding anything', async () => {
    await assert.rejects(
      Discovery.start({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, nat: 'stun' }),
      (err: unknown) => (err as { code?: string }).code === 'BAD_NAT',
    );
  });
});
