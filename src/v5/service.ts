/**
 * discv5 beside discv4 on one UDP port (issue #11), as geth runs them: the
 * discv4 transport keeps the socket and hands every datagram that is not
 * discv4 to a discv5 service (@chainsafe/discv5), which answers through
 * the same socket. One identity for both: the discv5 service runs with our
 * node key and serves OUR record, byte for byte (same key, seq and pairs),
 * re-read whenever Discovery's record changes.
 *
 * ```ts
 * const d = await Discovery.start({ privateKey, port: 30303 });
 * const v5 = await startDiscv5(d, { privateKey, bootnodes: ['enr:-...'] });
 * const enrs = await v5.findNode(someNodeId);   // an iterative discv5 lookup
 * await d.close();                               // stops v5 too
 * ```
 */
import { keccak256, nodeIdFromPrivateKey } from '../crypto';
import { decodeEnrText, encodeEnrText } from '../enr/enr';
import { ClosedError, InvalidArgumentError } from '../errors';
import type { Discovery } from '../node/discovery';
import type { Discv5, Discv5Config, Discv5CreateOptions, ENR } from './lib';
import { loadDiscv5 } from './lib';
import { V5Transport, V5TransportStats } from './transport';

export interface V5Options {
  /** Our node key: the one Discovery was started with (checked against its node id). */
  privateKey: Uint8Array;
  /** discv5 nodes to start from: ENRs as text (`enr:...`) or RLP. */
  bootnodes?: ReadonlyArray<string | Uint8Array>;
  /**
   * @chainsafe/discv5 tunables (request timeout, lookup parallelism...).
   * `enrUpdate` is always off: our record belongs to Discovery, whose
   * endpoint prediction and NAT handling already keep its address current.
   */
  config?: Partial<Discv5Config>;
  /** A prom-client registry (or compatible) for the package's own metrics. */
  metricsRegistry?: Discv5CreateOptions['metricsRegistry'];
}

export interface V5Stats extends V5TransportStats {
  /** Nodes in the discv5 routing table. */
  tableSize: number;
  /** Nodes with a session we ping to keep alive. */
  connectedPeers: number;
  /** Established sessions. */
  sessions: number;
}

/** A running discv5 service sharing a Discovery's socket, identity and record. */
export interface V5Service {
  /** The underlying @chainsafe/discv5 instance (events: enrAdded, discovered, talkReqReceived...). */
  readonly discv5: Discv5;
  /** Our discv5 node id: keccak256 of the public key (Discovery's nodeHash), hex. */
  readonly nodeId: string;
  /** Our record as discv5 serves it, in text form (the same record as `discovery.localRecord`). */
  enr(): string;
  /**
   * An iterative discv5 lookup: the closest records to `target`, which is
   * a 64-byte public key (our `nodeId`), a 32-byte discv5 node id, or that
   * id as 64 hex characters.
   */
  findNode(target: Uint8Array | string): Promise<ENR[]>;
  /** A lookup of a random id. */
  findRandomNode(): Promise<ENR[]>;
  /** Adds a record (text or RLP) to the routing table without contacting it. */
  addEnr(enr: string | Uint8Array): void;
  /** The records in the routing table. */
  kadValues(): ENR[];
  readonly tableSize: number;
  stats(): V5Stats;
  /** Stops the service and gives the unhandled datagrams back (dropped as bad_hash again). Idempotent. */
  stop(): Promise<void>;
}

/** The SignableENR class, reached through an instance (the package is ESM, loaded at run time). */
type SignableEnrClass = { decode(encoded: Uint8Array, privateKey: Uint8Array): Discv5['enr'] };

/**
 * Starts discv5 on `discovery`'s socket. It stops by itself when the
 * Discovery closes (its transport's 'close'); `stop()` ends it earlier.
 * Replaces any unhandled-datagram handler the transport had.
 */
