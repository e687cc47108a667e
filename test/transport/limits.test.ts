/**
 * Rate limits (before any crypto) and the amplification ledger, alone and
 * in the transport: a flood from one IP is cut to its budget while other
 * IPs are served, and an endpoint without a bond never gets more bytes
 * from us than it sent plus one exchange.
 */
import { strict as assert } from 'node:assert';
import { PacketType } from '../../src';
import { AmplificationLedger, BoundedMap, DEFAULT_RATE_LIMITS, IngressLimiter, Refusal } from '../../src/transport/limits';
import { farFuture, RawPeer, startNode, until } from './helpers';
import { bindNative } from '../../src/transport/native-socket';
import type { TransportConfig } from '../../src/transport/transport';

const ip = (...b: number[]) => Uint8Array.from(b);

describe('IngressLimiter', () => {
  it('lets a burst of 2x the rate through per IP, then refills at the rate', () => {
    const l = new IngressLimiter({ ipPerSec: 10, pingPerSec: 0, globalPerSec: 0 }, 0);
    const a = ip(1, 2, 3, 4);
    let ok = 0;
    for (let i = 0; i < 50; i++) if (l.admit(a, PacketType.Pong, 0) === Refusal.None) ok++;
    assert.equal(ok, 20);
    assert.equal(l.admit(a, PacketType.Pong, 0), Refusal.Ip);
    // 0.5 s later: 5 more.
    ok = 0;
    for (let i = 0; i < 50; i++) if (l.admit(a, PacketType.Pong, 500) === Refusal.None) ok++;
    assert.equal(ok, 5);
    // Another IP has its own budget.
    assert.equal(l.admit(ip(1, 2, 3, 5), PacketType.Pong, 500), Refusal.None);
  });

  it('limits ping, findnode and ENRRequest per IP separately from other packets', () => {
    const l = new IngressLimiter({ ipPerSec: 1000, pingPerSec: 1, findnodePerSec: 2, enrRequestPerSec: 3, globalPerSec: 0 }, 0);
    const a = ip(10, 0, 0, 1);
    const count = (type: number) => {
      let n = 0;
      for (let i = 0; i < 20; i++) if (l.admit(a, type, 0) === Refusal.None) n++;
      return n;
    };
    assert.equal(count(PacketType.Ping), 2);
    assert.equal(count(PacketType.Findnode), 4);
    assert.equal(count(PacketType.EnrRequest), 6);
    assert.equal(count(PacketType.Neighbors), 20, 'replies only count against the IP budget');
    assert.equal(l.admit(a, PacketType.Ping, 0), Refusal.Type);
  });

  it('caps all datagrams per second globally', () => {
    const l = new IngressLimiter({ globalPerSec: 100, ipPerSec: 0 }, 0);
    let ok = 0;
    for (let i = 0; i < 1000; i++) if (l.admit(ip(10, 0, i >> 8, i & 255), PacketType.Ping, 0) === Refusal.None) ok++;
    assert.equal(ok, 100);
    assert.equal(l.admit(ip(9, 9, 9, 9), PacketType.Ping, 0), Refusal.Global);
  });

  it('tracks at most maxTrackedIps source IPs (IPv4 and IPv6)', () => {
    const l = new IngressLimiter({ maxTrackedIps: 1000, globalPerSec: 0 }, 0);
    for (let i = 0; i < 5000; i++) l.admit(ip(10, 1, i >> 8, i & 255), PacketType.Ping, 0);
    for (let i = 0; i < 500; i++) l.admit(Uint8Array.from([0x20, 1, ...new Array(12).fill(0), i >> 8, i & 255]), PacketType.Ping, 0);
    assert.equal(l.trackedIps, 1000);
  });

  it('rejects nonsensical limits', () => {
    assert.throws(() => new IngressLimiter({ ipPerSec: -1 }), /ipPerSec must be a number >= 0/);
    assert.throws(() => new IngressLimiter({ globalPerSec: Number.NaN }), /globalPerSec/);
  });

  it('has defaults that leave room for many nodes behind one address', () => {
    assert.ok(DEFAULT_RATE_LIMITS.pingPerSec >= 10 && DEFAULT_RATE_LIMITS.ipPerSec >= DEFAULT_RATE_LIMITS.pingPerSec);
  });
});

