/**
 * EIP-2124 fork identifiers, and the `eth` ENR entry that carries them
 * (geth core/forkid, eth/protocols/eth/discovery.go): what lets a bootnode
 * tell nodes of its network from the others.
 *
 * A fork id is CRC32(genesis hash, then each passed fork as a big-endian
 * uint64) and the next fork (0: none known). Block-number forks and
 * timestamp forks are listed in order; a bootnode follows no chain, so it
 * takes every block fork as passed (all four networks are past the merge)
 * and judges timestamp forks by the clock.
 *
 * The schedules below are data (from go-ethereum's params/config.go,
 * checked against its core/forkid tests); `--fork-id` overrides them when a
 * network forks before this file is updated.
 */
import { RlpInput } from '../wire/rlp';
import { readItem, RlpItem } from '../wire/rlp';
import type { DecodedRecord } from '../enr/record';

export interface ForkSchedule {
  genesisHash: string;
  /** Timestamp forks at or before genesis are active from the start: not listed. */
  genesisTime: number;
  blocks: readonly number[];
  times: readonly number[];
}

export const NETWORKS: Readonly<Record<'mainnet' | 'sepolia' | 'holesky' | 'hoodi', ForkSchedule>> = {
  mainnet: {
    genesisHash: 'd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3',
    genesisTime: 0,
    blocks: [1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000, 9_069_000, 9_200_000, 12_244_000, 12_965_000, 13_773_000, 15_050_000],
    // Shanghai, Cancun, Prague, Osaka, BPO1, BPO2
    times: [1681338455, 1710338135, 1746612311, 1764798551, 1765290071, 1767747671],
  },
  sepolia: {
    genesisHash: '25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9',
    genesisTime: 1633267481,
    blocks: [1_735_371],
    times: [1677557088, 1706655072, 1741159776, 1760427360, 1761017184, 1761607008],
  },
  holesky: {
    genesisHash: 'b5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4',
    genesisTime: 1695902100,
    blocks: [],
    times: [1696000704, 1707305664, 1740434112, 1759308480, 1759800000, 1760389824],
  },
  hoodi: {
    genesisHash: 'bbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b',
    genesisTime: 1742212800,
    blocks: [],
    times: [1742999832, 1761677592, 1762365720, 1762955544],
  },
};

export type NetworkName = keyof typeof NETWORKS;

export interface ForkId {
  /** 4 bytes. */
  hash: Buffer;
  /** The next fork (block number or timestamp); 0: none known. */
  next: number;
}

// ---- CRC32 (IEEE), as Go's hash/crc32

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32Update(crc: number, data: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** The fork points in order (block forks, then timestamp forks), without duplicates or genesis forks. */
function forkPoints(s: ForkSchedule): number[] {
  const blocks = [...new Set(s.blocks)].filter((b) => b > 0).sort((a, b) => a - b);
  const times = [...new Set(s.times)].filter((t) => t > s.genesisTime).sort((a, b) => a - b);
  return [...blocks, ...times];
}

/** Block forks are below this; timestamps above (geth's timestampThreshold, the mainnet launch). */
const TIMESTAMP_THRESHOLD = 1438269973;

function passed(fork: number, head: Head): boolean {
  return fork >= TIMESTAMP_THRESHOLD ? head.time >= fork : head.block >= fork;
}

/** Where the chain is: a bootnode uses { block: Infinity, time: now }. */
export interface Head {
  block: number;
  time: number;
}

export function headAt(nowMs: number): Head {
  return { block: Number.MAX_SAFE_INTEGER, time: Math.floor(nowMs / 1000) };
}

function checksums(s: ForkSchedule): { forks: number[]; sums: number[] } {
  const forks = forkPoints(s);
  const sums = [crc32Update(0, Buffer.from(s.genesisHash, 'hex'))];
  for (const f of forks) sums.push(crc32Update(sums[sums.length - 1], u64(f)));
  return { forks, sums };
}

/** The fork id of a chain at `head`. */
export function forkId(s: ForkSchedule, head: Head): ForkId {
  const { forks, sums } = checksums(s);
  let i = 0;
  while (i < forks.length && passed(forks[i], head)) i++;
  const hash = Buffer.alloc(4);
  hash.writeUInt32BE(sums[i]);
  return { hash, next: i < forks.length ? forks[i] : 0 };
}

/**
 * EIP-2124 validation: is a remote fork id compatible with our chain at
 * `head`? Same fork state (unless the remote's announced next fork has
 * already passed here), or the remote is behind on our own path (and
 * announces our next fork), or ahead on forks we know.
 */
export function isCompatible(s: ForkSchedule, head: Head, remote: ForkId): boolean {
  const { forks, sums } = checksums(s);
  let p = 0;
  while (p < forks.length && passed(forks[p], head)) p++;
  const remoteSum = remote.hash.readUInt32BE(0);
  for (let i = 0; i < sums.length; i++) {
    if (sums[i] !== remoteSum) continue;
    if (i === p) return !(remote.next > 0 && passed(remote.next, head));
    if (i < p) return remote.next === forks[i];
    return true;
  }
  return false;
}

/** A fixed fork id (`--fork-id 0xhash:next`) instead of a schedule: only exact matches are compatible. */
export function parseForkIdArg(text: string): ForkId {
  const m = /^(?:0x)?([0-9a-fA-F]{8})(?::(\d+))?$/.exec(text.trim());
  if (m === null) throw new RangeError(`invalid fork id ${JSON.stringify(text)}: expected <8 hex digits>[:<next>], e.g. 0x07c9462e:0`);
  return { hash: Buffer.from(m[1], 'hex'), next: m[2] === undefined ? 0 : Number(m[2]) };
}

export function formatForkId(id: ForkId): string {
  return `0x${id.hash.toString('hex')}:${id.next}`;
}

/** The `eth` ENR entry value: [[fork hash, fork next]] (later fields ignored: geth's rlp:"tail"). */
export function ethEntry(id: ForkId): RlpInput {
  return [[id.hash, id.next]];
}

const item: RlpItem = { isList: false, start: 0, end: 0 };
const inner: RlpItem = { isList: false, start: 0, end: 0 };

/** The fork id of a decoded record's `eth` entry; undefined without one (or a malformed one). */
export function recordForkId(record: DecodedRecord | undefined): ForkId | undefined {
  const raw = record?.pairs.get('eth');
  return raw === undefined ? undefined : decodeEthEntry(raw);
}

/** Reads the fork id from a raw `eth` entry value; undefined if it is not one. */
export function decodeEthEntry(raw: Uint8Array): ForkId | undefined {
  if (!readItem(raw, 0, raw.length, item) || !item.isList) return undefined;
  if (!readItem(raw, item.start, item.end, inner) || !inner.isList) return undefined;
  const listEnd = inner.end;
  const h: RlpItem = { isList: false, start: 0, end: 0 };
  if (!readItem(raw, inner.start, listEnd, h) || h.isList || h.end - h.start !== 4) return undefined;
  const n: RlpItem = { isList: false, start: 0, end: 0 };
  if (!readItem(raw, h.end, listEnd, n) || n.isList || n.end - n.start > 6) return undefined;
  let next = 0;
  for (let i = n.start; i < n.end; i++) next = next * 256 + raw[i];
  return { hash: Buffer.from(raw.subarray(h.start, h.end)), next };
}
