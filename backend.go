package kvstore

import "context"

// BackendOperations is what every backend implements: the etcd client and the
// in-memory backend used by fast unit tests. Both pass the same conformance
// suite (conformance.Run in package hivetest/conformance), so code written against this interface
// behaves the same on either.
//
// Keys are non-empty strings, values are bytes. Every method that can block
// takes a ctx and returns ctx's error (possibly wrapped by Hint) once it is
// done. All methods are safe for concurrent use.
type BackendOperations interface {
	// Connected returns a channel that is closed once the client is
	// connected and the store has quorum. If ctx ends first, or the client
	// is closed first, the channel receives that error instead and is then
	// closed. Each call starts an independent wait.
	Connected(ctx context.Context) <-chan error

	// Disconnected returns a channel that is closed when the client loses
	// its connection session (the lock lease expired or the client was
	// closed). The channel belongs to the current session: after a
	// reconnection call Disconnected again.
	Disconnected() <-chan struct{}

	// Status returns a snapshot of the client's health with a one-line
	// summary. It never blocks on the network.
	Status() *Status

	// StatusCheckErrors delivers the errors of failing periodic status
	// checks. Sends are non-blocking: a consumer that does not read loses
	// errors, never the checker's progress. The channel is closed by Close.
	StatusCheckErrors() <-chan error

	// LockPath takes the lock for path: first a process-local mutex, then a
	// distributed lock under the prefix path (the etcd key is
	// path/<lease id hex>). It waits only for holders and waiters of exactly
	// path: locks on paths below it (path/sub) and above it are
	// independent, although their keys share the prefix. It gives up after
	// one minute or when ctx ends, leaving neither a key nor the local
	// mutex behind. The caller must Unlock the returned locker.
	LockPath(ctx context.Context, path string) (KVLocker, error)

	// Get returns the value of key, or (nil, nil) if the key does not exist.
	// An existing key always gives a non-nil slice, empty for an empty
	// value, so that nil means "missing" and nothing else.
	Get(ctx context.Context, key string) ([]byte, error)

	// GetIfLocked is Get, run only while lock is still held; otherwise it
	// returns ErrLockLeaseExpired.
	GetIfLocked(ctx context.Context, key string, lock KVLocker) ([]byte, error)

	// Delete deletes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// DeleteIfLocked is Delete, run only while lock is still held;
	// otherwise it returns ErrLockLeaseExpired and deletes nothing.
	DeleteIfLocked(ctx context.Context, key string, lock KVLocker) error

	// DeletePrefix deletes every key that starts with path. An empty path
	// deletes every key of the store (the empty prefix means every key for
	// every operation that takes a prefix).
	DeletePrefix(ctx context.Context, path string) error

	// Update creates or overwrites key. With lease=true the key is attached
	// to the client's shared session lease and vanishes when the lease
	// expires (see RegisterLeaseExpiredObserver). With lease=false a key
	// that was on a lease leaves it, and its lease's end is no longer
	// reported as its loss. Every write that carries a value accepts any
	// value Update accepts.
	Update(ctx context.Context, key string, value []byte, lease bool) error

	// UpdateIfLocked is Update, run only while lock is still held;
	// otherwise it returns ErrLockLeaseExpired and writes nothing.
	UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, lock KVLocker) error

	// UpdateIfDifferent writes key unless it already holds value (and, with
	// lease=true, is attached to this client's current lease for the key).
	// It reports whether it wrote.
	UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error)

	// UpdateIfDifferentIfLocked is UpdateIfDifferent, run only while lock
	// is still held; otherwise it returns (false, ErrLockLeaseExpired).
	UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock KVLocker) (bool, error)

	// CreateOnly creates key if it does not exist. It returns (false, nil)
	// and leaves the stored value untouched when the key exists.
	CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error)

	// CreateOnlyIfLocked is CreateOnly, run only while lock is still held.
	// An existing key gives (false, nil); a lost lock gives
	// (false, ErrLockLeaseExpired).
	CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, lock KVLocker) (bool, error)

	// ListPrefix returns every key that starts with prefix, read
	// linearizably in one request.
	ListPrefix(ctx context.Context, prefix string) (KeyValuePairs, error)

	// ListPrefixIfLocked is ListPrefix, run only while lock is still held;
	// otherwise it returns ErrLockLeaseExpired.
	ListPrefixIfLocked(ctx context.Context, prefix string, lock KVLocker) (KeyValuePairs, error)

	// Close stops the client's background work and releases its
	// connection. Data leases are not revoked: leased keys stay until their
	// TTL runs out, so a restarting process does not make its keys flap.
	// Lock leases are revoked (best effort, within a second): a closed
	// client holds no lock, and its waiters need not wait out the lock TTL.
	// Operations after Close fail with ErrClientClosed. Close is idempotent.
	Close()

	// ListAndWatch lists prefix, then watches it; see Watcher for the
	// order and guarantees of the events. chanSize is the buffer of
	// Watcher.Events.
	ListAndWatch(ctx context.Context, prefix string, chanSize int) *Watcher

	// RegisterLeaseExpiredObserver registers fn to be called with every key
	// starting with prefix that was lost because its lease expired. A
	// client keeps one such observer per prefix (the reference's
	// semantics): registering again for the same prefix replaces it, and a
	// nil fn removes the observer of that prefix, whoever registered it.
	// Observers run on a background goroutine and must not block for long.
	//
	// Code that may be replaced by another instance on the same client and
	// prefix (a store, an allocator) uses ObserveLeaseExpired instead, so
	// that the old instance's cleanup cannot remove the new one's observer.
	RegisterLeaseExpiredObserver(prefix string, fn func(key string))

	// ObserveLeaseExpired registers fn, like RegisterLeaseExpiredObserver,
	// for every key starting with prefix lost because its lease expired,
	// but as a registration of its own: any number may watch one prefix,
	// and each is removed only by calling the stop function it returned.
	// RegisterLeaseExpiredObserver(prefix, nil) does not remove it. stop is
	// idempotent and may be called from fn; once it has returned, fn is
	// not called again, except for a call already begun. A nil fn
	// registers nothing (stop does nothing). fn runs on a background
	// goroutine and must not block for long.
	ObserveLeaseExpired(prefix string, fn func(key string)) (stop func())

	BackendOperationsUserMgmt
}

