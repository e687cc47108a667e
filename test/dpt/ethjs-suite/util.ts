/**
 * Port of the DPT part of @ethereumjs/devp2p 10.0.0's
 * test/integration/util.ts, for one implementation: every DPT is bound to
 * 127.0.0.1 (upstream: all interfaces) on ports the caller found free.
 */
import type { SuiteDPT, SuiteImpl } from './harness';
import { testData } from './testdata';

export const delay = async (ms: number): Promise<void> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
};

export const localhost = '127.0.0.1';

export interface Util {
  delay: typeof delay;
  localhost: string;
  getTestDPTs(numDPTs: number, basePort: number): SuiteDPT[];
  getTestDPTsWithDns(numDPTs: number, basePort: number): SuiteDPT[];
  initTwoPeerDPTSetup(basePort: number): SuiteDPT[];
  destroyDPTs(dpts: SuiteDPT[]): void;
}

export function makeUtil(impl: SuiteImpl): Util {
  function getTestDPTs(numDPTs: number, basePort: number): SuiteDPT[] {
    const dpts = [];
    for (let i = 0; i < numDPTs; ++i) {
      const dpt = new impl.DPT(impl.genPrivateKey(), {
        endpoint: { address: localhost, udpPort: basePort + i, tcpPort: basePort + i },
        timeout: 100,
        shouldFindNeighbours: false, // as upstream: only the bootstrap test turns it on
      });
      dpt.bind(basePort + i, localhost);
      dpts.push(dpt);
    }
    return dpts;
  }

  function getTestDPTsWithDns(numDPTs: number, basePort: number): SuiteDPT[] {
    const dpts = [];
    for (let i = 0; i < numDPTs; ++i) {
      const dpt = new impl.DPT(impl.genPrivateKey(), {
        endpoint: { address: localhost, udpPort: basePort + i, tcpPort: basePort + i },
        timeout: 1000,
        refreshInterval: 400,
        dnsNetworks: [testData.dns.enrTree],
        shouldFindNeighbours: false,
        shouldGetDnsPeers: true,
      });
      dpt.bind(basePort + i, localhost);
      dpts.push(dpt);
    }
    return dpts;
  }

  function initTwoPeerDPTSetup(basePort: number): SuiteDPT[] {
    const dpts = getTestDPTs(2, basePort);
    const peer = { address: localhost, udpPort: basePort + 1 };
    dpts[0].addPeer(peer).catch(() => {
      // as upstream: a failed setup ping is not this helper's error (the tests' handlers then never run)
    });
    return dpts;
  }

  function destroyDPTs(dpts: SuiteDPT[]): void {
    for (const dpt of dpts) dpt.destroy();
  }

  return { delay, localhost, getTestDPTs, getTestDPTsWithDns, initTwoPeerDPTSetup, destroyDPTs };
}
