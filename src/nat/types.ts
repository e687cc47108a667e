export type NatSpec =
  | { kind: 'none' }
  | { kind: 'extip'; ip: string; ip6?: string }
  | { kind: 'upnp' }
  | { kind: 'pmp'; gateway?: string; /** Gateway port when not 5351. */ port?: number }
  | { kind: 'any' };

export interface NatMapping {
  protocol: 'udp' | 'tcp';
  internalPort: number;
  /** The port the gateway actually opened (NAT-PMP may pick another than asked). */
  externalPort: number;
  /** Granted lease in seconds; 0 = permanent (UPnP gateways that only do permanent leases). */
  lifetimeSec: number;
}

/** One gateway protocol: UPnP IGD or NAT-PMP. */
export interface PortMapper {
  readonly kind: 'upnp' | 'pmp';
  externalIp(): Promise<string>;
  map(
    protocol: 'udp' | 'tcp',
    internalPort: number,
    externalPort: number,
    lifetimeSec: number,
    description: string,
  ): Promise<NatMapping>;
  unmap(protocol: 'udp' | 'tcp', internalPort: number, externalPort: number): Promise<void>;
  close(): Promise<void>;
}
