/**
 * NAT for Discovery (DiscoveryOptions.nat, geth's --nat forms). The gateway
 * is found before our record is built, so the record carries its external
 * IP from the start; the port is mapped once the socket is bound and its
 * port known, and a NatManager keeps the mapping alive. A gateway that
 * cannot be found or refuses the mapping is not fatal: the node runs
 * without it and reports why ('natError').
 */
import { isIPv6 } from 'node:net';
import { NatManager, NatSpec, OpenNatOptions, openNat, parseNat } from '../nat';
import type { NatMapping, PortMapper } from '../nat/types';
import type { Clock } from '../transport/clock';

/** The NAT part of DiscoveryOptions. */
export interface GatewayOptions {
  nat?: string | NatSpec;
  natOptions?: OpenNatOptions;
  externalIp?: string;
  externalIp6?: string;
}

/** What the NAT setup found before the socket was bound. */
export interface Gateway {
  /** The gateway's port mapper; null with none asked for, or when finding it failed. */
  mapper: PortMapper | null;
  /** Our advertised IPv4 address: configured, from 'extip', or the gateway's. */
  externalIp?: string;
  /** Our advertised IPv6 address: configured or from 'extip'. */
  externalIp6?: string;
  /** Why there is no mapper although a gateway was asked for. */
  error?: Error;
}

/**
 * Parses `nat` (throws BAD_NAT on a malformed one, before anything is bound)
 * and, for 'upnp', 'pmp' and 'any', finds the gateway and its external IP.
 */
export async function openGateway(opts: GatewayOptions): Promise<Gateway> {
  const nat: NatSpec = typeof opts.nat === 'string' ? parseNat(opts.nat) : (opts.nat ?? { kind: 'none' });
  const gw: Gateway = {
    mapper: null,
    externalIp: opts.externalIp ?? (nat.kind === 'extip' ? nat.ip : undefined),
    externalIp6: opts.externalIp6 ?? (nat.kind === 'extip' ? nat.ip6 : undefined),
  };
  // An IPv6 address given as the external IP is the IPv6 one.
  if (gw.externalIp !== undefined && isIPv6(gw.externalIp) && gw.externalIp6 === undefined) {
    gw.externalIp6 = gw.externalIp;
    gw.externalIp = undefined;
  }
  if (nat.kind === 'upnp' || nat.kind === 'pmp' || nat.kind === 'any') {
    try {
      gw.mapper = await openNat(nat, opts.natOptions);
      gw.externalIp ??= await gw.mapper?.externalIp();
    } catch (err) {
      await gw.mapper?.close().catch(() => undefined);
      gw.mapper = null;
      gw.error = err as Error;
    }
  }
  return gw;
}

/** A started mapping, or why there is none. */
export type PortMapping = { manager: NatManager; mapping: NatMapping } | { error: Error };

/**
 * Maps our UDP `port` (the same port outside) and keeps it mapped; renewal
 * failures go to `onError`; renewals run on `clock`. On failure the manager is stopped (which closes
 * the mapper).
 */
export async function mapPort(mapper: PortMapper, port: number, onError: (err: Error) => void, clock: Clock): Promise<PortMapping> {
  const manager = new NatManager(mapper, { protocol: 'udp', internalPort: port, externalPort: port, clock });
  manager.on('error', onError);
  try {
    return { manager, mapping: await manager.start() };
  } catch (err) {
    await manager.stop().catch(() => undefined);
    return { error: err as Error };
  }
}
