// Package memory is an in-memory kvstore backend with etcd's semantics:
// revisions, leases with TTL and expiry, locks, fenced operations and
// ListAndWatch. It exists for fast unit tests; it passes the same
// conformance suite as the etcd backend. Clients of one process that name the
// same store share its data, as clients of one etcd cluster do.
//
// Stores: New(name, extra) and client.NewClient(ctx, "in-memory", ...)
// attach to the process-wide store of that name (Open); a test that wants
// isolation makes a private store with NewStore and clients with
// Store.NewClient. The Store also exposes what only a server could do:
// RevokeLease (a lease expiring under a live client), Compact (watchers
// that fell behind list again) and the users.
//
// Where it differs from etcd, on purpose:
//   - Lease TTLs are honoured exactly (etcd rounds to whole seconds and
//     grants at least about 2 s), so expiry tests can use milliseconds.
//   - Leases never expire while their client lives; there are no
//     keepalives to miss. After Close they expire one TTL later.
//   - There is no connection to lose: Connected is closed at once and
//     Disconnected only closes on Close or when the session (lock) lease is
//     revoked.
//   - No rate limiting, no request timeouts, no auth: users are recorded,
//     not enforced.
package memory
