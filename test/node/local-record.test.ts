/**
 * Our record as Discovery builds and keeps it (src/node/local-record.ts),
 * without sockets: endpoint pairs per socket family, the seq across
 * rebuilds over one in-memory node DB, the endpoint following pong
 * statements (seq + 1 per change), and the fork id following a timestamp
 * fork on the injected clocks.
 */
import { strict as assert } from 'node:assert';
import { generatePrivateKey } from '../../src';
import { NodeDB } from '../../src/db';
import { decodeEnr, pairIp, pairUint } from '../../src/enr';
import { LocalRecord } from '../../src/enr/local';
import { ForkPolicy } from '../../src/node/fork-policy';
import { decodeEthEntry, formatForkId } from '../../src/node/forkid';
import { EndpointPrediction, endpointPairs, FORK_RECHECK_MS, keepForkIdCurrent, openLocalRecord, servedFamilies } from '../../src/node/local-record';
import { FakeClock } from '../../src/transport/clock';
import type { SocketAddress } from '../../src/transport/socket';
import { ipToString } from '../../src/wire/ip';

const v4 = (address: string, port = 30303): SocketAddress => ({ family: 4, address, port });
const v6 = (address: string, port = 30303): SocketAddress => ({ family: 6, address, port });
/** Pair values as text, for comparing: IPs as text, ports as numbers. */
const readable = (pairs: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(pairs).map(([k, v]) => [k, v instanceof Uint8Array ? ipToString(v) : v]));
const recordPairs = (local: LocalRecord) => decodeEnr(local.record).pairs;

describe('local record: endpoint pairs', () => {
  it('serves IPv4 on an IPv4 socket, IPv6 on an IPv6 one, and both on a dual-stack ::', () => {
    assert.deepEqual(servedFamilies(v4('10.0.0.1')), { serves4: true, serves6: false });
    assert.deepEqual(servedFamilies(v6('2001:db8::1')), { serves4: false, serves6: true });
    assert.deepEqual(servedFamilies(v6('::')), { serves4: true, serves6: true });
  });

  it('advertises the bind address, loopback for a wildcard, or the external address when given', () => {
    assert.deepEqual(readable(endpointPairs(v4('10.0.0.1', 4000), { tcpPort: 0 })), { ip: '10.0.0.1', udp: 4000 });
    assert.deepEqual(readable(endpointPairs(v4('0.0.0.0', 4000), { tcpPort: 30303 })), { ip: '127.0.0.1', udp: 4000, tcp: 30303 });
    assert.deepEqual(readable(endpointPairs(v6('::', 4000), { tcpPort: 0 })), { ip: '127.0.0.1', udp: 4000, ip6: '::1', udp6: 4000 });
    assert.deepEqual(readable(endpointPairs(v6('::', 4000), { tcpPort: 0, externalIp: '1.2.3.4', externalIp6: '2001:db8::5' })), {
      ip: '1.2.3.4',
      udp: 4000,
      ip6: '2001:db8::5',
      udp6: 4000,
    });
  });
});

describe('local record: seq', () => {
  it('keeps the seq over a rebuild with the same content, and raises it by one for a new endpoint', async () => {
    const db = await NodeDB.open(null);
    try {
      const key = generatePrivateKey();
      const first = await openLocalRecord(key, db, v4('10.0.0.1'), { tcpPort: 0, recordPairs: { app: Buffer.from('x') } });
      assert.equal(pairIp(recordPairs(first).get('ip')), '10.0.0.1');
      assert.ok(recordPairs(first).has('app'), 'the extra pairs are in');
      const same = await openLocalRecord(key, db, v4('10.0.0.1'), { tcpPort: 0, recordPairs: { app: Buffer.from('x') } });
      assert.equal(same.seq, first.seq);
      const moved = await openLocalRecord(key, db, v4('10.0.0.2'), { tcpPort: 0, recordPairs: { app: Buffer.from('x') } });
      assert.equal(moved.seq, first.seq + 1n);
    } finally {
      await db.close();
    }
  });

  it('carries the fork id in the eth pair when serving is fork-aware', async () => {
    const forks = new ForkPolicy({ network: 'mainnet' }, () => 1_720_000_000_000);
    const db = await NodeDB.open(null);
    try {
      const rec = await openLocalRecord(generatePrivateKey(), db, v4('10.0.0.1'), { tcpPort: 0, forks });
      assert.equal(formatForkId(decodeEthEntry(recordPairs(rec).get('eth')!)!), '0x9f3d2254:1746612311');
    } finally {
      await db.close();
    }
  });
});

