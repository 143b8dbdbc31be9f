// Package backoff spaces out retries: exponentially growing waits with
// jitter, bounded below and above, that end early when the caller's ctx ends.
//
// Retries against a store that is already struggling (no leader, too many
// requests, quorum loss) must not arrive in lockstep from thousands of
// clients: the growth gives the server room, the jitter breaks the lockstep.
//
// It is the module's one backoff: the etcd client (watch relists, quorum
// checks, lock release), the allocator's allocation retries and the shared
// store's per-key retries all space their retries with it.
package backoff
