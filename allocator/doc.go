// Package allocator is the kvstore ID allocator: it gives every key (a
// string in the caller's encoding, such as a security identity's label
// string) one numeric ID, shared by every node of a cluster, and frees IDs
// that no node uses any more.
//
// The key layout is Cilium v1.16's (pkg/kvstore/allocator), so
// processes of both kinds can share one base path B:
//
//	B/id/<ID>               master key, value = the key, no lease
//	B/value/<key>/<node>    slave key of one node, value = decimal ID, on the node's lease
//	B/locks/<key>/<lease>   the key's distributed lock (LockPath(B/locks/<key>))
//
// Backend (NewKVStoreBackend) is Cilium v1.16's method set over any
// kvstore.BackendOperations. Allocator is the node side: local reference
// counts, a cache of B/id/ fed by ListAndWatch, random free IDs, the
// periodic re-creation of this node's keys, and the operator side GC.
//
// Why it is fast: when the backend is kvstore.Transactional, a new key costs
// one transaction (create the master and this node's slave key if the key
// has no slave key, nobody holds its lock and the ID is free) and a
// reference to an existing ID one more (write the slave key if the master
// still names the key and nobody holds its lock). Only a conflict takes
// Cilium v1.16's lock protocol. No allocator-wide mutex is held across a round
// trip: callers of different keys never wait for each other.
//
// Under failure: re-creating this node's keys after a lease loss restores
// only what still belongs to a key (an ID given to another key meanwhile is
// never shared: the key moves to another ID and a Modify Event says so);
// Allocate retries only transient errors; Close waits for the calls in
// progress, and nothing of the Allocator writes after it. GC rounds run only
// when asked for (WithGCInterval); WithoutGC means what it means in
// Cilium's allocator (no local key sync). The default ID range is 256–65535
// (Cilium's pkg/allocator defaults to 1…MaxUint64). docs/allocator.md has
// the details and the option table.
//
// Cell provides a promise.Promise[*Allocator] from the flags
// --allocator-base-path, --allocator-node-name, --allocator-min-id,
// --allocator-max-id, --allocator-gc-interval and --allocator-release-delay.
package allocator
