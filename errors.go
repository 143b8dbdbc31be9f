package kvstore

import (
	"context"
	"errors"
)

// Sentinel errors. Match them with errors.Is: backends wrap them in an
// *OpError naming the operation and key (ErrLockLeaseExpired from an
// *IfLocked operation excepted, see OpError).
var (
	// ErrLockLeaseExpired fires when an *IfLocked operation finds that the
	// lock is no longer held: its key was deleted or its lease expired.
	// Nothing was read or written.
	ErrLockLeaseExpired = errors.New("transaction did not succeed: lock lease expired")

	// ErrEmptyKey fires when an operation is given an empty key (or
	// LockPath an empty path). An empty key would address the whole store.
	ErrEmptyKey = errors.New("kvstore: empty key")

	// ErrEmptyUser fires when a user-management operation is given an
	// empty user name: etcd would refuse it, and no certificate has an
	// empty common name.
	ErrEmptyUser = errors.New("kvstore: empty user name")

	// ErrValueTooLarge fires before sending a write whose key and value
	// exceed the server's request size limit (1.5 MiB by default, etcd's
	// --max-request-bytes), or a request whose keys and prefixes do (a
	// prefix counts twice: a request carries it as key and range end).
	// Split the value or raise the server limit.
	ErrValueTooLarge = errors.New("kvstore: value too large")

	// ErrClientClosed fires for operations on a client after Close, and
	// for waits (Connected, LockPath) that Close interrupted.
	ErrClientClosed = errors.New("kvstore: client closed")

	// ErrNotConfigured fires when the hive cell is used without --kvstore:
	// the client promise is rejected with it and nothing connects.
	ErrNotConfigured = errors.New("kvstore not configured")

	// ErrUnknownBackend fires when --kvstore names a backend that does not
	// exist. The message lists the known ones.
	ErrUnknownBackend = errors.New("unknown kvstore backend")

	// ErrInvalidOption fires when a --kvstore-opt key is unknown or its
	// value does not parse. The message names the key and the valid keys.
	ErrInvalidOption = errors.New("invalid kvstore option")

	// ErrInvalidConfig fires when the client configuration cannot work:
	// no endpoint, a broken etcd.config file, unusable TLS material.
	ErrInvalidConfig = errors.New("invalid kvstore configuration")

	// ErrForeignLocker fires when an *IfLocked operation is given a lock
	// taken by another backend or client type; its fence means nothing here.
	ErrForeignLocker = errors.New("kvstore: lock was not taken by this backend")

	// ErrInvalidTxn fires before sending a Transactional.Txn that the
	// server would refuse: more than MaxTxnOps comparisons or operations in
	// a branch (MaxLockedTxnOps for a transaction fenced on a lock), a key
	// written twice in one branch, or an unknown Cmp or Op kind. Split the
	// transaction or fix the operations.
	ErrInvalidTxn = errors.New("kvstore: invalid transaction")

	// ErrNotImplemented fires for an operation a backend does not support.
	ErrNotImplemented = errors.New("kvstore: not implemented")

	// ErrClientTimeout is what Hint adds to deadline errors so that callers
	// see the store, not their own code, timed out.
	ErrClientTimeout = errors.New("etcd client timeout exceeded")
)

// Hint makes a deadline error say that the kvstore client timed out. The
// returned error matches both ErrClientTimeout and the original error with
// errors.Is. Other errors, and nil, are returned unchanged.
func Hint(err error) error {
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClientTimeout) {
		return err
	}
	return &timeoutError{cause: err}
}

type timeoutError struct{ cause error }

func (e *timeoutError) Error() string   { return ErrClientTimeout.Error() + ": " + e.cause.Error() }
func (e *timeoutError) Unwrap() []error { return []error{ErrClientTimeout, e.cause} }

// RefusedBeforeSending reports whether err says the operation was refused
// before anything reached the server: an empty key or user name, a value or
// transaction over the server's limits, a lock of another backend, an
// operation the backend does not implement. Such an operation certainly did
// not happen, and sending it again fails the same way, so callers must not
// retry it as it is (split it, fix it, or give up). Every other error,
// including a timeout or ErrClientClosed during a call, leaves the outcome
// unknown: the request may have been applied.
func RefusedBeforeSending(err error) bool {
	for _, sentinel := range refusedSentinels {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// refusedSentinels are the errors a backend returns only before sending.
var refusedSentinels = []error{
	ErrEmptyKey, ErrEmptyUser, ErrValueTooLarge, ErrInvalidTxn, ErrForeignLocker, ErrNotImplemented,
}
