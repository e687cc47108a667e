import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { DiscError } from '../../src/errors';
import { NatManager, discoverUpnp, openNat, type PortMapper } from '../../src/nat';
import { FakePmpGateway, FakeUpnpGateway } from './fakes';

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('nat: UPnP IGD client against a fake gateway on 127.0.0.1', function () {
  this.timeout(5000);
  let gw: FakeUpnpGateway;
  const cleanup: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    gw = await new FakeUpnpGateway().start();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c().catch(() => undefined);
    await gw.close();
  });

  const discover = async (timeoutMs = 1500): Promise<PortMapper> => {
    const m = await discoverUpnp({ ssdpAddress: '127.0.0.1', ssdpPort: gw.ssdpPort, timeoutMs });
    cleanup.push(() => m.close());
    return m;
  };

  it('discovers the gateway with SSDP M-SEARCH and reads the external IP over SOAP', async () => {
    const m = await discover();
    assert.equal(m.kind, 'upnp');
    assert.ok(gw.searches.length >= 1);
    assert.match(gw.searches[0]!, /\r\nMAN: "ssdp:discover"\r\n/);
    assert.match(gw.searches[0]!, /\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:\d\r\n/);
    assert.equal(await m.externalIp(), '198.51.100.9');
    const call = gw.callsOf('GetExternalIPAddress')[0]!;
    assert.equal(call.soapAction, '"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress"');
  });

  it('adds a port mapping with lease, internal client and escaped description', async () => {
    const m = await discover();
    const r = await m.map('udp', 30303, 30304, 1200, 'discv4 <node> & co');
    assert.deepEqual(r, { protocol: 'udp', internalPort: 30303, externalPort: 30304, lifetimeSec: 1200 });
    assert.deepEqual(gw.callsOf('AddPortMapping')[0]!.args, {
      NewRemoteHost: '',
      NewExternalPort: '30304',
      NewProtocol: 'UDP',
      NewInternalPort: '30303',
      NewInternalClient: '127.0.0.1',
      NewEnabled: '1',
      NewPortMappingDescription: 'discv4 &lt;node&gt; &amp; co',
      NewLeaseDuration: '1200',
    });
  });

  it('deletes a port mapping', async () => {
    const m = await discover();
    await m.unmap('tcp', 30303, 30303);
    assert.deepEqual(gw.callsOf('DeletePortMapping')[0]!.args, {
      NewRemoteHost: '',
      NewExternalPort: '30303',
      NewProtocol: 'TCP',
    });
  });

  it('turns a SOAP fault into NAT_FAILED naming the UPnP error code', async () => {
    gw.addFault = 718;
    const m = await discover();
    await assert.rejects(
      m.map('udp', 30303, 30303, 60, 'x'),
      (e: unknown) =>
        e instanceof DiscError &&
        e.code === 'NAT_FAILED' &&
        /AddPortMapping .* failed: UPnP error 718 \(ConflictInMappingEntry\)/.test(e.message),
    );
  });

  it('falls back to a permanent lease on error 725 (OnlyPermanentLeasesSupported)', async () => {
    gw.permanentOnly = true;
    const m = await discover();
    const r = await m.map('udp', 30303, 30303, 1200, 'x');
    assert.equal(r.lifetimeSec, 0);
    assert.deepEqual(
      gw.callsOf('AddPortMapping').map((c) => c.args['NewLeaseDuration']),
      ['1200', '0'],
    );
  });

  it('binds SSDP to localAddress when given', async () => {
    const m = await discoverUpnp({ ssdpAddress: '127.0.0.1', ssdpPort: gw.ssdpPort, timeoutMs: 1500, localAddress: '127.0.0.1' });
    cleanup.push(() => m.close());
    assert.equal(await m.externalIp(), '198.51.100.9');
  });

  it('rejects with NAT_FAILED when the device has no WAN connection service', async () => {
    gw.noWanService = true;
    await assert.rejects(
      discoverUpnp({ ssdpAddress: '127.0.0.1', ssdpPort: gw.ssdpPort, timeoutMs: 800 }),
      (e: unknown) => e instanceof DiscError && e.code === 'NAT_FAILED' && /no WANIPConnection\/WANPPPConnection service/.test(e.message),
    );
  });

  it('rejects with NAT_TIMEOUT when nothing answers SSDP', async () => {
    gw.ssdpSilent = true;
    const t0 = Date.now();
    await assert.rejects(
      discoverUpnp({ ssdpAddress: '127.0.0.1', ssdpPort: gw.ssdpPort, timeoutMs: 400 }),
      (e: unknown) => e instanceof DiscError && e.code === 'NAT_TIMEOUT' && /SSDP/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 1500);
  });

  it('rejects with NAT_TIMEOUT when the control endpoint hangs', async () => {
    // A gateway whose SOAP endpoint accepts the connection but never answers.
    const m = await discover(400);
    const orig = gw.calls.length;
    gw.soapHang = true;
    await assert.rejects(
      m.externalIp(),
      (e: unknown) => e instanceof DiscError && e.code === 'NAT_TIMEOUT' && /within 400 ms/.test(e.message),
    );
    assert.equal(gw.calls.length, orig);
  });

  it('NatManager over UPnP: maps, renews, deletes on stop', async () => {
    const m = await discover();
    const mgr = new NatManager(m, { protocol: 'udp', internalPort: 30303, lifetimeSec: 1200, renewMs: 50, description: 'discv4' });
    cleanup.push(() => mgr.stop());
    await mgr.start();
    await until(() => gw.callsOf('AddPortMapping').length >= 3);
    assert.ok(gw.callsOf('AddPortMapping').every((c) => c.args['NewLeaseDuration'] === '1200'));
    await mgr.stop();
    const dels = gw.callsOf('DeletePortMapping');
    assert.equal(dels.length, 1);
    assert.equal(dels[0]!.args['NewExternalPort'], '30303');
    assert.equal(gw.calls[gw.calls.length - 1]!.action, 'DeletePortMapping');
    const n = gw.calls.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(gw.calls.length, n, 'no renewals after stop');
  });

  it('NatManager over UPnP: a renewal SOAP fault is an error event', async () => {
    const m = await discover();
    const mgr = new NatManager(m, { protocol: 'tcp', internalPort: 30303, renewMs: 30 });
    cleanup.push(() => mgr.stop());
    await mgr.start();
    gw.addFault = 501;
    const [err] = (await once(mgr, 'error')) as [DiscError];
    assert.equal(err.code, 'NAT_FAILED');
    assert.match(err.message, /UPnP error 501/);
  });

  it('openNat("any") finds a gateway when only one of UPnP / NAT-PMP answers', async () => {
    const pmp = await new FakePmpGateway().start();
    cleanup.push(() => pmp.close());
    gw.ssdpSilent = true;
    const m = await openNat(
      { kind: 'any' },
      {
        upnp: { ssdpAddress: '127.0.0.1', ssdpPort: gw.ssdpPort, timeoutMs: 300 },
        pmpGateways: ['127.0.0.1'],
        pmpPort: pmp.port,
        pmpTimeoutMs: 300,
      },
    );
    assert.ok(m);
    cleanup.push(() => m.close());
    assert.equal(m.kind, 'pmp');
  });

  it('openNat gives null for none and extip', async () => {
    assert.equal(await openNat({ kind: 'none' }), null);
    assert.equal(await openNat({ kind: 'extip', ip: '1.2.3.4' }), null);
  });
});
