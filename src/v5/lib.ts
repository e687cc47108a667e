/**
 * The discv5 implementation we run beside discv4: @chainsafe/discv5, an
 * ES module only. This build is CommonJS, so it is loaded with a dynamic
 * `import()` (kept as is by TypeScript's node16 module output) the first
 * time a discv5 service starts; nothing is loaded for discv4-only nodes.
 * Types come in through `resolution-mode: import` and cost nothing at run time.
 */
import type * as Discv5Module from '@chainsafe/discv5' with { 'resolution-mode': 'import' };
import type * as Discv5Packet from '@chainsafe/discv5/packet' with { 'resolution-mode': 'import' };

export type { Discv5Module, Discv5Packet };
export type Discv5 = Discv5Module.Discv5;
export type ITransportService = Discv5Module.ITransportService;
export type IPMode = Discv5Module.IPMode;
/** A multiaddr as @chainsafe/discv5 uses it (its own @multiformats/multiaddr). */
export type Multiaddr = Discv5Module.ITransportService['bindAddrs'][number];
/** A decoded discv5 packet (masking IV, header, encrypted message). */
export type IPacket = Discv5Packet.IPacket;
/** A node record as @chainsafe/enr decodes it (what lookups return). */
export type ENR = Awaited<ReturnType<Discv5['findNode']>>[number];
/** Discv5.create's options. */
export type Discv5CreateOptions = Parameters<typeof Discv5Module.Discv5.create>[0];
/** The service's tunables (timeouts, lookup parallelism...); see @chainsafe/discv5 config. */
export type Discv5Config = NonNullable<Discv5CreateOptions['config']>;

/** What the adapter and the service use from the package, loaded once. */
export interface V5Lib {
  Discv5: typeof Discv5Module.Discv5;
  encodePacket: typeof Discv5Packet.encodePacket;
  decodePacket: typeof Discv5Packet.decodePacket;
  MIN_PACKET_SIZE: number;
  MAX_PACKET_SIZE: number;
  multiaddrFromSocketAddress: typeof Discv5Module.multiaddrFromSocketAddress;
  multiaddrToSocketAddress: typeof Discv5Module.multiaddrToSocketAddress;
  getSocketAddressOnENR: typeof Discv5Module.getSocketAddressOnENR;
}

let loading: Promise<V5Lib> | undefined;

/** Loads @chainsafe/discv5 (once; later calls share the promise). */
export function loadDiscv5(): Promise<V5Lib> {
  loading ??= (async () => {
    const [m, p] = await Promise.all([import('@chainsafe/discv5'), import('@chainsafe/discv5/packet')]);
    return {
      Discv5: m.Discv5,
      encodePacket: p.encodePacket,
      decodePacket: p.decodePacket,
      MIN_PACKET_SIZE: p.MIN_PACKET_SIZE,
      MAX_PACKET_SIZE: p.MAX_PACKET_SIZE,
      multiaddrFromSocketAddress: m.multiaddrFromSocketAddress,
      multiaddrToSocketAddress: m.multiaddrToSocketAddress,
      getSocketAddressOnENR: m.getSocketAddressOnENR,
    };
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}
