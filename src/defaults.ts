/**
 * Protocol and service defaults in one place: each with its unit and where
 * geth (p2p/discover, p2p/enode) or reth (crates/net/discv4) sets the same.
 * Modules import their defaults from here, and the CLI's help text is built
 * from these values, so the documentation cannot drift from the code.
 *
 * This module imports nothing: every layer (wire, transport, table, node,
 * cli) may read it.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

// ---- table and lookups ----

/** Kademlia bucket size, and the nodes a findnode answer carries (geth table.go bucketSize, reth MAX_NODES_PER_BUCKET). */
export const BUCKET_SIZE = 16;
/** Replacement entries per bucket (geth maxReplacements). */
export const MAX_REPLACEMENTS = 10;
/** Bucket size a bootnode may ask for (--bucket-size): beyond it a findnode answer's sort would dominate. */
export const MAX_BUCKET_SIZE = 1024;
/** Revalidation: one ping per revalidation list every this many ms on average (geth PingInterval, 3 s). */
export const PING_INTERVAL_MS = 3 * SECOND_MS;
/**
 * Revalidation windows, in ping intervals (ours; geth pings one random
 * node per list per ~3 s whatever the list's length): every node of the
 * fast list (new, moved, or failed once) is pinged within this many
 * intervals (1 min at the 3 s default) ...
 */
export const FAST_REVALIDATION_WINDOW_INTERVALS = 20;
/** ... and every node of the slow list (answered before) within this many (30 min at 3 s) ... */
export const SLOW_REVALIDATION_WINDOW_INTERVALS = 600;
/** ... but never faster than one ping per list per this (a 17 x 1024 table: ~100 pings/s at most while new). */
export const MIN_REVALIDATION_GAP_MS = 10;
/** Lookup concurrency (geth alpha, reth ALPHA). */
export const ALPHA = 3;
/** Table refresh: seeds, a self lookup and three random ones (geth refreshInterval, 30 min; run at a random point of its second half). */
export const REFRESH_INTERVAL_MS = 30 * MINUTE_MS;
/** Nodes read from the DB per refresh (geth seedCount). */
export const SEED_COUNT = 30;
/** Seeds must have answered within this (geth seedMaxAge, 5 days). */
export const SEED_MAX_AGE_MS = 5 * DAY_MS;

// ---- transport ----

/** Time to wait for a reply (geth respTimeout, 500 ms; reth 20 s is for its request lifetimes). */
export const RESP_TIMEOUT_MS = 500;
/** Packet expiration we put in requests, in seconds from now (geth expiration, 20 s). */
export const EXPIRATION_SEC = 20;
/** An endpoint proof (bond) is good for this long (geth bondExpiration, 24 h). */
export const BOND_EXPIRATION_MS = DAY_MS;
/** Past this many failed findnodes a node is re-bonded before we ask it again, and dropped from the table (geth maxFindnodeFailures). */
export const MAX_FINDNODE_FAILURES = 5;
/** A ping-back that got no pong stops further ping-backs to that node and IP for this long, doubling per failure (ours; geth has none). */
export const PINGBACK_BACKOFF_MS = 5 * SECOND_MS;
/** ... up to this. */
export const PINGBACK_BACKOFF_MAX_MS = 5 * MINUTE_MS;
/** Requests awaiting replies at once (ours; geth's is unbounded). */
export const MAX_PENDING = 10_000;
/** Socket receive and send buffers, bytes (ours: room for a burst of 1280-byte datagrams). */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Datagrams queued in the native socket when the kernel's send buffer is full. */
export const MAX_SEND_QUEUE = 4096;

/**
 * Ingress rate limits (datagrams/s) for a public bootnode (ours; geth has
 * none). Per IP they leave room for many nodes behind one NAT address (an
 * honest node pings a few times a minute and sends a findnode now and then);
 * globally, about what two cores verify.
 */
export const RATE_LIMITS = {
  globalPerSec: 40_000,
  ipPerSec: 200,
  pingPerSec: 50,
  findnodePerSec: 20,
  enrRequestPerSec: 20,
  /** Source IPs tracked at once. */
  maxTrackedIps: 100_000,
  /** Refusals of one IP within 10 s that make it "abusive" (auto-ban). */
  abuseThreshold: 5_000,
} as const;

