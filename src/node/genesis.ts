/**
 * Any network from its genesis file: a go-ethereum genesis.json (or a bare
 * chain config) read into the fork schedule that EIP-2124 fork ids are
 * made of, so a devnet or private network is served fork-aware like the
 * built-in networks (forkid.ts).
 *
 * Which forks count (geth core/forkid gatherForks): every *Block field of
 * params.ChainConfig (block forks) and every *Time field (timestamp forks);
 * duplicates go, block forks at 0 go, timestamp forks at or before the
 * genesis timestamp go.
 *
 * The genesis hash comes from `--genesis-hash` when given, else it is
 * computed as geth's Genesis.ToBlock does: the state root of the alloc (a
 * Merkle-Patricia trie of keccak(address) -> rlp([nonce, balance,
 * storageRoot, codeHash]), each storage a trie of keccak(slot) ->
 * rlp(value)), and the header with the fields the forks active at genesis
 * add (London: base fee; Shanghai: withdrawals root; Cancun: blob gas and
 * parent beacon root; Prague: requests hash; Amsterdam: access list hash
 * and slot number). A bare chain config has no alloc: it needs the hash.
 */
import { readFileSync } from 'node:fs';
import { keccak256 } from '../crypto';
import { DiscError } from '../errors';
import { encodeRlp, RlpInput } from '../wire/rlp';
import type { ForkSchedule } from './forkid';

/** The fork fields of go-ethereum's params.ChainConfig, as their JSON names. */
export const BLOCK_FORKS = [
  'homesteadBlock', 'daoForkBlock', 'eip150Block', 'eip155Block', 'eip158Block', 'byzantiumBlock', 'constantinopleBlock',
  'petersburgBlock', 'istanbulBlock', 'muirGlacierBlock', 'berlinBlock', 'londonBlock', 'arrowGlacierBlock',
  'grayGlacierBlock', 'mergeNetsplitBlock',
] as const;
export const TIME_FORKS = [
  'shanghaiTime', 'cancunTime', 'pragueTime', 'osakaTime', 'bpo1Time', 'bpo2Time', 'bpo3Time', 'bpo4Time', 'bpo5Time',
  'amsterdamTime', 'bogotaTime', 'ubtTime',
] as const;

/** A genesis file or chain config that cannot be used (exit 2 at the CLI: it is the operator's input). */
export class GenesisError extends DiscError {
  constructor(message: string) {
    super('BAD_GENESIS', message);
  }
}

export interface ChainSpec extends ForkSchedule {
  chainId?: number;
  /** Where the genesis hash came from. */
  hashSource: 'given' | 'computed';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON number, or a "0x..." / decimal string (geth's HexOrDecimal). */
function uint(v: Json | undefined, what: string): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new GenesisError(`${what}: ${v} is not an exact non-negative integer (write large numbers as "0x..." strings)`);
    return BigInt(v);
  }
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(v.trim())) return BigInt(v.trim());
  throw new GenesisError(`${what}: expected a number or a "0x..." string, got ${JSON.stringify(v)}`);
}

function u64(v: Json | undefined, what: string, dflt = 0n): bigint {
  if (v === undefined || v === null) return dflt;
  const n = uint(v, what);
  if (n >= 1n << 64n) throw new GenesisError(`${what}: ${n} does not fit in 64 bits`);
  return n;
}

/**
 * Hex text as bytes ("0x" optional). With `size`: exactly that many bytes (`fit: 'exact'`),
 * or at most that many, left-padded with zeros (`fit: 'pad'`: geth reads
 * hashes and words that way).
 */
function hexBytes(v: Json | undefined, what: string, size?: number, fit: 'exact' | 'pad' = 'exact'): Buffer {
  if (v === undefined || v === null) return Buffer.alloc(size ?? 0);
  if (typeof v !== 'string') throw new GenesisError(`${what}: expected a hex string, got ${JSON.stringify(v)}`);
  let h = v.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]*$/.test(h)) throw new GenesisError(`${what}: not hex: ${JSON.stringify(v)}`);
  if (h.length % 2 === 1) h = `0${h}`;
  const b = Buffer.from(h, 'hex');
  if (size === undefined) return b;
  if (b.length === size) return b;
  if (fit === 'pad' && b.length < size) return Buffer.concat([Buffer.alloc(size - b.length), b]);
  throw new GenesisError(`${what}: expected ${size} bytes, got ${b.length}`);
}

