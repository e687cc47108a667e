import { strict as assert } from 'node:assert';
import { DPT } from '@ethereumjs/devp2p';
import { generatePrivateKey } from '../../src';
import { startNode, until } from './helpers';

// The bar for the transport: a node started from this package
// answers a ping from @ethereumjs/devp2p's DPT, and the other way round.
describe('interop with @ethereumjs/devp2p DPT on 127.0.0.1', () => {
  let dpt: DPT | undefined;
  let dptPort = 0;
  const closers: Array<() => unknown> = [];

  beforeEach(async () => {
    dpt = new DPT(generatePrivateKey(), {
      endpoint: { address: '127.0.0.1', udpPort: null, tcpPort: null },
      timeout: 1000,
      refreshInterval: 600_000,
      shouldFindNeighbours: false,
      shouldGetDnsPeers: false,
    });
    const listening = new Promise<void>((resolve) => dpt!.events.once('listening', () => resolve()));
    dpt.bind(0, '127.0.0.1');
    await listening;
    dptPort = (dpt as unknown as { _server: { _socket: { address(): { port: number } } } })._server._socket.address().port;
    closers.push(() => dpt!.destroy());
  });

  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('answers a ping sent by DPT (DPT.addPeer resolves with our id)', async () => {
    const ours = await startNode('127.0.0.1');
    closers.push(() => ours.t.close());
    const peer = await dpt!.addPeer({ address: '127.0.0.1', udpPort: ours.node.udpPort, tcpPort: null });
    assert.deepEqual(Buffer.from(peer.id!), ours.t.nodeId);
    assert.equal(ours.t.stats().packetsIn.ping, 1);
  });

  it('gets a pong from DPT for its own ping and bonds with it', async () => {
    const ours = await startNode('127.0.0.1');
    closers.push(() => ours.t.close());
    const info = await ours.t.ping({ id: Buffer.from(dpt!.id!), ip: '127.0.0.1', udpPort: dptPort });
    assert.deepEqual(info.to.ip, Buffer.from([127, 0, 0, 1]));
    assert.equal(info.to.udpPort, ours.node.udpPort);
    assert.ok(ours.t.isBonded(Buffer.from(dpt!.id!), '127.0.0.1'));
    assert.ok(await until(() => ours.t.stats().drops.bad_rlp === 0 && ours.t.stats().packetsIn.pong === 1));
  });
});
