import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { DiscError } from '../../src/errors';
import { NatManager, natPmp, openNat, type NatMapping, type PortMapper } from '../../src/nat';
import { FakePmpGateway } from './fakes';

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('nat: NAT-PMP client against a fake gateway on 127.0.0.1', function () {
  this.timeout(5000);
  let gw: FakePmpGateway;
  const cleanup: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    gw = await new FakePmpGateway().start();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c().catch(() => undefined);
    await gw.close();
  });

  const client = (timeoutMs = 1000): PortMapper => {
    const m = natPmp({ gateway: '127.0.0.1', port: gw.port, timeoutMs });
    cleanup.push(() => m.close());
    return m;
  };

  it('reads the external address (opcode 0)', async () => {
    assert.equal(await client().externalIp(), '203.0.113.5');
    assert.equal(gw.requests[0]!.op, 0);
  });

  it('maps UDP and TCP with a lifetime and reports what the gateway granted', async () => {
    const c = client();
    assert.deepEqual(await c.map('udp', 30303, 30303, 1200, 'x'), {
      protocol: 'udp',
      internalPort: 30303,
      externalPort: 30303,
      lifetimeSec: 1200,
    });
    gw.assignPort = 40000;
    const tcp = await c.map('tcp', 30303, 30303, 60, 'x');
    assert.equal(tcp.externalPort, 40000);
    assert.deepEqual(
      gw.maps().map((r) => [r.op, r.internalPort, r.externalPort, r.lifetime]),
      [
        [1, 30303, 30303, 1200],
        [2, 30303, 30303, 60],
      ],
    );
  });

  it('unmaps with lifetime 0 and suggested port 0', async () => {
    await client().unmap('udp', 30303, 30303);
    assert.deepEqual(gw.maps()[0], { op: 1, internalPort: 30303, externalPort: 0, lifetime: 0 });
  });

  it('rejects a non-zero result code with NAT_FAILED naming the code', async () => {
    gw.mode = 2;
    await assert.rejects(
      client().map('udp', 30303, 30303, 60, 'x'),
      (e: unknown) => e instanceof DiscError && e.code === 'NAT_FAILED' && /result code 2 \(not authorized/.test(e.message),
    );
  });

  it('rejects with NAT_TIMEOUT when the gateway never answers, after retransmitting', async () => {
    gw.mode = 'silent';
    const t0 = Date.now();
    await assert.rejects(
      client(600).externalIp(),
      (e: unknown) => e instanceof DiscError && e.code === 'NAT_TIMEOUT' && /no answer within 600 ms/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 1500);
    assert.ok(gw.requests.length >= 2, `retransmitted (${gw.requests.length} requests)`);
  });

  it('close() aborts a request in flight', async () => {
    gw.mode = 'silent';
    const c = client(3000);
    const p = c.externalIp();
    await c.close();
    await assert.rejects(p, (e: unknown) => e instanceof DiscError && e.code === 'CLOSED');
  });

  it('NatManager maps, renews on the timer, and unmaps on stop', async () => {
    const mgr = new NatManager(client(), { protocol: 'udp', internalPort: 30303, lifetimeSec: 60, renewMs: 50 });
    cleanup.push(() => mgr.stop());
    const mapped: NatMapping[] = [];
    mgr.on('mapped', (m: NatMapping) => mapped.push(m));
    const first = await mgr.start();
    assert.equal(first.externalPort, 30303);
    assert.equal(await mgr.externalIp(), '203.0.113.5');
    // The gateway logs a request before our client has read the answer: wait for both.
    await until(() => gw.maps().length >= 3 && mapped.length >= 3);
    assert.ok(gw.maps().every((r) => r.lifetime === 60 && r.internalPort === 30303));
    await mgr.stop();
    const n = gw.maps().length;
    const last = gw.maps()[n - 1]!;
    assert.equal(last.lifetime, 0, 'the last request is the unmap');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(gw.maps().length, n, 'no renewals after stop');
    await mgr.stop(); // idempotent
  });

  it('NatManager renews the port the gateway assigned', async () => {
    gw.assignPort = 41000;
    const mgr = new NatManager(client(), { protocol: 'tcp', internalPort: 30303, lifetimeSec: 60, renewMs: 30 });
    cleanup.push(() => mgr.stop());
    assert.equal((await mgr.start()).externalPort, 41000);
    await until(() => gw.maps().length >= 2);
    assert.equal(gw.maps()[1]!.externalPort, 41000);
  });

  it('NatManager: a failed renewal is an error event, not a throw, and renewal goes on', async () => {
    const mgr = new NatManager(client(200), { protocol: 'udp', internalPort: 30303, lifetimeSec: 60, renewMs: 30 });
    cleanup.push(() => mgr.stop());
    await mgr.start();
    gw.mode = 3;
    const [err] = (await once(mgr, 'error')) as [DiscError];
    assert.equal(err.code, 'NAT_FAILED');
    gw.mode = 'ok';
    await once(mgr, 'mapped');
  });

  it('NatManager: a failed renewal with no error listener is swallowed', async () => {
    const mgr = new NatManager(client(200), { protocol: 'udp', internalPort: 30303, lifetimeSec: 60, renewMs: 20 });
    cleanup.push(() => mgr.stop());
    await mgr.start();
    gw.mode = 4;
    const n = gw.maps().length;
    await until(() => gw.maps().length >= n + 2);
  });

  it('NatManager.start rejects when the first mapping fails', async () => {
    gw.mode = 2;
    const mgr = new NatManager(client(), { protocol: 'udp', internalPort: 30303 });
    cleanup.push(() => mgr.stop());
    await assert.rejects(mgr.start(), (e: unknown) => (e as DiscError).code === 'NAT_FAILED');
  });

  it('openNat("pmp") picks the first candidate gateway that answers', async () => {
    const m = await openNat({ kind: 'pmp' }, { pmpGateways: ['127.0.0.1'], pmpPort: gw.port, pmpTimeoutMs: 500 });
    assert.ok(m);
    cleanup.push(() => m.close());
    assert.equal(m.kind, 'pmp');
    assert.equal(await m.externalIp(), '203.0.113.5');
  });

  it('openNat("pmp") fails with NAT_TIMEOUT when no candidate answers', async () => {
    gw.mode = 'silent';
    await assert.rejects(
      openNat({ kind: 'pmp' }, { pmpGateways: ['127.0.0.1'], pmpPort: gw.port, pmpTimeoutMs: 300 }),
      (e: unknown) => (e as DiscError).code === 'NAT_TIMEOUT',
    );
  });
});
