package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hivekv/kvstore"
)

// Backend is a kvstore.BackendOperations and kvstore.Transactional whose
// key operations, locks and transactions are recorded as one worker's. It
// is what code under test (the allocator, the shared store) is given, so
// that its every write is in the history the model checks. Watches,
// status and user management pass through unrecorded; so does ListPrefix
// unless RecordLists (a recorded list joins every key under its prefix
// into one part of the check, which costs time on big key spaces).
type Backend struct {
	kvstore.BackendOperations
	// RecordLists records ListPrefix calls.
	RecordLists bool

	r      *Recorder
	worker int
	id     string // the lease owner the model knows this backend by

	mu       sync.Mutex
	closedAt int64 // 0 while open
}

// WrapBackend returns b with its operations recorded as worker's.
func (r *Recorder) WrapBackend(worker int, b kvstore.BackendOperations) *Backend {
	return &Backend{BackendOperations: b, r: r, worker: worker, id: r.nextClient()}
}

var _ interface {
	kvstore.BackendOperations
	kvstore.Transactional
} = (*Backend)(nil)

// Close closes the backend and remembers when, so that later
// ErrClientClosed errors count as "did not happen".
func (b *Backend) Close() {
	b.mu.Lock()
	if b.closedAt == 0 {
		b.closedAt = b.r.now()
	}
	b.mu.Unlock()
	b.BackendOperations.Close()
}

func (b *Backend) closedBefore(call int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closedAt != 0 && b.closedAt <= call
}

// do records one operation. fn fills the output of a successful call.
func (b *Backend) do(in Input, fn func(out *Output) error) error {
	in.LockHeld = in.fenced() && b.r.LocksHold
	call := b.r.now()
	var out Output
	err := fn(&out)
	ret := b.r.now()
	if errors.Is(err, kvstore.ErrLockLeaseExpired) && in.fenced() {
		// The fence was evaluated by the server and failed: a definite
		// answer, nothing was read or written.
		b.r.add(Op{Worker: b.worker, Input: in, Output: Output{LockLost: true, Err: err.Error()}, Call: call, Return: ret})
		return err
	}
	if err != nil {
		out = Output{Outcome: classify(err, b.closedBefore(call)), Err: err.Error()}
	}
	b.r.add(Op{Worker: b.worker, Input: in, Output: out, Call: call, Return: ret})
	return err
}

// recLocker is a lock taken through a Backend: its Unlock is recorded.
type recLocker struct {
	kvstore.KVLocker
	b          *Backend
	token, key string
}

func (l *recLocker) Unlock(ctx context.Context) error {
	return l.b.do(Input{Kind: KindUnlock, Lock: l.token, LockKey: l.key}, func(*Output) error {
		return l.KVLocker.Unlock(ctx)
	})
}

// fence returns the backend's own locker behind l and the token the model
// knows it by ("" for a nil lock: the call is then not fenced).
func fence(l kvstore.KVLocker) (kvstore.KVLocker, string) {
	if rl, ok := l.(*recLocker); ok {
		return rl.KVLocker, rl.token
	}
	if l == nil {
		return nil, ""
	}
	token, _, err := lockToken(l)
	if err != nil {
		return l, "unknown-lock"
	}
	return l, token
}

// fenced returns the kind to record for a call with lock token: the
// *IfLocked kind, or the plain one when there is no lock.
func fencedKind(token string, fenced, plain Kind) Kind {
	if token == "" {
		return plain
	}
	return fenced
}

// LockPath records a successful acquisition as Lock and a failed one as
// LockAttempt (its path may hold lock keys meanwhile).
func (b *Backend) LockPath(ctx context.Context, path string) (kvstore.KVLocker, error) {
	call := b.r.now()
	l, err := b.BackendOperations.LockPath(ctx, path)
	ret := b.r.now()
	if err != nil {
		b.r.add(Op{Worker: b.worker, Input: Input{Kind: KindLockAttempt, Key: path}, Output: Output{Err: err.Error()}, Call: call, Return: ret})
		return nil, err
	}
	token, key, err := lockToken(l)
	if err != nil {
		_ = l.Unlock(ctx)
		return nil, err
	}
	b.r.add(Op{Worker: b.worker, Input: Input{Kind: KindLock, Lock: token, LockKey: key}, Call: call, Return: ret})
	return &recLocker{KVLocker: l, b: b, token: token, key: key}, nil
}

