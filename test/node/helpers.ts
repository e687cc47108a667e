/**
 * Discovery nodes for tests.
 *
 * - `memoryNodes`: nodes on one in-memory network (src/sim/memory-network.ts)
 *   at 10.0.0.1:30303, 10.0.0.2:30303 ..., with a FakeClock for every timer
 *   and a wall clock that moves with it, in-memory DBs unless told otherwise. For protocol logic: no kernel, no
 *   polling; `net.drain()` waits until no datagram is in flight.
 * - `loopbackNodes`: real sockets on 127.0.0.1, port 0, for what the socket
 *   itself is part of (restarts on a port, the DB on disk).
 *
 * Every node started is closed after each test, or earlier with `closeAll()`.
 */
import { generatePrivateKey } from '../../src';
import { Discovery, DiscoveryOptions } from '../../src/node/discovery';
import { formatEnode } from '../../src/node/enode';
import { MemoryNetwork } from '../../src/sim/memory-network';
import { FakeClock } from '../../src/transport/clock';
import { Transport } from '../../src/transport/transport';

export type StartNode = ((opts?: Partial<DiscoveryOptions>) => Promise<Discovery>) & { closeAll(): Promise<void> };

function startNodes(defaults: Partial<DiscoveryOptions>, over: () => Partial<DiscoveryOptions>): StartNode {
  const open: Discovery[] = [];
  const closeAll = async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
  };
  afterEach(closeAll);
  const start = async (opts: Partial<DiscoveryOptions> = {}) => {
    const d = await Discovery.start({ privateKey: generatePrivateKey(), ...defaults, ...over(), ...opts });
    open.push(d);
    return d;
  };
  return Object.assign(start, { closeAll });
}

export function loopbackNodes(defaults: Partial<DiscoveryOptions>): StartNode {
  return startNodes({ address: '127.0.0.1', port: 0, ...defaults }, () => ({}));
}

/** Wall-clock time of the memory nodes when their FakeClock reads 0. */
export const MEMORY_WALL_START_MS = 1_750_000_000_000;

export interface MemoryNodes {
  start: StartNode;
  /** The network of the current test (a fresh one per test). */
  readonly net: MemoryNetwork;
  /** The clock of every node of the current test; moves only by advance(). */
  readonly clock: FakeClock;
  /**
   * Settles `work` the way real time would, without waiting for it: delivers
   * every datagram in flight, and when the network is idle and `work` is
   * still pending, moves the clock to the next timer (a bond's wait, a
   * request's timeout, revalidation). Fails after `maxMs` of clock time.
   */
  run<T>(work: Promise<T>, maxMs?: number): Promise<T>;
  /** A node's enode URL on the memory network. */
  enodeOf(d: Discovery): string;
  /** A node's endpoint, as transport requests take it. */
  endpointOf(d: Discovery): { id: Buffer; ip: string; udpPort: number };
}

export function memoryNodes(defaults: Partial<DiscoveryOptions> = {}): MemoryNodes {
  let net = new MemoryNetwork();
  let clock = new FakeClock();
  let next = 1;
  beforeEach(() => {
    net = new MemoryNetwork();
    clock = new FakeClock();
    next = 1;
  });
  const start = startNodes({ refreshIntervalMs: 0, ...defaults }, () => {
    const ip = `10.0.0.${next++}`;
    const c = clock;
    return {
      clock: c,
      // Wall time moves with the clock (a fixed start, as a real one would read).
      now: () => MEMORY_WALL_START_MS + c.now(),
      transportFactory: async (cfg) => new Transport({ ...cfg, socket: net.bind(ip, 30303) }),
    };
  });
  const endpointOf = (d: Discovery) => {
    const a = d.transport.socket.address();
    return { id: d.nodeId, ip: a.address, udpPort: a.port };
  };
  const run = async <T>(work: Promise<T>, maxMs = 10 * 60_000): Promise<T> => {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const endMs = clock.now() + maxMs;
    for (;;) {
      await net.drain();
      if (settled) return watched;
      const due = clock.nextDueMs();
      if (due === undefined || due > endMs) throw new Error(`memoryNodes.run: still pending after ${maxMs} ms of clock time with ${due === undefined ? 'no timer' : 'no timer due'} to move it`);
      clock.advance(due - clock.now());
    }
  };
  return {
    start,
    run,
    get net() {
      return net;
    },
    get clock() {
      return clock;
    },
    endpointOf,
    enodeOf: (d) => {
      const e = endpointOf(d);
      return formatEnode(d.nodeId, Buffer.from(e.ip.split('.').map(Number)), 0, e.udpPort);
    },
  };
}