/**
 * The amplification budget per source IP (ours; see README "Security"):
 * bytes sent to an address <= bytes received from it + burstBytes +
 * refillBytesPerSec x t.
 */
export const AMPLIFICATION_LIMITS = {
  burstBytes: 8192,
  /** Allowance kept for pongs when we would ping back. */
  pongReserveBytes: 2048,
  refillBytesPerSec: 256,
  creditTtlMs: 30 * SECOND_MS,
  maxCreditBytes: 65_536,
  maxTrackedIps: 100_000,
} as const;

// ---- node service ----

/** An IP that keeps exceeding the rate limits is banned this long (ours). */
export const AUTO_BAN_MS = HOUR_MS;
/** Known-good nodes kept beyond the table to fill answers (ours; the bootnode CLI's default). */
export const KNOWN_NODES = 100_000;
/** Known nodes are handed out, loaded from the DB and kept only while their last proof of life is within this (the DB's expiry). */
export const KNOWN_MAX_AGE_MS = DAY_MS;
/** A known node is handed out only after a second proof of life at least this long after its first (a throwaway key never is). */
export const KNOWN_VERIFY_AFTER_MS = 10 * MINUTE_MS;
/** Unverified known nodes pinged at once when they come due. */
export const KNOWN_VERIFY_CONCURRENCY = 16;
/** A known node's proof of life is written to the DB at most this often (so it survives a restart). */
export const KNOWN_PERSIST_INTERVAL_MS = HOUR_MS;
/** Our fork id is recomputed this often: a timestamp fork may have passed. */
export const FORK_RECHECK_MS = HOUR_MS;
/** Endpoint prediction: statements older than this are forgotten (geth iptrackWindow, 5 min). */
export const IPTRACK_WINDOW_MS = 5 * MINUTE_MS;
/** ... and no prediction before this many agreeing hosts (geth iptrackMinStatements). */
export const IPTRACK_MIN_STATEMENTS = 10;

// ---- node DB ----

/** Nodes that have not answered a ping for this long are deleted (geth dbNodeExpiration, 24 h). */
export const DB_NODE_EXPIRY_MS = DAY_MS;
/** How often the expiry job runs (geth dbCleanupCycle, 1 h). */
export const DB_EXPIRY_INTERVAL_MS = HOUR_MS;
/** Node writes waiting for the engine before the oldest is dropped (ours). */
export const DB_MAX_PENDING_WRITES = 20_000;

// ---- NAT ----

/** Port mapping lease requested from the gateway, in seconds (geth mapTimeout, 20 min). */
export const NAT_LIFETIME_SEC = 20 * 60;

// ---- bootnode CLI ----

/** UDP port (geth's default listen port). */
export const PORT = 30303;
/** Directory of the node key and DB, relative to the working directory. */
export const DATADIR = 'discv4-data';
/** Log level: 3 = info (geth --verbosity 3). */
export const VERBOSITY = 3;
/** Interval of the status log line. */
export const STATUS_INTERVAL_MS = MINUTE_MS;
/** One-shot commands retry until this long has passed: ping, requestenr, resolve ... */
export const ONESHOT_TIMEOUT_MS = 5 * SECOND_MS;
/** ... and lookup, crawl. */
export const WALK_TIMEOUT_MS = 30 * SECOND_MS;
/** crawl: stop after this many nodes. */
export const CRAWL_MAX_NODES = 10_000;
/** crawl: random lookups at once. */
export const CRAWL_PARALLEL = 1;
/** Time allowed to close the node on SIGINT/SIGTERM before the process exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 5 * SECOND_MS;

/** A duration for help text in the forms the CLI parses: 500ms, 60s, 30m, 24h (seconds up to 2 min, minutes up to 2 h). */
export function formatDuration(ms: number): string {
  if (ms % SECOND_MS !== 0) return `${ms}ms`;
  if (ms <= 2 * MINUTE_MS || ms % MINUTE_MS !== 0) return `${ms / SECOND_MS}s`;
  if (ms <= 2 * HOUR_MS || ms % HOUR_MS !== 0) return `${ms / MINUTE_MS}m`;
  return `${ms / HOUR_MS}h`;
}