/** Big-endian bytes of n without leading zeros (RLP's integers). */
function trim(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

// ---- Merkle-Patricia trie root (yellow paper appendix D), built from sorted keys

function nibbles(key: Buffer): number[] {
  const out: number[] = [];
  for (const b of key) out.push(b >> 4, b & 15);
  return out;
}

/** Hex-prefix encoding of a nibble path. */
function hexPrefix(path: number[], kind: 'leaf' | 'extension'): Buffer {
  const odd = path.length % 2;
  const out = Buffer.alloc(1 + ((path.length - odd) >> 1));
  out[0] = ((kind === 'leaf' ? 2 : 0) + odd) << 4;
  let i = 0;
  if (odd === 1) out[0] |= path[i++];
  for (let o = 1; i < path.length; i += 2, o++) out[o] = (path[i] << 4) | path[i + 1];
  return out;
}

/** A child reference: the node itself when its RLP is under 32 bytes, else its hash. */
function ref(node: RlpInput): RlpInput {
  const enc = encodeRlp(node);
  return enc.length < 32 ? node : keccak256(enc);
}

function node(items: ReadonlyArray<{ path: number[]; value: Buffer }>, depth: number): RlpInput {
  if (items.length === 1) return [hexPrefix(items[0].path.slice(depth), 'leaf'), items[0].value];
  // Shared prefix of all keys from `depth`: an extension node.
  let common = 0;
  const first = items[0].path;
  for (;;) {
    const d = depth + common;
    if (d >= first.length || !items.every((it) => it.path[d] === first[d])) break;
    common++;
  }
  if (common > 0) return [hexPrefix(first.slice(depth, depth + common), 'extension'), ref(node(items, depth + common))];
  const branch: RlpInput[] = [];
  let value: Buffer = Buffer.alloc(0);
  for (let n = 0; n < 16; n++) {
    const sub = items.filter((it) => it.path.length > depth && it.path[depth] === n);
    branch.push(sub.length === 0 ? Buffer.alloc(0) : ref(node(sub, depth + 1)));
  }
  const ended = items.find((it) => it.path.length === depth);
  if (ended !== undefined) value = ended.value;
  branch.push(value);
  return branch;
}

/** The root hash of a trie holding these key/value pairs (keys of equal length, distinct). */
export function trieRoot(pairs: ReadonlyArray<{ key: Buffer; value: Buffer }>): Buffer {
  if (pairs.length === 0) return keccak256(encodeRlp(Buffer.alloc(0)));
  const items = pairs.map((p) => ({ path: nibbles(p.key), value: p.value })).sort((a, b) => {
    for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) if (a.path[i] !== b.path[i]) return a.path[i] - b.path[i];
    return a.path.length - b.path.length;
  });
  return keccak256(encodeRlp(node(items, 0)));
}

const EMPTY_ROOT = trieRoot([]);
const EMPTY_CODE_HASH = keccak256(Buffer.alloc(0));
/** keccak(rlp([])): no uncles; also geth's empty block access list hash. */
const EMPTY_LIST_HASH = keccak256(encodeRlp([]));
/** sha256 of nothing: EIP-7685's requests hash of no requests. */
const EMPTY_REQUESTS_HASH = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex');
/** params.GenesisGasLimit, GenesisDifficulty, InitialBaseFee. */
const GENESIS_GAS_LIMIT = 4712388n;
const GENESIS_DIFFICULTY = 131072n;
const INITIAL_BASE_FEE = 1_000_000_000n;

/** The state root of a genesis alloc. */
export function allocStateRoot(alloc: Obj): Buffer {
  const accounts: Array<{ key: Buffer; value: Buffer }> = [];
  for (const [addrText, acc] of Object.entries(alloc)) {
    const what = `alloc ${addrText}`;
    const addr = hexBytes(addrText, what, 20);
    if (!isObj(acc)) throw new GenesisError(`${what}: expected an object with a balance`);
    const balance = acc.balance === undefined ? 0n : uint(acc.balance, `${what} balance`);
    const nonce = u64(acc.nonce, `${what} nonce`);
    const code = hexBytes(acc.code, `${what} code`);
    const slots: Array<{ key: Buffer; value: Buffer }> = [];
    if (acc.storage !== undefined && acc.storage !== null) {
      if (!isObj(acc.storage)) throw new GenesisError(`${what} storage: expected an object of slot: value`);
      for (const [k, v] of Object.entries(acc.storage)) {
        const value = trim(hexBytes(v, `${what} storage ${k}`, 32, 'pad'));
        // A zero value is no entry at all (geth deletes the slot).
        if (value.length > 0) slots.push({ key: keccak256(hexBytes(k, `${what} storage key ${k}`, 32, 'pad')), value: encodeRlp(value) });
      }
    }
    const codeHash = code.length === 0 ? EMPTY_CODE_HASH : keccak256(code);
    accounts.push({ key: keccak256(addr), value: encodeRlp([nonce, balance, trieRoot(slots), codeHash]) });
  }
  return trieRoot(accounts);
}

/** The fork number of a config field (undefined: not set). */
function forkField(config: Obj, name: string): bigint | undefined {
  const v = config[name];
  if (v === undefined || v === null) return undefined;
  return u64(v, `config.${name}`);
}

