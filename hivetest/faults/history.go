package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// Kind names a recorded operation.
type Kind string

// The operations the model knows. Lock, Unlock and Revoke change who holds
// the lock; the *IfLocked kinds are fenced on the holder.
const (
	KindGet                       Kind = "Get"
	KindUpdate                    Kind = "Update"
	KindDelete                    Kind = "Delete"
	KindCreateOnly                Kind = "CreateOnly"
	KindUpdateIfDifferent         Kind = "UpdateIfDifferent"
	KindGetIfLocked               Kind = "GetIfLocked"
	KindUpdateIfLocked            Kind = "UpdateIfLocked"
	KindDeleteIfLocked            Kind = "DeleteIfLocked"
	KindCreateOnlyIfLocked        Kind = "CreateOnlyIfLocked"
	KindUpdateIfDifferentIfLocked Kind = "UpdateIfDifferentIfLocked"
	KindLock                      Kind = "Lock"
	KindUnlock                    Kind = "Unlock"
	// KindRevoke is the fault kit revoking the lease of a lock key: the
	// lock whose key is Input.LockKey is lost.
	KindRevoke Kind = "Revoke"
)

// fenced reports whether k is an *IfLocked operation.
func (k Kind) fenced() bool {
	switch k {
	case KindGetIfLocked, KindUpdateIfLocked, KindDeleteIfLocked, KindCreateOnlyIfLocked, KindUpdateIfDifferentIfLocked:
		return true
	}
	return false
}

// lockOp reports whether k changes the lock holder.
func (k Kind) lockOp() bool { return k == KindLock || k == KindUnlock || k == KindRevoke }

// read reports whether k has no effect on the store.
func (k Kind) read() bool { return k == KindGet || k == KindGetIfLocked }

// Outcome is what is known about whether an operation took effect.
type Outcome int

const (
	// OK: the server answered; Output holds the answer.
	OK Outcome = iota
	// Unknown: the operation failed after its request may have reached
	// the server (timeout, unavailable, leader change, cancelled). It may
	// have taken effect at any time after its call, or never.
	Unknown
	// Failed: the operation was refused before anything was sent (invalid
	// input, client closed before the call). It did not happen.
	Failed
)

func (o Outcome) String() string {
	return [...]string{"ok", "unknown", "failed"}[o]
}

// Input is an operation's arguments.
type Input struct {
	Kind  Kind
	Key   string
	Value string
	// Lock is the token of the lock a fenced op, Lock or Unlock uses:
	// the lock key and its create revision, "path/6a1b@42".
	Lock string
	// LockKey is the lock key a Revoke removed.
	LockKey string
}

// Output is an operation's result.
type Output struct {
	Outcome Outcome
	// Value and Found are what a read returned.
	Value string
	Found bool
	// Wrote is the boolean of CreateOnly and UpdateIfDifferent.
	Wrote bool
	// LockLost: a fenced operation returned ErrLockLeaseExpired.
	LockLost bool
	// Err is the error text, for reports.
	Err string
}

// Op is one recorded operation. Call and Return are nanoseconds since the
// recorder started; Return of an Unknown op is meaningless (infinite).
type Op struct {
	Worker int
	Input  Input
	Output Output
	Call   int64
	Return int64
}

// Recorder records the operations of any number of workers.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewRecorder starts a history at time zero.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

// Ops returns a copy of the history so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

func (r *Recorder) add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Record runs fn as operation in of worker and records it with the outcome
// that classify gives its error. Kits use it for faults that the model must
// see, such as a revoked lock lease.
func (r *Recorder) Record(worker int, in Input, fn func() (Output, error)) error {
	call := r.now()
	out, err := fn()
	ret := r.now()
	if err != nil {
		out.Err = err.Error()
		out.Outcome = classify(err, false)
	}
	r.add(Op{Worker: worker, Input: in, Output: out, Call: call, Return: ret})
	return err
}

