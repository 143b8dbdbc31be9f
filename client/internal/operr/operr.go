package operr

import "github.com/hivekv/kvstore"

// Wrap decorates err with the operation and key as a *kvstore.OpError and
// marks timeouts with kvstore.Hint. A nil err stays nil.
//
// kvstore.ErrLockLeaseExpired itself is returned unwrapped: Cilium v1.16
// returns it bare from *IfLocked operations and its callers compare it with
// ==. Wrapped in more context (a lock acquisition that lost its key) it is
// wrapped as any other cause.
func Wrap(op, key string, err error) error {
	if err == nil || err == kvstore.ErrLockLeaseExpired { // identity, not errors.Is: only the bare sentinel
		return err
	}
	return &kvstore.OpError{Op: op, Key: key, Err: kvstore.Hint(err)}
}