describe('AmplificationLedger and BoundedMap', () => {
  it('sends at most what an endpoint sent plus the allowance', () => {
    const l = new AmplificationLedger(300);
    const a = ip(5, 5, 5, 5);
    assert.ok(l.spend(a, 200));
    assert.ok(!l.spend(a, 200), 'beyond the allowance');
    l.received(a, 150);
    assert.ok(l.spend(a, 200));
    assert.equal(l.bytesSent, 400);
    assert.ok(l.bytesSent <= l.bytesReceived + 300);
    assert.equal(l.refusedBytes, 200);
  });

  it('BoundedMap drops its oldest entry when full', () => {
    const m = new BoundedMap<number, number>(3);
    for (let i = 0; i < 5; i++) m.set(i, i);
    assert.equal(m.size, 3);
    assert.equal(m.get(0), undefined);
    assert.equal(m.get(4), 4);
  });
});

for (const [kind, threads] of [['dgram', 0], ['native, 2 threads', 2]] as const) {
  describe(`transport limits (${kind})`, () => {
    const open: Array<{ close(): Promise<void> }> = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((x) => x.close()));
    });
    const node = async (cfg: Partial<TransportConfig>) => {
      const n = threads === 0 ? await startNode('127.0.0.1', cfg) : await startNode('127.0.0.1', cfg, (address) => bindNative({ address, threads }));
      open.push(n.t);
      return n;
    };
    const raw = async (address: string) => {
      const p = await RawPeer.bind(address);
      open.push(p);
      return p;
    };
    const ping = (p: RawPeer, to: { ip: string; udpPort: number; id: Buffer }) =>
      p.send(PacketType.Ping, { from: { ip: p.address, udpPort: p.port }, to: { ip: '127.0.0.1', udpPort: to.udpPort }, expiration: farFuture }, to);

    it('cuts a ping flood from one IP to its budget while another IP is served', async () => {
      const b = await node({ rateLimits: { pingPerSec: 10, ipPerSec: 1000, globalPerSec: 0 }, amplificationAllowance: Infinity });
      const flood = await raw('127.0.0.2');
      const honest = await raw('127.0.0.3');
      for (let i = 0; i < 200; i++) ping(flood, b.node);
      ping(honest, b.node);
      await honest.waitFor(() => honest.ofType(PacketType.Pong).length > 0, 2000);
      assert.equal(honest.ofType(PacketType.Pong).length, 1, 'the honest IP was not served');
      assert.ok(await until(() => b.t.stats().drops.rate_type >= 170, 2000), `drops ${JSON.stringify(b.t.stats().drops)}`);
      const pongs = flood.ofType(PacketType.Pong).length;
      assert.ok(pongs <= 25, `${pongs} pongs for 200 pings at 10/s (burst 20)`);
    });

    it('drops everything beyond the global cap, counted', async () => {
      const b = await node({ rateLimits: { globalPerSec: 20, ipPerSec: 0, pingPerSec: 0 }, amplificationAllowance: Infinity });
      const p = await raw('127.0.0.2');
      for (let i = 0; i < 100; i++) ping(p, b.node);
      assert.ok(await until(() => b.t.stats().drops.rate_global >= 75, 2000), JSON.stringify(b.t.stats().drops));
      assert.ok(b.t.stats().packetsIn.ping <= 25);
    });

    it('sends an endpoint without a bond no more bytes than it sent plus one exchange', async () => {
      const b = await node({ rateLimits: false });
      // A spoofed-looking source: it pings and never answers our ping-backs.
      const victim = await raw('127.0.0.4');
      for (let i = 0; i < 60; i++) ping(victim, b.node);
      await victim.waitFor(() => false, 800);
      const received = victim.received.reduce((n, r) => n + r.size, 0);
      const u = b.t.stats().unproven;
      assert.ok(u.bytesSent <= u.bytesReceived + 512, `sent ${u.bytesSent} vs received ${u.bytesReceived}`);
      assert.equal(received, u.bytesSent, 'what the victim got is what the ledger booked');
      assert.ok(b.t.stats().drops.amplification > 0, 'pongs beyond the budget were refused');
      assert.ok(victim.ofType(PacketType.Pong).length > 0, 'it still got pongs within its budget');
    });

    it('leaves an honest exchange alone: bonding costs no refusals', async () => {
      const a = await node({});
      const b = await node({});
      await a.t.ping(b.node);
      assert.ok(await until(() => b.t.isBonded(a.t.nodeId, '127.0.0.1') && a.t.isBonded(b.t.nodeId, '127.0.0.1'), 2000));
      const nodes = await a.t.findnode(b.node, a.t.nodeId);
      assert.ok(Array.isArray(nodes));
      assert.equal(a.t.stats().drops.amplification + b.t.stats().drops.amplification, 0);
      assert.equal(b.t.stats().drops.rate_ip + b.t.stats().drops.rate_type + b.t.stats().drops.rate_global, 0);
    });
  });
}
