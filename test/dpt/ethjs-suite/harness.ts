/**
 * The harness under the port of @ethereumjs/devp2p 10.0.0's DPT tests
 * (README.md beside this file lists every change from upstream):
 *
 * - IMPLS: the two DPT modules the suite runs against; a test only ever
 *   touches `impl.DPT`, `impl.message`, `impl.genPrivateKey`.
 * - `test()`: mocha's `it` plus handler tracking. Upstream registers
 *   assertions inside event handlers and `.catch()` callbacks and returns;
 *   under vitest a handler that never runs, or throws later, passes
 *   silently. Here every callback a test wraps with `h(...)` must run at
 *   least once and every call must settle without throwing, within a
 *   bounded wait after the test body returns, or the test fails.
 * - DPTs the suite constructs are destroyed after each test, whatever the
 *   outcome.
 * - DNS guard: no query leaves the machine. While the suite runs, the
 *   process's DNS servers and every resolver created or re-pointed point at
 *   an empty DNS server on 127.0.0.1 (each query gets NXDOMAIN), so
 *   ethjs's `dns.promises.setServers(['8.8.8.8'])` is recorded and
 *   redirected, and `dns.promises.resolve` (which ethjs's
 *   `__setNativeDNSModuleResolve` replaces process-wide) is restored after
 *   each test.
 */
import * as dgram from 'node:dgram';
import type * as DnsModule from 'node:dns';
import * as OurDpt from '../../../src/dpt';
import { DiscError, generatePrivateKey } from '../../../src';
import { TestDnsServer } from '../../dns/server';
import { freePort } from '../helpers';

/** What the suite uses of a DPT (both implementations; private members by bracket). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SuiteDPT = any;

export interface SuiteImpl {
  name: string;
  DPT: new (privateKey: Uint8Array, options: object) => SuiteDPT;
  message: { decode(bytes: Uint8Array): { typename: string; data: { version?: number }; publicKey: Uint8Array } };
  genPrivateKey(): Uint8Array;
  /** Upstream tests this implementation fails by design, by title (README difference table). */
  exceptions?: Record<string, Exception>;
}

/** The module object itself (an `import * as` namespace is a read-only copy; patches must reach the real one). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dns = require('node:dns') as typeof DnsModule;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ethjs = require('@ethereumjs/devp2p') as {
  DPT: SuiteImpl['DPT'];
  decode: SuiteImpl['message']['decode'];
  genPrivateKey(): Uint8Array;
};

/** Every DPT constructed through an impl since the last cleanup. */
const created: SuiteDPT[] = [];

/** `base` with its instances recorded for cleanup; behaviour unchanged. */
function tracked(base: SuiteImpl['DPT']): SuiteImpl['DPT'] {
  return class extends base {
    constructor(privateKey: Uint8Array, options: object) {
      super(privateKey, options);
      created.push(this);
    }
  };
}

export const IMPLS: SuiteImpl[] = [
  {
    name: '@ethereumjs/devp2p',
    DPT: tracked(ethjs.DPT),
    message: { decode: (b) => ethjs.decode(b) },
    genPrivateKey: () => ethjs.genPrivateKey(),
  },
  {
    name: 'discv4-native/dpt',
    DPT: tracked(OurDpt.DPT as unknown as SuiteImpl['DPT']),
    message: { decode: (b) => OurDpt.decode(b) as unknown as ReturnType<SuiteImpl['message']['decode']> },
    genPrivateKey: () => generatePrivateKey(),
    exceptions: {
      // dpt.spec.ts: both tests start by replacing `_server` with a stub.
      'should initialize and add peers': serverStub(),
      'should only call to confirmed peers on activated flag': serverStub(),
      // Every DPT ends with all 5 others, but ethjs's count includes itself.
      'DPT: simulate bootstrap': {
        row: 'a DPT and its own id',
        matches: (err) => {
          const e = err as { code?: string; actual?: unknown; expected?: unknown; message?: string };
          return e?.code === 'ERR_ASSERTION' && e.message?.startsWith('Peers should be distributed to all DPTs') === true && e.expected === 6 && e.actual === 5;
        },
      },
    },
  },
];