// BackendOperationsUserMgmt manages the users of the store (etcd RBAC).
type BackendOperationsUserMgmt interface {
	// UserEnforcePresence creates the user if it is missing (without a
	// password: it authenticates with a client certificate whose common
	// name is the user name) and grants it every role in roles. A user
	// that already exists is not an error.
	UserEnforcePresence(ctx context.Context, name string, roles []string) error

	// UserEnforceAbsence deletes the user. A missing user is not an error.
	UserEnforceAbsence(ctx context.Context, name string) error
}

// UserRoleRevoker is implemented by backends that can take roles away from
// a user without deleting it; both backends of this module do. It is a
// separate interface because BackendOperationsUserMgmt is Cilium v1.16's,
// which can only grant: a caller shrinking a user's roles checks for it and
// otherwise has to delete and recreate the user, who is then absent for a
// moment.
type UserRoleRevoker interface {
	// UserRevokeRoles revokes every role in roles from the user. A role
	// the user does not have, or a missing user, is not an error.
	UserRevokeRoles(ctx context.Context, name string, roles []string) error
}

// KVLocker is a held lock returned by LockPath.
type KVLocker interface {
	// Unlock releases the lock. It always releases the process-local
	// mutex, even when the distributed key cannot be removed (then the key
	// goes with its lease and the error is returned). Unlock is
	// idempotent.
	Unlock(ctx context.Context) error

	// Comparator returns the backend-specific fence that the *IfLocked
	// operations put in their transaction. It is only meaningful to the
	// backend that created the lock.
	Comparator() any
}
