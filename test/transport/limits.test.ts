/**
 * Rate limits (before any crypto) and the amplification ledger, alone and
 * in the transport: a flood from one IP is cut to its budget while other
 * IPs are served, and an endpoint without a bond never gets more bytes
 * from us than it sent plus one exchange.
 */
import { strict as assert } from 'node:assert';
import { PacketType } from '../../src';
import { AmplificationLedger, BoundedMap, DEFAULT_AMPLIFICATION_LIMITS, DEFAULT_RATE_LIMITS, IngressLimiter, Refusal } from '../../src/transport/limits';
import { prng } from '../helpers/prng';
import { farFuture, RawPeer, startNode, until } from './helpers';
import { FakeClock } from '../../src/transport/clock';
import { encodePacket, generatePrivateKey } from '../../src';
import { PINGBACK_BACKOFF_MS } from '../../src/transport/transport';
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
  it('sends at most the credit of what an IP sent plus the allowance, then refills the allowance at its rate', () => {
    const l = new AmplificationLedger({ burstBytes: 300, refillBytesPerSec: 100 });
    const a = ip(5, 5, 5, 5);
    assert.ok(l.spend(a, 200, 0));
    assert.ok(!l.spend(a, 200, 0), 'beyond the allowance');
    l.received(a, 150, 0);
    assert.ok(l.spend(a, 200, 0), '150 credit + 100 allowance');
    assert.ok(!l.spend(a, 100, 0));
    assert.ok(l.spend(a, 150, 1_000), 'one second refills 100 bytes');
    assert.ok(!l.spend(a, 1, 1_000));
    assert.ok(!l.spend(a, 300, 60_000, 1), 'a reserve stays untouched');
    assert.ok(l.spend(a, 300, 60_000), 'refilled up to the burst, no further');
    assert.ok(!l.spend(a, 1, 60_000));
    assert.equal(l.bytesSent, 850);
    assert.equal(l.refusedBytes, 602);
    // Another IP has its own budget.
    assert.ok(l.spend(ip(5, 5, 5, 6), 300, 60_000));
  });

  it('lets credit for received bytes expire after creditTtlMs without a datagram', () => {
    const l = new AmplificationLedger({ burstBytes: 0, refillBytesPerSec: 0, creditTtlMs: 10_000 });
    const a = ip(5, 5, 5, 5);
    l.received(a, 500, 0);
    assert.ok(l.spend(a, 200, 9_000));
    assert.ok(!l.spend(a, 200, 10_001), 'credit from 10 s ago is gone');
    l.received(a, 100, 20_000);
    assert.ok(l.spend(a, 100, 20_000));
  });

  it('bounds what random traffic gets over 60 s: sent <= received + burst + rate x t', () => {
    const rnd = prng(15);
    const l = new AmplificationLedger();
    const { burstBytes, refillBytesPerSec } = DEFAULT_AMPLIFICATION_LIMITS;
    const a = ip(198, 51, 100, 7);
    let received = 0;
    let sent = 0;
    for (let t = 0; t <= 60_000; t += Math.floor(rnd() * 50)) {
      if (rnd() < 0.3) {
        const n = 98 + Math.floor(rnd() * 200);
        l.received(a, n, t);
        received += n;
      }
      const want = 100 + Math.floor(rnd() * 1100);
      if (l.spend(a, want, t)) sent += want;
      assert.ok(sent <= received + burstBytes + (refillBytesPerSec * t) / 1000, `at ${t} ms: sent ${sent}, received ${received}`);
    }
    assert.ok(sent > received, 'the allowance was used');
  });

  it('rejects nonsensical amplification limits', () => {
    assert.throws(() => new AmplificationLedger({ burstBytes: -1 }), /burstBytes must be a number >= 0/);
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

    it('sends an address that never answers, over 60 s, at most what it sent + burst + rate x 60 s', async () => {
      // The spoofed-victim case at its worst: every ping from the victim's
      // address carries a fresh key, so each one deserves a pong and a
      // ping-back, and none of them is ever answered. 60 s pass on a fake
      // clock (the budget's time), 20 pings per second.
      const clock = new FakeClock();
      const b = await node({ rateLimits: false, clock });
      const victim = await raw('127.0.0.4');
      const { burstBytes, refillBytesPerSec } = DEFAULT_AMPLIFICATION_LIMITS;
      let sentByVictim = 0;
      const receivedByVictim = () => victim.received.reduce((n, r) => n + r.size, 0);
      for (let sec = 0; sec < 60; sec++) {
        const before = b.t.stats().packetsIn.ping;
        for (let i = 0; i < 20; i++) {
          const key = generatePrivateKey();
          const pkt = encodePacket(PacketType.Ping, { from: { ip: victim.address, udpPort: victim.port }, to: { ip: '127.0.0.1', udpPort: b.node.udpPort }, expiration: farFuture }, key);
          victim.sendRaw(pkt, b.node);
          sentByVictim += pkt.length;
        }
        assert.ok(await until(() => b.t.stats().packetsIn.ping === before + 20, 2000), 'the node read every ping');
        clock.advance(1000);
        const bound = sentByVictim + burstBytes + refillBytesPerSec * (sec + 1);
        await until(() => false, 5);
        assert.ok(receivedByVictim() <= bound, `after ${sec + 1} s: victim got ${receivedByVictim()} bytes, bound ${bound}`);
      }
      await victim.waitFor(() => false, 100);
      const got = receivedByVictim();
      assert.ok(got <= sentByVictim + burstBytes + refillBytesPerSec * 60, `victim got ${got} for ${sentByVictim} sent`);
      assert.equal(got, b.t.stats().unproven.bytesSent, 'what the victim got is what the ledger booked');
      assert.ok(b.t.stats().drops.amplification > 0, 'replies beyond the budget were refused');
      const pongs = victim.ofType(PacketType.Pong).length;
      assert.ok(pongs >= 20 * 60 * 0.8, `${pongs} pongs for 1,200 pings: pongs, mostly paid by the pings, still go out`);
    });

    it('answers every ping with a pong, and pings back only with the pong', async () => {
      const clock = new FakeClock();
      const b = await node({ rateLimits: false, clock, amplification: { burstBytes: 100, pongReserveBytes: 100, refillBytesPerSec: 0 } });
      const p = await raw('127.0.0.5');
      ping(p, b.node);
      await p.waitFor((r) => r.length >= 1, 1000);
      await p.waitFor(() => false, 100);
      // The ping's bytes and the reserve pay for the pong, not for a ping-back as well.
      assert.deepEqual(p.received.map((r) => r.packet?.type), [PacketType.Pong]);
    });

    it('stops pinging back a key that never answers, for a back-off that doubles, and pongs all along', async () => {
      const clock = new FakeClock();
      const b = await node({ rateLimits: false, clock });
      const silent = await raw('127.0.0.6');
      const pingsTo = () => silent.ofType(PacketType.Ping).length;
      const pingAndWait = async () => {
        const pongs = silent.ofType(PacketType.Pong).length;
        ping(silent, b.node);
        assert.ok(await until(() => silent.ofType(PacketType.Pong).length === pongs + 1, 1000));
        await until(() => false, 20);
      };
      await pingAndWait();
      assert.equal(pingsTo(), 1);
      clock.advance(300); // its ping-back times out
      await pingAndWait();
      assert.equal(pingsTo(), 1, 'in back-off');
      clock.advance(PINGBACK_BACKOFF_MS);
      await pingAndWait();
      assert.equal(pingsTo(), 2, 'back-off over: one more ping-back');
      clock.advance(300); // the second ping-back times out
      await until(() => false, 10);
      clock.advance(PINGBACK_BACKOFF_MS);
      await pingAndWait();
      assert.equal(pingsTo(), 2, 'the second back-off is twice as long');
      clock.advance(PINGBACK_BACKOFF_MS);
      await pingAndWait();
      assert.equal(pingsTo(), 3);
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
