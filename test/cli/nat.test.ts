import { strict as assert } from 'node:assert';
import { decodeEnrText } from '../../src/cli/enr-text';
import { parseRecord } from '../../src/enr/record';
import { FakePmpGateway } from '../nat/fakes';
import { killAll, startBootnode, stop, tempDir, until } from './helpers';

// The operator's path end to end: --nat maps the port at start, advertises
// the gateway's external IP, and removes the mapping on SIGTERM.
describe('cli --nat with a NAT-PMP gateway (fake, on 127.0.0.1)', () => {
  let gw: FakePmpGateway | undefined;
  afterEach(async () => {
    killAll();
    await gw?.close();
    gw = undefined;
  });

  it('maps the UDP port, advertises the external IP in its ENR, and unmaps on SIGTERM', async () => {
    gw = await new FakePmpGateway().start();
    const dir = tempDir();
    const node = await startBootnode(['--nat', `pmp:127.0.0.1:${gw.port}`, '--datadir', dir], dir);
    const rec = parseRecord(decodeEnrText(node.enr));
    assert.ok(typeof rec !== 'string');
    assert.deepEqual(rec.udpEndpoint()?.ip, Buffer.from([203, 0, 113, 5]));
    await until(() => gw!.requests.some((r) => r.op === 1 && r.lifetime > 0), 5_000, 'a UDP mapping request');
    const map = gw.requests.find((r) => r.op === 1 && r.lifetime > 0)!;
    assert.equal(map.internalPort, node.port);
    const r = await stop(node, 'SIGTERM');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      gw.requests.some((q) => q.op === 1 && q.lifetime === 0 && q.internalPort === node.port),
      'no unmap (lifetime 0) request after SIGTERM',
    );
  });

  it('runs without a mapping, with a warning, when the gateway does not answer', async () => {
    gw = await new FakePmpGateway().start();
    gw.mode = 'silent';
    const dir = tempDir();
    const node = await startBootnode(['--nat', `pmp:127.0.0.1:${gw.port}`, '--datadir', dir, '--log-format', 'json'], dir);
    const r = await stop(node, 'SIGTERM');
    assert.equal(r.code, 0);
    assert.match(r.stderr, /no usable gateway/);
  });
});