/** The genesis block hash of a go-ethereum genesis (geth Genesis.ToBlock). */
export function genesisHash(genesis: Obj): Buffer {
  const config = isObj(genesis.config) ? genesis.config : undefined;
  const alloc = genesis.alloc;
  if (!isObj(alloc)) throw new GenesisError('no "alloc" object: a genesis file needs one (or give --genesis-hash)');
  const time = u64(genesis.timestamp, 'timestamp');
  const number = u64(genesis.number, 'number');
  const at = (name: string, v: bigint) => {
    const f = config === undefined ? undefined : forkField(config, name);
    return f !== undefined && f <= v;
  };
  const london = at('londonBlock', number);
  const timeFork = (name: string) => london && at(name, time);

  const mixHash = hexBytes(genesis.mixHash ?? genesis.mixhash, 'mixHash', 32, 'pad');
  let gasLimit = u64(genesis.gasLimit, 'gasLimit');
  if (gasLimit === 0n) gasLimit = GENESIS_GAS_LIMIT;
  let difficulty: bigint;
  if (genesis.difficulty !== undefined && genesis.difficulty !== null) difficulty = uint(genesis.difficulty, 'difficulty');
  else if (config !== undefined && config.ethash === undefined) difficulty = 0n;
  else difficulty = mixHash.equals(Buffer.alloc(32)) ? GENESIS_DIFFICULTY : 0n;

  const header: RlpInput[] = [
    hexBytes(genesis.parentHash, 'parentHash', 32, 'pad'),
    EMPTY_LIST_HASH,
    hexBytes(genesis.coinbase, 'coinbase', 20, 'pad'),
    allocStateRoot(alloc),
    EMPTY_ROOT,
    EMPTY_ROOT,
    Buffer.alloc(256),
    difficulty,
    number,
    gasLimit,
    u64(genesis.gasUsed, 'gasUsed'),
    time,
    hexBytes(genesis.extraData, 'extraData'),
    mixHash,
    hexBytes(u64(genesis.nonce, 'nonce').toString(16), 'nonce', 8, 'pad'),
  ];
  const baseFee = genesis.baseFeePerGas === undefined || genesis.baseFeePerGas === null ? undefined : uint(genesis.baseFeePerGas, 'baseFeePerGas');
  if (london) header.push(baseFee ?? INITIAL_BASE_FEE);
  else if (baseFee !== undefined) header.push(baseFee);
  if (timeFork('shanghaiTime')) header.push(EMPTY_ROOT);
  if (timeFork('cancunTime')) {
    header.push(u64(genesis.blobGasUsed, 'blobGasUsed'), u64(genesis.excessBlobGas, 'excessBlobGas'), Buffer.alloc(32));
  }
  if (timeFork('pragueTime')) header.push(EMPTY_REQUESTS_HASH);
  if (timeFork('amsterdamTime')) header.push(EMPTY_LIST_HASH, u64(genesis.slotNumber, 'slotNumber'));
  return keccak256(encodeRlp(header));
}

/**
 * The fork schedule of a genesis file's content (or a bare chain config:
 * then `givenHash` is required). `givenHash` wins over the computed one.
 */
export function chainSpec(json: unknown, givenHash?: string): ChainSpec {
  if (!isObj(json)) throw new GenesisError('expected a JSON object (a geth genesis.json or a chain config)');
  const isGenesis = isObj(json.config);
  const config: Obj = isGenesis ? (json.config as Obj) : json;
  if (!isGenesis && !BLOCK_FORKS.some((f) => f in config) && !TIME_FORKS.some((f) => f in config) && !('chainId' in config)) {
    throw new GenesisError('neither a genesis file (no "config") nor a chain config (no chainId or fork fields)');
  }
  let hash: string;
  let hashSource: ChainSpec['hashSource'];
  if (givenHash !== undefined) {
    const h = givenHash.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new GenesisError(`invalid genesis hash ${JSON.stringify(givenHash)}: expected 64 hex digits`);
    hash = h.toLowerCase();
    hashSource = 'given';
  } else if (isGenesis) {
    hash = genesisHash(json).toString('hex');
    hashSource = 'computed';
  } else {
    throw new GenesisError('a chain config has no genesis block to hash: give --genesis-hash, or use the full genesis.json');
  }
  const blocks: number[] = [];
  const times: number[] = [];
  for (const f of BLOCK_FORKS) {
    const v = forkField(config, f);
    if (v !== undefined) blocks.push(safe(v, f));
  }
  for (const f of TIME_FORKS) {
    const v = forkField(config, f);
    if (v !== undefined) times.push(safe(v, f));
  }
  const genesisTime = isGenesis ? safe(u64(json.timestamp, 'timestamp'), 'timestamp') : 0;
  const chainId = config.chainId === undefined ? undefined : Number(uint(config.chainId, 'config.chainId'));
  return { genesisHash: hash, genesisTime, blocks, times, chainId, hashSource };
}

function safe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GenesisError(`${what}: ${v} is too large`);
  return Number(v);
}

/** Reads a genesis file or chain config from disk; GenesisError (naming the file) if it cannot be used. */
export function loadChainSpec(path: string, givenHash?: string): ChainSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new GenesisError(`cannot read genesis file ${path}: ${why}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new GenesisError(`genesis file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return chainSpec(json, givenHash);
  } catch (err) {
    if (err instanceof GenesisError) throw new GenesisError(`genesis file ${path}: ${err.message}`);
    throw err;
  }
}