function serverStub(): Exception {
  return {
    row: 'replacing `dpt._server`',
    matches: (err) => err instanceof DiscError && err.code === 'UNSUPPORTED',
  };
}

/** Destroys every DPT still alive (ignoring "already destroyed"). */
export function destroyCreated(): void {
  for (const dpt of created.splice(0)) {
    try {
      dpt.destroy();
    } catch {
      // already destroyed by the test
    }
  }
}

// ------------------------------------------------------------ handler tracking

interface Tracked {
  label: string;
  calls: number;
  inFlight: number;
  error?: unknown;
}

/** Wraps a callback so the test fails unless it ran at least once and never threw. */
export type Wrap = <A extends unknown[]>(label: string, fn: (...args: A) => unknown) => (...args: A) => Promise<void>;

export class Handlers {
  readonly list: Tracked[] = [];

  readonly wrap: Wrap = (label, fn) => {
    const t: Tracked = { label, calls: 0, inFlight: 0 };
    this.list.push(t);
    return async (...args) => {
      t.calls++;
      t.inFlight++;
      try {
        await fn(...args);
      } catch (err) {
        t.error ??= err;
      } finally {
        t.inFlight--;
      }
    };
  };

  /** Waits (at most `ms`) until every handler ran and no call is running; throws what went wrong. */
  async settle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    const done = () => this.list.every((t) => t.calls > 0 && t.inFlight === 0) || this.list.some((t) => t.error !== undefined);
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const t of this.list) if (t.error !== undefined) throw t.error;
    const idle = this.list.filter((t) => t.calls === 0).map((t) => t.label);
    if (idle.length > 0) throw new Error(`handler never ran within ${ms} ms: ${idle.join(', ')}`);
    const busy = this.list.filter((t) => t.inFlight > 0).map((t) => t.label);
    if (busy.length > 0) throw new Error(`handler still running after ${ms} ms: ${busy.join(', ')}`);
  }
}

/** How long the handlers of a test may take after its body returned. */
const SETTLE_MS = 10_000;

/**
 * A test an implementation fails on purpose: a row of README.md's
 * difference table. The test still runs, and passes only if it fails
 * exactly as the row says.
 */
export interface Exception {
  /** The README row (its first column). */
  row: string;
  /** The failure the row predicts. */
  matches(err: unknown): boolean;
}

export type SuiteTest = (title: string, body: (h: Wrap) => unknown, timeoutMs?: number) => void;

/** mocha `it` with handler tracking for `impl`: `body` gets `h` to wrap its callbacks. */
export function testFor(impl: SuiteImpl): SuiteTest {
  return (title, body, timeoutMs = 30_000) => {
    const exception = impl.exceptions?.[title];
    const run = async (): Promise<void> => {
      const handlers = new Handlers();
      await body(handlers.wrap);
      await handlers.settle(SETTLE_MS);
    };
    if (exception === undefined) {
      it(title, async function () {
        this.timeout(timeoutMs + SETTLE_MS);
        await run();
      });
      return;
    }
    it(`${title} -- fails only as README's difference table says ("${exception.row}")`, async function () {
      this.timeout(timeoutMs + SETTLE_MS);
      let failure: unknown;
      try {
        await run();
      } catch (err) {
        failure = err;
      }
      if (failure === undefined) throw new Error(`passed, but README lists it as an exception ("${exception.row}"): update the table`);
      if (!exception.matches(failure)) throw failure;
    });
  };
}

// ------------------------------------------------------------ spies (vitest's vi.fn / vi.spyOn)

export interface Spy {
  calls: unknown[][];
}

const restores: Array<() => void> = [];

/** Replaces obj[key] by a recording wrapper around it (vi.spyOn). */
export function spyOn(obj: Record<string, unknown>, key: string): Spy {
  const original = obj[key] as (...a: unknown[]) => unknown;
  const spy: Spy = { calls: [] };
  obj[key] = function (this: unknown, ...args: unknown[]) {
    spy.calls.push(args);
    return original.apply(this, args);
  };
  restores.push(() => {
    obj[key] = original;
  });
  return spy;
}

/** A function resolving `value` (vi.fn().mockResolvedValue(value)). */
export function resolvingFn<T>(value: T): () => Promise<T> {
  return () => Promise.resolve(value);
}

