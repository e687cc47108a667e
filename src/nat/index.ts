/**
 * NAT traversal, after go-ethereum p2p/nat: the `nat` option's forms
 * (`none`, `extip:<IP>`, `upnp`, `pmp`, `pmp:<gateway>`, `any`), UPnP IGD and
 * NAT-PMP port mappers, and {@link NatManager}, which keeps one mapping alive
 * (geth's `nat.Map` loop) and removes it on stop.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DiscError } from '../errors';
import { systemClock, type Clock, type TimerHandle } from '../transport/clock';
import { NAT_PMP_PORT, natPmp } from './pmp';
import { discoverUpnp, type UpnpOptions } from './upnp';
import type { NatMapping, NatSpec, PortMapper } from './types';
import { NAT_LIFETIME_SEC } from '../defaults';

export type { NatMapping, NatSpec, PortMapper } from './types';
export { natPmp, NAT_PMP_PORT, type NatPmpOptions } from './pmp';
export { discoverUpnp, SSDP_ADDRESS, SSDP_PORT, type UpnpOptions } from './upnp';


const badNat = (msg: string) => new DiscError('BAD_NAT', msg);

/**
 * Parses the `nat` option / `--nat` flag. Accepts geth's forms and aliases:
 * `none`|`off`|``, `extip:<IP>`|`ip:<IP>`, `upnp`, `pmp`|`natpmp`|`nat-pmp`
 * with an optional `:<gateway IPv4>`, `any`|`auto`|`on`.
 */
export function parseNat(text: string): NatSpec {
  const s = String(text).trim();
  const i = s.indexOf(':');
  const mech = (i < 0 ? s : s.slice(0, i)).toLowerCase();
  const arg = i < 0 ? undefined : s.slice(i + 1);
  const noArg = () => {
    if (arg !== undefined) throw badNat(`nat: "${mech}" takes no argument (got "${s}")`);
  };
  switch (mech) {
    case '':
    case 'none':
    case 'off':
      noArg();
      return { kind: 'none' };
    case 'any':
    case 'auto':
    case 'on':
      noArg();
      return { kind: 'any' };
    case 'upnp':
      noArg();
      return { kind: 'upnp' };
    case 'extip':
    case 'ip':
    {
      if (!arg) throw badNat(`nat: "${mech}" needs an IP address, e.g. extip:203.0.113.7`);
      // One address per family for a dual-stack node: extip:203.0.113.7,2001:db8::7
      const ips = arg.split(',').map((x) => x.trim());
      for (const ip of ips) if (!isIP(ip)) throw badNat(`nat: invalid IP address "${ip}" in "${s}"`);
      const v4 = ips.filter((ip) => isIP(ip) === 4);
      const v6 = ips.filter((ip) => isIP(ip) === 6);
      if (ips.length > 2 || v4.length > 1 || v6.length > 1) throw badNat(`nat: "${s}": at most one IPv4 and one IPv6 address`);
      if (v4.length === 1 && v6.length === 1) return { kind: 'extip', ip: v4[0], ip6: v6[0] };
      return { kind: 'extip', ip: ips[0] };
    }
    case 'pmp':
    case 'natpmp':
    case 'nat-pmp':
      if (arg === undefined) return { kind: 'pmp' };
      {
        // pmp:<gateway> as geth, or pmp:<gateway>:<port> for a gateway on a nonstandard port.
        const [gw, portText, ...more] = arg.split(':');
        if (!isIPv4(gw) || more.length > 0) throw badNat(`nat: invalid NAT-PMP gateway "${arg}" in "${s}" (an IPv4 address is needed)`);
        if (portText === undefined) return { kind: 'pmp', gateway: gw };
        const port = Number(portText);
        if (!/^\d+$/.test(portText) || port < 1 || port > 0xffff) throw badNat(`nat: invalid NAT-PMP port "${portText}" in "${s}"`);
        return { kind: 'pmp', gateway: gw, port };
      }
    default:
      throw badNat(`nat: unknown mechanism "${mech}" (use none, extip:<IP>, upnp, pmp, pmp:<gateway> or any)`);
  }
}