// classify decides what an operation's error says about its effect. Only
// errors raised before the request is sent prove that nothing happened;
// ErrClientClosed does so only when the client was closed before the call
// began (closedBefore), since a Close during the call cancels a request
// that may already be on the wire.
func classify(err error, closedBefore bool) Outcome {
	switch {
	case err == nil:
		return OK
	case kvstore.RefusedBeforeSending(err):
		return Failed
	case errors.Is(err, kvstore.ErrClientClosed) && closedBefore:
		return Failed
	}
	return Unknown
}

// Lock is a held lock as the recorder knows it.
type Lock struct {
	kvstore.KVLocker
	// Token names this holding: lock key and create revision.
	Token string
	// Key is the etcd lock key, path/<lease hex>.
	Key string
}

// lockToken reads the fence of an etcd lock: the key and create revision
// its *IfLocked transactions compare.
func lockToken(l kvstore.KVLocker) (token, key string, err error) {
	var cmp *pb.Compare
	switch c := l.Comparator().(type) {
	case clientv3.Cmp:
		cmp = c.GetCompare()
	case *clientv3.Cmp:
		cmp = c.GetCompare()
	}
	if cmp == nil {
		return "", "", fmt.Errorf("faults: lock comparator %T is not an etcd comparison", l.Comparator())
	}
	return fmt.Sprintf("%s@%d", cmp.Key, cmp.GetCreateRevision()), string(cmp.Key), nil
}

// Client is a BackendOperations whose key operations are recorded as
// worker's. Close marks the client closed for classify.
type Client struct {
	kvstore.BackendOperations
	r      *Recorder
	worker int

	mu       sync.Mutex
	closedAt int64 // 0 while open
}

// Wrap returns b with its operations recorded as worker's.
func (r *Recorder) Wrap(worker int, b kvstore.BackendOperations) *Client {
	return &Client{BackendOperations: b, r: r, worker: worker}
}

// Close closes the client and remembers when, so that later ErrClientClosed
// errors count as "did not happen".
func (c *Client) Close() {
	c.mu.Lock()
	if c.closedAt == 0 {
		c.closedAt = c.r.now()
	}
	c.mu.Unlock()
	c.BackendOperations.Close()
}

func (c *Client) closedBefore(call int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedAt != 0 && c.closedAt <= call
}

// do records one operation. fn fills the output of a successful call.
func (c *Client) do(in Input, fn func(out *Output) error) error {
	call := c.r.now()
	var out Output
	err := fn(&out)
	ret := c.r.now()
	if errors.Is(err, kvstore.ErrLockLeaseExpired) && in.Kind.fenced() {
		// The fence was evaluated by the server and failed: a definite
		// answer, nothing was read or written.
		out = Output{LockLost: true, Err: err.Error()}
		err = nil
		c.r.add(Op{Worker: c.worker, Input: in, Output: out, Call: call, Return: ret})
		return kvstore.ErrLockLeaseExpired
	}
	if err != nil {
		out = Output{Outcome: classify(err, c.closedBefore(call)), Err: err.Error()}
	}
	c.r.add(Op{Worker: c.worker, Input: in, Output: out, Call: call, Return: ret})
	return err
}

// Get records kvstore Get.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.do(Input{Kind: KindGet, Key: key}, func(out *Output) (err error) {
		v, err = c.BackendOperations.Get(ctx, key)
		out.Value, out.Found = string(v), v != nil
		return err
	})
	return v, err
}

// Update records kvstore Update.
func (c *Client) Update(ctx context.Context, key string, value []byte, lease bool) error {
	return c.do(Input{Kind: KindUpdate, Key: key, Value: string(value)}, func(*Output) error {
		return c.BackendOperations.Update(ctx, key, value, lease)
	})
}

// Delete records kvstore Delete.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.do(Input{Kind: KindDelete, Key: key}, func(*Output) error {
		return c.BackendOperations.Delete(ctx, key)
	})
}