// Get records kvstore Get.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := b.do(Input{Kind: KindGet, Key: key}, func(out *Output) (err error) {
		v, err = b.BackendOperations.Get(ctx, key)
		out.Value, out.Found = string(v), v != nil
		return err
	})
	return v, err
}

// GetIfLocked records kvstore GetIfLocked.
func (b *Backend) GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) ([]byte, error) {
	inner, token := fence(lock)
	var v []byte
	err := b.do(Input{Kind: fencedKind(token, KindGetIfLocked, KindGet), Key: key, Lock: token}, func(out *Output) (err error) {
		v, err = b.BackendOperations.GetIfLocked(ctx, key, inner)
		out.Value, out.Found = string(v), v != nil
		return err
	})
	return v, err
}

// Update records kvstore Update.
func (b *Backend) Update(ctx context.Context, key string, value []byte, lease bool) error {
	return b.do(Input{Kind: KindUpdate, Key: key, Value: string(value), Lease: lease, Client: b.id}, func(*Output) error {
		return b.BackendOperations.Update(ctx, key, value, lease)
	})
}

// UpdateIfLocked records kvstore UpdateIfLocked.
func (b *Backend) UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) error {
	inner, token := fence(lock)
	return b.do(Input{Kind: fencedKind(token, KindUpdateIfLocked, KindUpdate), Key: key, Value: string(value), Lease: lease, Client: b.id, Lock: token}, func(*Output) error {
		return b.BackendOperations.UpdateIfLocked(ctx, key, value, lease, inner)
	})
}

// Delete records kvstore Delete.
func (b *Backend) Delete(ctx context.Context, key string) error {
	return b.do(Input{Kind: KindDelete, Key: key}, func(*Output) error {
		return b.BackendOperations.Delete(ctx, key)
	})
}

// DeleteIfLocked records kvstore DeleteIfLocked.
func (b *Backend) DeleteIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) error {
	inner, token := fence(lock)
	return b.do(Input{Kind: fencedKind(token, KindDeleteIfLocked, KindDelete), Key: key, Lock: token}, func(*Output) error {
		return b.BackendOperations.DeleteIfLocked(ctx, key, inner)
	})
}

// DeletePrefix records kvstore DeletePrefix.
func (b *Backend) DeletePrefix(ctx context.Context, prefix string) error {
	return b.do(Input{Kind: KindDeletePrefix, Key: prefix}, func(*Output) error {
		return b.BackendOperations.DeletePrefix(ctx, prefix)
	})
}