describe('local record: endpoint prediction', () => {
  async function predicting(opts: { predict4?: boolean; predict6?: boolean } = {}) {
    const local = await LocalRecord.create(generatePrivateKey(), { ip: Buffer.from([127, 0, 0, 1]), udp: 30303 });
    const clock = new FakeClock();
    const p = new EndpointPrediction(local, { predict4: opts.predict4 ?? true, predict6: opts.predict6 ?? false, tcpPort: 30304, ipTracker: { minStatements: 2 }, clock });
    return { local, p, clock };
  }
  const to = (ip: number[], udpPort: number) => ({ ip: Uint8Array.from(ip), udpPort });

  it('moves the record to the endpoint peers agree on, seq + 1 once, and keeps the TCP port', async () => {
    const { local, p } = await predicting();
    const seq0 = local.seq;
    assert.equal(p.observe('10.0.0.1', to([5, 6, 7, 8], 4000)), undefined, 'one statement is not enough');
    const update = p.observe('10.0.0.2', to([5, 6, 7, 8], 4000));
    assert.ok(update !== undefined, 'two agreeing peers move the record');
    assert.equal(await update, true);
    assert.equal(local.seq, seq0 + 1n);
    const pairs = recordPairs(local);
    assert.equal(pairIp(pairs.get('ip')), '5.6.7.8');
    assert.equal(pairUint(pairs.get('udp')), 4000n);
    assert.equal(pairUint(pairs.get('tcp')), 30304n);
    assert.equal(p.observe('10.0.0.3', to([5, 6, 7, 8], 4000)), undefined, 'the record already says so');
    assert.equal(local.seq, seq0 + 1n);
  });

  it('counts an IPv4-mapped IPv6 statement as IPv4, and ignores unspecified addresses and unpredicted families', async () => {
    const { local, p } = await predicting();
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 9, 9, 9, 9];
    p.observe('10.0.0.1', to(mapped, 5000));
    assert.equal(await p.observe('10.0.0.2', to([9, 9, 9, 9], 5000)), true);
    assert.equal(pairIp(recordPairs(local).get('ip')), '9.9.9.9');
    const seq = local.seq;
    for (const from of ['10.0.0.3', '10.0.0.4']) {
      assert.equal(p.observe(from, to([0, 0, 0, 0], 1)), undefined);
      assert.equal(p.observe(from, to([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1)), undefined, 'IPv6 is not predicted');
    }
    assert.equal(local.seq, seq);
  });

  it('is enabled only when a family is predicted', async () => {
    assert.equal((await predicting({ predict4: false, predict6: false })).p.enabled, false);
    assert.equal((await predicting({ predict4: false, predict6: true })).p.enabled, true);
  });
});

describe('local record: fork id', () => {
  it('follows a timestamp fork on the next hourly recheck, seq + 1, and stops when told', async () => {
    let wallMs = 1_700_000_000_000; // before Cancun
    const forks = new ForkPolicy({ network: 'mainnet' }, () => wallMs);
    const db = await NodeDB.open(null);
    try {
      const local = await openLocalRecord(generatePrivateKey(), db, v4('10.0.0.1'), { tcpPort: 0, forks });
      const eth = () => formatForkId(decodeEthEntry(recordPairs(local).get('eth')!)!);
      assert.equal(eth(), '0xdce96c2d:1710338135');
      const seq0 = local.seq;
      const clock = new FakeClock();
      const recheck = keepForkIdCurrent(local, forks, clock);
      clock.advance(FORK_RECHECK_MS);
      await local.update({}); // the recheck's update is queued before this one
      assert.equal(local.seq, seq0, 'nothing passed: no change');
      wallMs = 1_720_000_000_000; // Cancun passed
      clock.advance(FORK_RECHECK_MS - 1);
      await local.update({});
      assert.equal(eth(), '0xdce96c2d:1710338135', 'not before the recheck');
      clock.advance(1);
      await local.update({});
      assert.equal(eth(), '0x9f3d2254:1746612311');
      assert.equal(local.seq, seq0 + 1n);
      assert.equal(clock.pendingTimers(), 1, 'one timer at a time');
      recheck.stop();
      assert.equal(clock.pendingTimers(), 0);
    } finally {
      await db.close();
    }
  });
});