// CreateOnly records kvstore CreateOnly.
func (c *Client) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	var wrote bool
	err := c.do(Input{Kind: KindCreateOnly, Key: key, Value: string(value)}, func(out *Output) (err error) {
		wrote, err = c.BackendOperations.CreateOnly(ctx, key, value, lease)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// UpdateIfDifferent records kvstore UpdateIfDifferent.
func (c *Client) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	var wrote bool
	err := c.do(Input{Kind: KindUpdateIfDifferent, Key: key, Value: string(value)}, func(out *Output) (err error) {
		wrote, err = c.BackendOperations.UpdateIfDifferent(ctx, key, value, lease)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// LockPath records a successful acquisition as a Lock operation. A failed
// one is not recorded: it returns no locker, so no fenced operation can use
// it, and whatever key it may have left only delays other holders.
func (c *Client) LockPath(ctx context.Context, path string) (*Lock, error) {
	call := c.r.now()
	l, err := c.BackendOperations.LockPath(ctx, path)
	ret := c.r.now()
	if err != nil {
		return nil, err
	}
	token, key, err := lockToken(l)
	if err != nil {
		_ = l.Unlock(ctx)
		return nil, err
	}
	c.r.add(Op{Worker: c.worker, Input: Input{Kind: KindLock, Lock: token, LockKey: key}, Call: call, Return: ret})
	return &Lock{KVLocker: l, Token: token, Key: key}, nil
}

// Unlock records the release of l.
func (c *Client) Unlock(ctx context.Context, l *Lock) error {
	return c.do(Input{Kind: KindUnlock, Lock: l.Token, LockKey: l.Key}, func(*Output) error {
		return l.Unlock(ctx)
	})
}

// GetIfLocked records kvstore GetIfLocked.
func (c *Client) GetIfLocked(ctx context.Context, key string, l *Lock) ([]byte, error) {
	var v []byte
	err := c.do(Input{Kind: KindGetIfLocked, Key: key, Lock: l.Token}, func(out *Output) (err error) {
		v, err = c.BackendOperations.GetIfLocked(ctx, key, l.KVLocker)
		out.Value, out.Found = string(v), v != nil
		return err
	})
	return v, err
}

// UpdateIfLocked records kvstore UpdateIfLocked.
func (c *Client) UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, l *Lock) error {
	return c.do(Input{Kind: KindUpdateIfLocked, Key: key, Value: string(value), Lock: l.Token}, func(*Output) error {
		return c.BackendOperations.UpdateIfLocked(ctx, key, value, lease, l.KVLocker)
	})
}

// DeleteIfLocked records kvstore DeleteIfLocked.
func (c *Client) DeleteIfLocked(ctx context.Context, key string, l *Lock) error {
	return c.do(Input{Kind: KindDeleteIfLocked, Key: key, Lock: l.Token}, func(*Output) error {
		return c.BackendOperations.DeleteIfLocked(ctx, key, l.KVLocker)
	})
}

// CreateOnlyIfLocked records kvstore CreateOnlyIfLocked.
func (c *Client) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, l *Lock) (bool, error) {
	var wrote bool
	err := c.do(Input{Kind: KindCreateOnlyIfLocked, Key: key, Value: string(value), Lock: l.Token}, func(out *Output) (err error) {
		wrote, err = c.BackendOperations.CreateOnlyIfLocked(ctx, key, value, lease, l.KVLocker)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}

// UpdateIfDifferentIfLocked records kvstore UpdateIfDifferentIfLocked.
func (c *Client) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, l *Lock) (bool, error) {
	var wrote bool
	err := c.do(Input{Kind: KindUpdateIfDifferentIfLocked, Key: key, Value: string(value), Lock: l.Token}, func(out *Output) (err error) {
		wrote, err = c.BackendOperations.UpdateIfDifferentIfLocked(ctx, key, value, lease, l.KVLocker)
		out.Wrote = wrote
		return err
	})
	return wrote, err
}