/** vi.restoreAllMocks. */
export function restoreAllMocks(): void {
  for (const restore of restores.splice(0).reverse()) restore();
}

// ------------------------------------------------------------ ports

/** A base port whose next `n` UDP ports on 127.0.0.1 were free a moment ago. */
export async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (40_000 - n));
    if (await allFree(base, n)) return base;
  }
  throw new Error(`no ${n} consecutive free UDP ports found`);
}

async function allFree(base: number, n: number): Promise<boolean> {
  for (let i = 0; i < n; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(base + i, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

export { freePort };

// ------------------------------------------------------------ DNS guard

export interface DnsGuard {
  /** Server addresses code tried to set (redirected to the local server). */
  readonly setServersCalls: string[][];
  /** Queries the local server received. */
  queries(): number;
  /** Restores dns.promises.resolve after a test replaced it. */
  restoreResolve(): void;
  close(): Promise<void>;
}

/**
 * Points the process's DNS at an empty local server and keeps it there
 * until close(): module-level and per-resolver setServers are redirected,
 * and resolvers created meanwhile start on the local server.
 */
export async function guardDns(): Promise<DnsGuard> {
  const server = await TestDnsServer.start();
  const local = [server.address];
  const calls: string[][] = [];
  const saved = {
    servers: dns.getServers(),
    setServers: dns.setServers,
    promisesSetServers: dns.promises.setServers,
    promisesResolve: dns.promises.resolve,
    Resolver: dns.Resolver,
    PromisesResolver: dns.promises.Resolver,
  };
  saved.setServers(local);
  saved.promisesSetServers(local);
  const redirect = (servers: readonly string[]) => {
    calls.push([...servers]);
  };
  const mutable = dns as { -readonly [K in keyof typeof dns]: (typeof dns)[K] };
  const mutablePromises = dns.promises as { -readonly [K in keyof typeof dns.promises]: (typeof dns.promises)[K] };
  mutable.setServers = (servers) => {
    redirect(servers);
    saved.setServers(local);
  };
  mutablePromises.setServers = (servers) => {
    redirect(servers);
    saved.promisesSetServers(local);
  };
  mutable.Resolver = redirected(saved.Resolver, local, redirect);
  mutablePromises.Resolver = redirected(saved.PromisesResolver, local, redirect);
  return {
    setServersCalls: calls,
    queries: () => server.queries,
    restoreResolve: () => {
      mutablePromises.resolve = saved.promisesResolve;
    },
    close: async () => {
      mutable.setServers = saved.setServers;
      mutablePromises.setServers = saved.promisesSetServers;
      mutablePromises.resolve = saved.promisesResolve;
      mutable.Resolver = saved.Resolver;
      mutablePromises.Resolver = saved.PromisesResolver;
      saved.setServers(saved.servers);
      saved.promisesSetServers(saved.servers);
      await server.close();
    },
  };
}

/** A subclass of a Resolver class that starts on, and stays on, `local`. */
function redirected<R extends new (options?: DnsModule.ResolverOptions) => { setServers(servers: readonly string[]): void }>(
  Base: R,
  local: string[],
  redirect: (servers: readonly string[]) => void,
): R {
  const baseSet = Base.prototype.setServers as (this: unknown, servers: readonly string[]) => void;
  const Sub = class extends (Base as new (options?: DnsModule.ResolverOptions) => object) {
    constructor(options?: DnsModule.ResolverOptions) {
      super(options);
      baseSet.call(this, local);
    }
  };
  Object.defineProperty(Sub.prototype, 'setServers', {
    value(this: unknown, servers: readonly string[]): void {
      redirect(servers);
      baseSet.call(this, local);
    },
    writable: true,
    configurable: true,
  });
  return Sub as unknown as R;
}

/**
 * The hooks every ported suite installs inside its describe(): the DNS
 * guard for the whole suite; after each test, spies restored, the DPTs it
 * created destroyed and the process's resolver put back.
 */
export function suiteHooks(): void {
  let guard: DnsGuard;
  before(async () => {
    guard = await guardDns();
  });
  after(async () => {
    await guard.close();
  });
  afterEach(() => {
    restoreAllMocks();
    destroyCreated();
    guard.restoreResolve();
  });
}