export async function startDiscv5(discovery: Discovery, opts: V5Options): Promise<V5Service> {
  const priv = opts?.privateKey;
  if (!(priv instanceof Uint8Array) || priv.length !== 32) throw new InvalidArgumentError('startDiscv5: privateKey must be 32 bytes');
  if (!nodeIdFromPrivateKey(priv).equals(discovery.nodeId)) {
    throw new InvalidArgumentError("startDiscv5: privateKey is not the Discovery's node key");
  }
  const transport = discovery.transport;
  if (transport.isClosed) throw new ClosedError('startDiscv5: the Discovery is closed');
  const bootnodes = (opts.bootnodes ?? []).map(enrText);

  const lib = await loadDiscv5();
  const key = Buffer.from(priv);
  const nodeId = keccak256(discovery.nodeId).toString('hex');
  const adapter = new V5Transport({ transport, nodeId, lib });
  const discv5 = lib.Discv5.create({
    enr: encodeEnrText(discovery.localRecord),
    // Discv5.create reads only `type` and `raw` of a libp2p PrivateKey
    // (@chainsafe/discv5 11.0.0 service.js): no need for @libp2p/crypto here.
    privateKey: { type: 'secp256k1', raw: key } as unknown as Discv5CreateOptions['privateKey'],
    // Unused with a transport given, but required: the address we are bound to.
    bindAddrs: adapter.ipMode.ip4 && !adapter.ipMode.ip6 ? { ip4: adapter.bindAddrs[0] } : { ip6: adapter.bindAddrs[0] },
    transport: adapter.asService(),
    config: { ...opts.config, enrUpdate: false },
    metricsRegistry: opts.metricsRegistry,
  });
  await discv5.start();
  if (transport.isClosed) {
    // Closed while the package loaded: its 'close' event may be gone already.
    await discv5.stop();
    throw new ClosedError('startDiscv5: the Discovery closed while discv5 started');
  }
  const SignableENR = discv5.enr.constructor as unknown as SignableEnrClass;

  // Discovery's record changed (endpoint, NAT, fork id): serve the new one.
  // discv5 peers see its seq in our PONGs and fetch it (FINDNODE at
  // distance 0); handshakes carry it to peers that know an older one.
  const onRecord = (record: Buffer) => {
    discv5.sessionService.enr = SignableENR.decode(record, key);
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      discovery.off('localRecord', onRecord);
      transport.off('close', onClose);
      await discv5.stop();
    })();
    return stopping;
  };
  const onClose = () => void stop();
  discovery.on('localRecord', onRecord);
  transport.once('close', onClose);
  // The record may have moved on while the package loaded.
  if (discv5.enr.seq !== discovery.localSeq) onRecord(discovery.localRecord);
  for (const b of bootnodes) discv5.addEnr(b);

  return {
    discv5,
    nodeId,
    enr: () => discv5.enr.encodeTxt(),
    findNode: (target) => discv5.findNode(v5Id(target)),
    findRandomNode: () => discv5.findRandomNode(),
    addEnr: (enr) => discv5.addEnr(enrText(enr)),
    kadValues: () => discv5.kadValues(),
    get tableSize() {
      return discv5.kadValues().length;
    },
    stats: () => ({
      ...adapter.stats(),
      tableSize: discv5.kadValues().length,
      connectedPeers: discv5.connectedPeerCount,
      sessions: discv5.sessionService.sessionsSize(),
    }),
    stop,
  };
}

/** A record argument as text (validated as enr: base64url). */
function enrText(enr: string | Uint8Array): string {
  if (typeof enr === 'string') {
    decodeEnrText(enr); // throws EnrError for bad text
    return enr.trim();
  }
  if (!(enr instanceof Uint8Array)) throw new InvalidArgumentError('an ENR must be text (enr:...) or RLP bytes');
  return encodeEnrText(enr);
}

/** A lookup target as discv5's node id (hex of the 32-byte keccak256 of the public key). */
function v5Id(target: Uint8Array | string): string {
  if (typeof target === 'string') {
    const t = target.startsWith('0x') ? target.slice(2) : target;
    if (!/^[0-9a-fA-F]{64}$/.test(t)) throw new InvalidArgumentError('a discv5 node id is 64 hex characters');
    return t.toLowerCase();
  }
  if (target instanceof Uint8Array && target.length === 64) return keccak256(target).toString('hex');
  if (target instanceof Uint8Array && target.length === 32) return Buffer.from(target).toString('hex');
  throw new InvalidArgumentError('findNode target: a 64-byte public key, a 32-byte node id or 64 hex characters');
}