// CreateOnly records kvstore CreateOnly.
func (b *Backend) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	var wrote bool
	err := b.do(Input{Kind: KindCreateOnly, Key: key, Value: string(value), Lease: lease, Client: b.id}, func(out *Output) (err error) {
		wrote, err = b.BackendOperations.CreateOnly(ctx, key, value, lease)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// CreateOnlyIfLocked records kvstore CreateOnlyIfLocked.
func (b *Backend) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	inner, token := fence(lock)
	var wrote bool
	err := b.do(Input{Kind: fencedKind(token, KindCreateOnlyIfLocked, KindCreateOnly), Key: key, Value: string(value), Lease: lease, Client: b.id, Lock: token}, func(out *Output) (err error) {
		wrote, err = b.BackendOperations.CreateOnlyIfLocked(ctx, key, value, lease, inner)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// UpdateIfDifferent records kvstore UpdateIfDifferent.
func (b *Backend) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	var wrote bool
	err := b.do(Input{Kind: KindUpdateIfDifferent, Key: key, Value: string(value), Lease: lease, Client: b.id}, func(out *Output) (err error) {
		wrote, err = b.BackendOperations.UpdateIfDifferent(ctx, key, value, lease)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// UpdateIfDifferentIfLocked records kvstore UpdateIfDifferentIfLocked.
func (b *Backend) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	inner, token := fence(lock)
	var wrote bool
	err := b.do(Input{Kind: fencedKind(token, KindUpdateIfDifferentIfLocked, KindUpdateIfDifferent), Key: key, Value: string(value), Lease: lease, Client: b.id, Lock: token}, func(out *Output) (err error) {
		wrote, err = b.BackendOperations.UpdateIfDifferentIfLocked(ctx, key, value, lease, inner)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// ListPrefix records kvstore ListPrefix when RecordLists is set.
func (b *Backend) ListPrefix(ctx context.Context, prefix string) (kvstore.KeyValuePairs, error) {
	if !b.RecordLists {
		return b.BackendOperations.ListPrefix(ctx, prefix)
	}
	var pairs kvstore.KeyValuePairs
	err := b.do(Input{Kind: KindListPrefix, Key: prefix}, func(out *Output) (err error) {
		pairs, err = b.BackendOperations.ListPrefix(ctx, prefix)
		out.KVs = sortedKVs(pairs)
		return err
	})
	return pairs, err
}

// ListPrefixIfLocked passes through, with the lock unwrapped.
func (b *Backend) ListPrefixIfLocked(ctx context.Context, prefix string, lock kvstore.KVLocker) (kvstore.KeyValuePairs, error) {
	inner, _ := fence(lock)
	return b.BackendOperations.ListPrefixIfLocked(ctx, prefix, inner)
}

// Txn records kvstore.Transactional Txn with its response, or with an
// unknown outcome when it failed after sending.
func (b *Backend) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	tx, ok := b.BackendOperations.(kvstore.Transactional)
	if !ok {
		return nil, fmt.Errorf("faults: backend %T is not kvstore.Transactional", b.BackendOperations)
	}
	inner, token := fence(txn.Lock)
	txn.Lock = inner
	var resp *kvstore.TxnResponse
	err := b.do(Input{Kind: KindTxn, Txn: recordTxn(txn), Lock: token, Client: b.id}, func(out *Output) (err error) {
		resp, err = tx.Txn(ctx, txn)
		if err == nil {
			recordTxnResponse(resp, out)
		}
		return err
	})
	return resp, err
}

// RecordedWatch is the event stream of one ListAndWatch through a Backend,
// as the backend delivered it to the code under test.
type RecordedWatch struct {
	Prefix string
	mu     sync.Mutex
	events []WatchEvent
}

// Events returns the events delivered so far.
func (w *RecordedWatch) Events() []WatchEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WatchEvent(nil), w.events...)
}

// Watches returns the watches made through the recorder's backends.
func (r *Recorder) Watches() []*RecordedWatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*RecordedWatch(nil), r.watches...)
}

// ListAndWatch records the events of the backend's watcher as they pass
// to the caller: a goroutine between the two forwards every event and
// stops the backend's watcher when the caller stops its own.
func (b *Backend) ListAndWatch(ctx context.Context, prefix string, chanSize int) *kvstore.Watcher {
	inner := b.BackendOperations.ListAndWatch(ctx, prefix, chanSize)
	outer := kvstore.NewWatcher(prefix, chanSize)
	rw := &RecordedWatch{Prefix: prefix}
	b.r.mu.Lock()
	b.r.watches = append(b.r.watches, rw)
	b.r.mu.Unlock()
	go func() {
		defer outer.Finish()
		defer inner.Stop()
		for {
			select {
			case ev, ok := <-inner.Events:
				if !ok {
					return
				}
				rw.mu.Lock()
				rw.events = append(rw.events, WatchEvent{Typ: ev.Typ, Key: ev.Key, Value: string(ev.Value)})
				rw.mu.Unlock()
				if !outer.Emit(ctx, ev) {
					return
				}
			case <-outer.Stopping():
				return
			}
		}
	}()
	return outer
}