/** Formats a spec back to its option text. */
export function formatNat(spec: NatSpec): string {
  switch (spec.kind) {
    case 'extip':
      return `extip:${spec.ip}${spec.ip6 !== undefined ? `,${spec.ip6}` : ''}`;
    case 'pmp':
      return spec.gateway ? `pmp:${spec.gateway}${spec.port !== undefined ? `:${spec.port}` : ''}` : 'pmp';
    default:
      return spec.kind;
  }
}

/**
 * Likely NAT-PMP gateways: the Linux default route(s) from /proc/net/route,
 * then, as geth's guessing does, x.y.z.1 of each private IPv4 interface.
 */
export async function guessGateways(): Promise<string[]> {
  const out: string[] = [];
  try {
    const table = await readFile('/proc/net/route', 'latin1');
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 3 || f[1] !== '00000000' || !/^[0-9A-Fa-f]{8}$/.test(f[2]!)) continue;
      const n = parseInt(f[2]!, 16); // little-endian
      const ip = [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
      if (ip !== '0.0.0.0' && !out.includes(ip)) out.push(ip);
    }
  } catch {
    /* not Linux */
  }
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const p = a.address.split('.').map(Number) as [number, number, number, number];
      const priv = p[0] === 10 || (p[0] === 172 && p[1] >= 16 && p[1] < 32) || (p[0] === 192 && p[1] === 168);
      if (!priv) continue;
      const gw = `${p[0]}.${p[1]}.${p[2]}.1`;
      if (gw !== a.address && !out.includes(gw)) out.push(gw);
    }
  }
  return out;
}

export interface OpenNatOptions {
  upnp?: UpnpOptions;
  /** NAT-PMP gateway port (default 5351) and per-request timeout. */
  pmpPort?: number;
  pmpTimeoutMs?: number;
  /** Candidate gateways for `pmp` without a gateway and for `any` (default: {@link guessGateways}). */
  pmpGateways?: string[];
}

/**
 * Turns a spec into a working {@link PortMapper}: `upnp` discovers a gateway,
 * `pmp` uses the given gateway (or the first guessed one that answers),
 * `any` takes whichever of the two answers first. `none` and `extip`
 * need no mapper and give null. Rejects (NAT_TIMEOUT / NAT_FAILED) when no
 * gateway is found.
 */
export async function openNat(spec: NatSpec, opts: OpenNatOptions = {}): Promise<PortMapper | null> {
  switch (spec.kind) {
    case 'none':
    case 'extip':
      return null;
    case 'upnp':
      return discoverUpnp(opts.upnp);
    case 'pmp':
      if (spec.gateway) return natPmp({ gateway: spec.gateway, port: spec.port ?? opts.pmpPort, timeoutMs: opts.pmpTimeoutMs });
      return findPmp(opts);
    case 'any':
      return firstOf([discoverUpnp(opts.upnp), findPmp(opts)]);
  }
}

async function findPmp(opts: OpenNatOptions): Promise<PortMapper> {
  const gateways = opts.pmpGateways ?? (await guessGateways());
  if (gateways.length === 0) throw new DiscError('NAT_FAILED', 'NAT-PMP: no gateway address could be guessed; use pmp:<gateway>');
  const port = opts.pmpPort ?? NAT_PMP_PORT;
  const timeoutMs = opts.pmpTimeoutMs ?? 1000;
  return firstOf(
    gateways.map(async (gateway) => {
      const m = natPmp({ gateway, port, timeoutMs });
      try {
        await m.externalIp();
        return m;
      } catch (e) {
        await m.close();
        throw e;
      }
    }),
  );
}

/** The first promise to fulfil; closes mappers that arrive later; rejects with all reasons if none does. */
function firstOf(ps: Promise<PortMapper>[]): Promise<PortMapper> {
  return new Promise((resolve, reject) => {
    let left = ps.length;
    let won = false;
    const reasons: string[] = [];
    let allTimeouts = true;
    for (const p of ps) {
      p.then(
        (m) => {
          if (won) void m.close();
          else {
            won = true;
            resolve(m);
          }
        },
        (e: unknown) => {
          reasons.push((e as Error).message);
          if ((e as DiscError).code !== 'NAT_TIMEOUT') allTimeouts = false;
          if (--left === 0 && !won) {
            reject(new DiscError(allTimeouts ? 'NAT_TIMEOUT' : 'NAT_FAILED', `no NAT gateway found: ${reasons.join('; ')}`));
          }
        },
      );
    }
  });
}

