/**
 * Loopback Discovery nodes for tests: the returned `start` binds one on
 * port 0 with the given defaults; every node started is closed after each
 * test, or earlier with `start.closeAll()`.
 */
import { generatePrivateKey } from '../../src';
import { Discovery, DiscoveryOptions } from '../../src/node/discovery';

export type StartNode = ((opts?: Partial<DiscoveryOptions>) => Promise<Discovery>) & { closeAll(): Promise<void> };

export function loopbackNodes(defaults: Partial<DiscoveryOptions>): StartNode {
  const open: Discovery[] = [];
  const closeAll = async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
  };
  afterEach(closeAll);
  const start = async (opts: Partial<DiscoveryOptions> = {}) => {
    const d = await Discovery.start({ privateKey: generatePrivateKey(), address: '127.0.0.1', port: 0, ...defaults, ...opts });
    open.push(d);
    return d;
  };
  return Object.assign(start, { closeAll });
}
