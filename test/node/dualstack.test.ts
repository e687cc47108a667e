/**
 * Dual-stack: one node on a dual-stack socket ('::') serves IPv4 and IPv6
 * peers with one table and advertises both endpoints in one record, each
 * predicted from what peers of that family report.
 */
import { strict as assert } from 'node:assert';
import { decodeRecord } from '../../src/enr/record';
import { ipToString } from '../../src/wire/ip';
import { until } from '../transport/helpers';
import { loopbackNodes } from './helpers';

describe('dual-stack node', () => {
  const start = loopbackNodes({ transport: { respTimeoutMs: 300 }, ipTracker: { minStatements: 1 } });

  it('answers peers on 127.0.0.1 and ::1 from one socket, keeps both in one table and advertises ip/udp and ip6/udp6', async () => {
    const node = await start({ address: '::', inboundNodes: 'always' });
    const port = node.transport.socket.address().port;
    const rec0 = decodeRecord(node.localRecord)!;
    assert.equal(rec0.udpEndpoint(false)?.udpPort, port, 'IPv4 endpoint in the first record');
    assert.equal(rec0.udpEndpoint(true)?.udpPort, port, 'IPv6 endpoint in the first record');

    const v4 = await start({ address: '127.0.0.1' });
    const v6 = await start({ address: '::1' });
    await v4.transport.ping({ id: node.nodeId, ip: '127.0.0.1', udpPort: port });
    await v6.transport.ping({ id: node.nodeId, ip: '::1', udpPort: port });
    // Both bond with it (its ping-backs reach each family) and enter its one table.
    assert.ok(await until(() => node.table.getNode(v4.nodeId) !== undefined && node.table.getNode(v6.nodeId) !== undefined, 3000), `table size ${node.table.size}`);
    assert.equal(ipToString(node.table.getNode(v4.nodeId)!.ip), '127.0.0.1');
    assert.equal(ipToString(node.table.getNode(v6.nodeId)!.ip), '::1');

    // Its pongs to our pings tell it its address per family: both end up in the record.
    await node.transport.ping({ id: v4.nodeId, ip: '127.0.0.1', udpPort: v4.transport.socket.address().port });
    await node.transport.ping({ id: v6.nodeId, ip: '::1', udpPort: v6.transport.socket.address().port });
    const rec = decodeRecord(node.localRecord)!;
    assert.equal(ipToString(rec.udpEndpoint(false)!.ip), '127.0.0.1');
    assert.equal(ipToString(rec.udpEndpoint(true)!.ip), '::1');
    // A lookup from the IPv4 peer through it finds the IPv6 peer's neighbour list answered.
    const found = await v4.transport.findnode({ id: node.nodeId, ip: '127.0.0.1', udpPort: port }, v6.nodeId);
    assert.ok(found.some((n) => n.id.equals(v6.nodeId)), 'the IPv6 node is relayed to the IPv4 peer');
  });

  it('advertises configured addresses per family (extip:<v4>,<v6>) and predicts neither', async () => {
    const node = await start({ address: '::', nat: 'extip:203.0.113.7,2001:db8::7' });
    const rec = decodeRecord(node.localRecord)!;
    assert.equal(ipToString(rec.udpEndpoint(false)!.ip), '203.0.113.7');
    assert.equal(ipToString(rec.udpEndpoint(true)!.ip), '2001:db8::7');
  });
});
