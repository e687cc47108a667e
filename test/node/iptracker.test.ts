import { strict as assert } from 'node:assert';
import { decodeEnr, pairIp, pairUint } from '../../src/enr';
import { IPTracker } from '../../src/node/iptracker';
import { Discovery } from '../../src/node/discovery';
import { FakeClock } from '../../src/transport/clock';
import { PacketType, Pong } from '../../src/wire/types';
import { loopbackNodes } from './helpers';

const MIN = 60 * 1000;

describe('IPTracker (geth netutil.IPTracker)', () => {
  const host = (i: number) => `10.0.${i >> 8}.${i & 0xff}`;

  it('predicts nothing before minStatements hosts agree, then the majority endpoint', () => {
    const t = new IPTracker({ clock: new FakeClock(), minStatements: 10 });
    for (let i = 0; i < 9; i++) t.addStatement(host(i), '1.2.3.4', 30303);
    assert.equal(t.predict(), undefined);
    for (let i = 9; i < 12; i++) t.addStatement(host(i), '5.6.7.8', 30303);
    assert.equal(t.predict(), undefined, 'no endpoint has 10 votes yet');
    t.addStatement(host(100), '1.2.3.4', 30303);
    assert.deepEqual(t.predict(), { ip: '1.2.3.4', udpPort: 30303 });
  });

  it('one peer cannot swing the vote, however many statements it sends', () => {
    const t = new IPTracker({ clock: new FakeClock(), minStatements: 3 });
    for (let i = 0; i < 5; i++) t.addStatement(host(i), '1.2.3.4', 30303);
    // A spoofer repeats a different endpoint, from one address (other ids and ports do not help: keyed by IP).
    for (let i = 0; i < 1000; i++) t.addStatement('66.66.66.66', '6.6.6.6', 1000 + (i % 2));
    assert.deepEqual(t.predict(), { ip: '1.2.3.4', udpPort: 30303 });
    assert.equal(t.size, 6);
  });

  it('a peer changing its statement moves its single vote (latest wins)', () => {
    const t = new IPTracker({ clock: new FakeClock(), minStatements: 2 });
    t.addStatement('9.9.9.1', '1.1.1.1', 1);
    t.addStatement('9.9.9.2', '1.1.1.1', 1);
    t.addStatement('9.9.9.3', '2.2.2.2', 2);
    assert.deepEqual(t.predict(), { ip: '1.1.1.1', udpPort: 1 });
    t.addStatement('9.9.9.1', '2.2.2.2', 2);
    assert.deepEqual(t.predict(), { ip: '2.2.2.2', udpPort: 2 });
  });

  it('forgets statements older than the window (5 min)', () => {
    const clock = new FakeClock();
    const t = new IPTracker({ clock, minStatements: 2 });
    t.addStatement(host(1), '1.2.3.4', 1);
    t.addStatement(host(2), '1.2.3.4', 1);
    clock.advance(4 * MIN);
    t.addStatement(host(3), '5.5.5.5', 1);
    t.addStatement(host(4), '5.5.5.5', 1);
    t.addStatement(host(5), '5.5.5.5', 1);
    assert.deepEqual(t.predict(), { ip: '5.5.5.5', udpPort: 1 });
    clock.advance(2 * MIN);
    assert.equal(t.size, 3, 'the first two expired');
    clock.advance(4 * MIN);
    assert.equal(t.predict(), undefined);
    assert.equal(t.size, 0);
  });

  it('keeps memory bounded: a flood of spoofed hosts evicts the least recently heard', () => {
    const t = new IPTracker({ clock: new FakeClock(), minStatements: 3, maxHosts: 100 });
    for (let i = 0; i < 10_000; i++) t.addStatement(host(i % 60_000), '6.6.6.6', 6);
    assert.equal(t.size, 100);
    // 60 honest hosts heard after the flood push out 60 of its 100: recent statements win.
    for (let i = 0; i < 60; i++) t.addStatement(`192.0.${i}.1`, '1.2.3.4', 30303);
    assert.equal(t.size, 100);
    assert.deepEqual(t.predict(), { ip: '1.2.3.4', udpPort: 30303 });
  });

  it('ignores invalid statements', () => {
    const t = new IPTracker({ clock: new FakeClock(), minStatements: 1 });
    t.addStatement(Buffer.from([1, 2, 3]), '1.2.3.4', 1);
    t.addStatement('9.9.9.9', Buffer.from([1, 2]), 1);
    t.addStatement('9.9.9.9', '1.2.3.4', 0);
    t.addStatement('9.9.9.9', '1.2.3.4', 70000);
    assert.equal(t.size, 0);
    t.addStatement(Buffer.from([9, 9, 9, 9]), Buffer.from([1, 2, 3, 4]), 5);
    assert.deepEqual(t.predict(), { ip: '1.2.3.4', udpPort: 5 });
  });
});

