// An application written against @ethereumjs/devp2p. our-app.ts is this
// file with only the import line changed (compat.test.ts checks that).
import { DPT, type DPTOptions, type PeerInfo } from '../../../src/dpt';

export async function runApp(keyA: Uint8Array, keyB: Uint8Array, portA: number, portB: number): Promise<string[]> {
  const options = (port: number): DPTOptions => ({
    endpoint: { address: '127.0.0.1', udpPort: port, tcpPort: 30303 },
    refreshInterval: 30_000,
    timeout: 500,
  });
  const a = new DPT(keyA, options(portA));
  const b = new DPT(keyB, options(portB));
  const log: string[] = [];
  a.events.on('peer:new', (peer: PeerInfo) => log.push(`new ${peer.udpPort}`));
  a.events.on('peer:added', (peer: PeerInfo) => log.push(`added ${peer.udpPort} ${peer.tcpPort}`));
  a.events.on('peer:removed', (peer: PeerInfo) => log.push(`removed ${peer.udpPort}`));
  a.events.on('error', (err: Error) => log.push(`error ${err.message}`));
  const listening = (d: DPT) => new Promise<void>((resolve) => d.events.once('listening', () => resolve()));
  const up = Promise.all([listening(a), listening(b)]);
  a.bind(portA, '127.0.0.1');
  b.bind(portB, '127.0.0.1');
  await up;
  const peer: PeerInfo = await a.addPeer({ address: '127.0.0.1', udpPort: portB, tcpPort: 30303 });
  log.push(`peers ${a.numPeers()} ${a.getPeers().length} closest ${a.getClosestPeers(b.id!).length}`);
  log.push(`same ${a.getPeer(peer.id!) === a.getPeers()[0]}`);
  a.banPeer(peer, 60_000);
  try {
    await a.addPeer({ address: '127.0.0.1', udpPort: portB, tcpPort: 30303 });
  } catch (err) {
    log.push((err as Error).message);
  }
  const closed = new Promise<void>((resolve) => a.events.once('close', () => resolve()));
  a.destroy();
  b.destroy();
  await closed;
  try {
    a.destroy();
  } catch (err) {
    log.push((err as Error).message);
  }
  return log;
}
