package faults

import (
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
// the lock of a path; the *IfLocked kinds, and a Txn with a lock, are
// fenced on the holder.
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
	// KindListPrefix reads every key under Input.Key (a prefix).
	KindListPrefix Kind = "ListPrefix"
	// KindDeletePrefix deletes every key under Input.Key (a prefix).
	KindDeletePrefix Kind = "DeletePrefix"
	// KindTxn is kvstore.Transactional.Txn; Input.Txn holds it and
	// Input.Lock its fence, if any.
	KindTxn    Kind = "Txn"
	KindLock   Kind = "Lock"
	KindUnlock Kind = "Unlock"
	// KindLockAttempt is a LockPath that failed: it changes nothing the
	// model knows, but its path holds lock keys (of waiters, or left until
	// their lease goes) that prefix comparisons and lists may see.
	KindLockAttempt Kind = "LockAttempt"
	// KindRevoke is the fault kit revoking the lease of a lock key: the
	// lock whose key is Input.LockKey is lost.
	KindRevoke Kind = "Revoke"
	// KindLeaseExpire is the data lease of Input.Client running out after
	// that client was cut off: every key still attached to it goes. Its
	// call is when the client was cut off (no expiry can come earlier), its
	// return when the lease was seen gone.
	KindLeaseExpire Kind = "LeaseExpire"
)

// fenced reports whether the operation runs only while in.Lock holds.
func (in Input) fenced() bool {
	switch in.Kind {
	case KindGetIfLocked, KindUpdateIfLocked, KindDeleteIfLocked, KindCreateOnlyIfLocked, KindUpdateIfDifferentIfLocked:
		return true
	case KindTxn:
		return in.Lock != ""
	}
	return false
}

// lockOp reports whether k changes (or may name) a lock holder.
func (k Kind) lockOp() bool {
	return k == KindLock || k == KindUnlock || k == KindRevoke || k == KindLockAttempt
}

// read reports whether k has no effect on the store.
func (k Kind) read() bool { return k == KindGet || k == KindGetIfLocked || k == KindListPrefix }

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
	Kind Kind
	// Key is the key, or the prefix of ListPrefix and DeletePrefix.
	Key   string
	Value string
	// Lock is the token of the lock a fenced op, Lock or Unlock uses:
	// the lock key and its create revision, "path/6a1b@42".
	Lock string
	// LockKey is the lock key a Lock, Unlock or Revoke is about; a
	// LockAttempt has only the path, in Key.
	LockKey string
	// Lease: the write attaches its key to the lease of Client, the
	// recorded backend that issued it (distinct per client).
	Lease  bool   `json:",omitempty"`
	Client string `json:",omitempty"`
	// Txn is the transaction of a KindTxn.
	Txn *TxnInput `json:",omitempty"`
	// LockHeld: the lock's lease could not expire on its own in this
	// run (Recorder.LocksHold), so a fenced operation may report the lock
	// lost only once its holding ended (superseded, unlocked, revoked).
	LockHeld bool `json:",omitempty"`
	// LockSpace is set by the checker on a ListPrefix whose range covers
	// lock keys (see annotate).
	LockSpace bool `json:"-"`
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
	// KVs is what ListPrefix returned, in key order.
	KVs []KV `json:",omitempty"`
	// Succeeded, Revision and Results are an applied Txn's response.
	Succeeded bool
	Revision  uint64
	Results   []TxnResult `json:",omitempty"`
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
	// LocksHold says that no lock lease can expire unseen in this run
	// (no fault stops keepalives; revocations are recorded): a fenced
	// operation reporting a lost lock whose holding had not ended is then
	// a violation (a spurious ErrLockLeaseExpired). Set before recording.
	LocksHold bool

	mu      sync.Mutex
	ops     []Op
	clients int
	watches []*RecordedWatch
}

// NewRecorder starts a history at time zero.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// nextClient names a new recorded backend.
func (r *Recorder) nextClient() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients++
	return fmt.Sprintf("c%d", r.clients)
}

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