export interface NatManagerOptions {
  protocol: 'udp' | 'tcp';
  internalPort: number;
  /** Requested external port (default: the internal port). */
  externalPort?: number;
  /** Requested lease (default 1200 s, 20 min). */
  lifetimeSec?: number;
  /** Renewal interval (default 3/4 of the lease: 15 min for 20 min). Shortened to half the granted lease if the gateway grants less. */
  renewMs?: number;
  /** Mapping description shown by the gateway (default "discv4"). */
  description?: string;
  /** Clock of the renewal timer. Default systemClock. */
  clock?: Clock;
}

/**
 * Keeps one port mapping alive (geth's `nat.Map`): maps on start(), renews
 * on an unref()'d timer, unmaps and closes the mapper on stop(). Events:
 * `'mapped'` (NatMapping) after each successful map or renewal, `'error'`
 * (DiscError) when a renewal or the final unmap fails. `'error'` is only
 * emitted when someone listens: a failed renewal never throws out of the
 * timer, and the next renewal is still scheduled.
 */
export class NatManager extends EventEmitter {
  readonly mapper: PortMapper;
  private readonly protocol: 'udp' | 'tcp';
  private readonly internalPort: number;
  private readonly requestedExternal: number;
  private readonly lifetimeSec: number;
  private readonly renewMs: number;
  private readonly description: string;
  private timer: TimerHandle | undefined;
  private readonly clock: Clock;
  private running = false;
  private current: NatMapping | undefined;
  private inflight: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(mapper: PortMapper, opts: NatManagerOptions) {
    super();
    this.mapper = mapper;
    this.protocol = opts.protocol;
    this.internalPort = opts.internalPort;
    this.requestedExternal = opts.externalPort ?? opts.internalPort;
    this.lifetimeSec = opts.lifetimeSec ?? NAT_LIFETIME_SEC;
    this.renewMs = opts.renewMs ?? Math.max(1000, this.lifetimeSec * 750);
    this.description = opts.description ?? 'discv4';
    this.clock = opts.clock ?? systemClock;
  }

  /** The mapping as last granted, if any. */
  get mapping(): NatMapping | undefined {
    return this.current;
  }

  /** Maps now and schedules renewals. Rejects (and schedules nothing) if the first mapping fails. */
  async start(): Promise<NatMapping> {
    if (this.running) throw new DiscError('NAT_FAILED', 'NatManager already started');
    if (this.stopping) throw new DiscError('CLOSED', 'NatManager stopped');
    this.running = true;
    try {
      const m = await this.track(this.doMap());
      this.schedule();
      return m;
    } catch (e) {
      this.running = false;
      throw e;
    }
  }

  externalIp(): Promise<string> {
    return this.mapper.externalIp();
  }

  /** Stops renewing, removes the mapping (errors go to 'error'), then closes the mapper. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      if (this.timer !== undefined) this.clock.clearTimer(this.timer);
      this.timer = undefined;
      await this.inflight.catch(() => undefined);
      const m = this.current;
      if (m) {
        try {
          await this.mapper.unmap(m.protocol, m.internalPort, m.externalPort);
          this.current = undefined;
        } catch (e) {
          this.report(e);
        }
      }
      await this.mapper.close();
    })();
    return this.stopping;
  }

  private async doMap(): Promise<NatMapping> {
    const ext = this.current?.externalPort ?? this.requestedExternal;
    const m = await this.mapper.map(this.protocol, this.internalPort, ext, this.lifetimeSec, this.description);
    this.current = m;
    this.emit('mapped', m);
    return m;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight = p.catch(() => undefined);
    return p;
  }

  private schedule(): void {
    if (!this.running) return;
    const granted = this.current?.lifetimeSec ?? 0;
    const delay = granted > 0 ? Math.min(this.renewMs, (granted * 1000) / 2) : this.renewMs;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      if (!this.running) return;
      this.track(this.doMap()).then(
        () => this.schedule(),
        (e: unknown) => {
          this.report(e);
          this.schedule();
        },
      );
    }, Math.max(10, delay));
    this.timer.unref?.();
  }

  private report(e: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