describe('Discovery local record: extip and endpoint prediction', () => {
  const start = loopbackNodes({ refreshOnStart: false, transport: { respTimeoutMs: 500 } });

  /** A pong event as the transport emits it after a verified pong. */
  const pong = (d: Discovery, fromAddress: string, toIp: number[], toPort: number) =>
    d.transport.emit('pong', {
      // Only `to` is read by the predictor; the rest of a Pong is irrelevant here.
      packet: { type: PacketType.Pong, to: { ip: Buffer.from(toIp), udpPort: toPort, tcpPort: 0 } } as unknown as Pong,
      from: { address: fromAddress, port: 30303, family: 4 },
    });

  it('a node started with nat extip:1.2.3.4 advertises that IP in the record it serves over ENRRequest', async () => {
    const d = await start({ nat: 'extip:1.2.3.4', tcpPort: 30303 });
    const asker = await start();
    const rec = await asker.transport.requestENR({ id: d.nodeId, ip: '127.0.0.1', udpPort: d.transport.socket.address().port });
    const r = decodeEnr(rec);
    assert.ok(r.nodeId.equals(d.nodeId));
    assert.equal(pairIp(r.pairs.get('ip')), '1.2.3.4');
    assert.equal(pairUint(r.pairs.get('udp')), BigInt(d.transport.socket.address().port));
    assert.equal(pairUint(r.pairs.get('tcp')), 30303n);
    assert.equal(r.seq, d.localSeq);
  });

  it('follows the majority of pong statements (seq + 1) and pushes the record to the transport', async () => {
    const d = await start({ ipTracker: { minStatements: 3 } });
    const seq0 = d.localSeq;
    const changes: bigint[] = [];
    d.on('localRecord', (_r: Buffer, seq: bigint) => changes.push(seq));
    pong(d, '10.0.0.1', [5, 6, 7, 8], 4000);
    pong(d, '10.0.0.1', [5, 6, 7, 8], 4000); // the same peer again: still one vote
    pong(d, '10.0.0.2', [5, 6, 7, 8], 4000);
    await new Promise((r) => setImmediate(r));
    assert.equal(d.localSeq, seq0, 'two peers are not enough');
    pong(d, '10.0.0.3', [5, 6, 7, 8], 4000);
    const deadline = Date.now() + 2000;
    while (d.localSeq === seq0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(d.localSeq, seq0 + 1n);
    const r = decodeEnr(d.localRecord);
    assert.equal(pairIp(r.pairs.get('ip')), '5.6.7.8');
    assert.equal(pairUint(r.pairs.get('udp')), 4000n);
    assert.deepEqual(changes, [seq0 + 1n]);
    // More agreeing statements change nothing.
    pong(d, '10.0.0.4', [5, 6, 7, 8], 4000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(d.localSeq, seq0 + 1n);
    // The transport serves the new record.
    const asker = await start();
    const served = await asker.transport.requestENR({ id: d.nodeId, ip: '127.0.0.1', udpPort: d.transport.socket.address().port });
    assert.ok(served.equals(d.localRecord));
  });

  it('ignores pong statements when an extip is set', async () => {
    const d = await start({ externalIp: '1.2.3.4', ipTracker: { minStatements: 1 } });
    const seq0 = d.localSeq;
    pong(d, '10.0.0.1', [5, 6, 7, 8], 4000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(d.localSeq, seq0);
    assert.equal(pairIp(decodeEnr(d.localRecord).pairs.get('ip')), '1.2.3.4');
  });
});
