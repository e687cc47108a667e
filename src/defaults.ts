/**
 * Protocol and service defaults in one place: each with its unit and where
 * geth (p2p/discover) or reth (crates/net/discv4) sets the same. Modules
 * import their defaults from here; the CLI's help text reads them too, so
 * the documentation cannot drift from the code.
 */

/** Kademlia bucket size, and the nodes a findnode answer carries (geth table.go bucketSize, reth MAX_NODES_PER_BUCKET). */
export const BUCKET_SIZE = 16;
