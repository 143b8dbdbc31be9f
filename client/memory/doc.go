// Package memory is an in-memory kvstore backend with etcd's semantics:
// revisions, leases with TTL and expiry, locks, fenced operations and
// ListAndWatch. It exists for fast unit tests; it passes the same
// conformance suite as the etcd backend. Clients of one process that name the
// same store share its data, as clients of one etcd cluster do.
package memory
