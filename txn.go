package kvstore

import "context"

// MaxTxnOps is the most comparisons, and the most operations per branch,
// that one transaction may hold: etcd's default --max-txn-ops. Both backends
// refuse a larger transaction with ErrInvalidTxn before sending it.
const MaxTxnOps = 128

// MaxLockedTxnOps is the most comparisons, and the most operations per
// branch, of a transaction fenced on a lock (Txn.Lock): etcd nests it in the
// fence's transaction, which takes one of the MaxTxnOps. Both backends
// refuse a larger fenced transaction with ErrInvalidTxn before sending it.
const MaxLockedTxnOps = MaxTxnOps - 1

// Transactional is the optional capability of a backend to run a small
// conditional multi-operation as one atomic request: if every comparison
// holds, the Then operations run, otherwise the Else operations, all at one
// store revision. Both backends of this module implement it (on etcd it is
// one Txn request, under one rate-limit slot). Code that needs it checks for
// it with a type assertion and falls back to single operations (and the
// locks that make them safe) when a backend lacks it:
//
//	if tx, ok := backend.(kvstore.Transactional); ok { ... }
//
// The ID allocator creates a new ID with it in one round trip, and the
// shared store flushes batches of writes with it.
type Transactional interface {
	// Txn runs txn. A nil error means the transaction was applied: the
	// response says which branch ran and carries the results of its
	// operations. An error other than a validation error (ErrEmptyKey,
	// ErrValueTooLarge, ErrInvalidTxn, ErrForeignLocker, all raised before
	// anything is sent) leaves the outcome unknown: the transaction may
	// have been applied.
	//
	// Puts with Lease attach their key to the client's shared data lease,
	// as Update(lease=true) does; a key whose put did not run (the other
	// branch was taken) is not booked on the lease. A put whose lease
	// vanished on the server is retried once on a fresh lease, as Update
	// is: the server applied nothing the first time.
	//
	// With txn.Lock set, the whole transaction runs only while that lock is
	// held; otherwise Txn returns ErrLockLeaseExpired itself (unwrapped, as
	// the *IfLocked operations do) and nothing ran, neither branch.
	Txn(ctx context.Context, txn Txn) (*TxnResponse, error)
}

// Txn is a conditional multi-operation. A key may be written (put or
// deleted) at most once per branch, as etcd demands.
type Txn struct {
	// If holds the comparisons; all must hold for Then to run. An empty If
	// always holds.
	If []Cmp
	// Then runs when every comparison holds.
	Then []Op
	// Else runs otherwise; reads here tell the caller why If failed.
	Else []Op
	// Lock, when set, fences the transaction on a lock from LockPath of
	// the same client.
	Lock KVLocker
}

// CmpKind says what a Cmp checks.
type CmpKind uint8

const (
	// CmpKindValue holds when the key exists and its value equals Value.
	CmpKindValue CmpKind = iota + 1
	// CmpKindModRevision holds when the key's last write was at Revision;
	// Revision 0 means the key does not exist.
	CmpKindModRevision
	// CmpKindMissing holds when the key does not exist.
	CmpKindMissing
	// CmpKindNoPrefix holds when no key starts with Key (used as a
	// prefix). An empty prefix means every key of the store.
	CmpKindNoPrefix
	// CmpKindPrefixValue holds when at least one key starts with Key (used
	// as a prefix) and every such key holds exactly Value.
	CmpKindPrefixValue
)

// Cmp is one comparison of a Txn. Build it with the Cmp* constructors.
type Cmp struct {
	Kind     CmpKind
	Key      string
	Value    []byte
	Revision uint64
}

// CmpValue holds when key exists and holds exactly value.
func CmpValue(key string, value []byte) Cmp {
	return Cmp{Kind: CmpKindValue, Key: key, Value: value}
}

// CmpModRevision holds when key was last written at revision rev (a
// Value.ModRevision); rev 0 holds when key does not exist.
func CmpModRevision(key string, rev uint64) Cmp {
	return Cmp{Kind: CmpKindModRevision, Key: key, Revision: rev}
}

// CmpMissing holds when key does not exist.
func CmpMissing(key string) Cmp { return Cmp{Kind: CmpKindMissing, Key: key} }

// CmpNoPrefix holds when no key starts with prefix.
func CmpNoPrefix(prefix string) Cmp { return Cmp{Kind: CmpKindNoPrefix, Key: prefix} }

// CmpPrefixValue holds when some key starts with prefix and every key that
// does holds exactly value (as etcd compares a value over a key range: an
// empty range never holds).
func CmpPrefixValue(prefix string, value []byte) Cmp {
	return Cmp{Kind: CmpKindPrefixValue, Key: prefix, Value: value}
}

// OpKind says what an Op does.
type OpKind uint8

const (
	// OpKindPut writes Key = Value, with the client's lease if Lease.
	OpKindPut OpKind = iota + 1
	// OpKindDelete deletes Key; a missing key is not an error.
	OpKindDelete
	// OpKindGet reads Key.
	OpKindGet
	// OpKindList reads the keys starting with Key (a prefix, "" = every
	// key), in key order, at most Limit of them (0 = all).
	OpKindList
)

// Op is one operation of a Txn branch. Build it with the Op* constructors.
type Op struct {
	Kind  OpKind
	Key   string
	Value []byte
	Lease bool
	Limit int
}

// OpPut writes key = value; with lease the key is attached to the client's
// shared data lease.
func OpPut(key string, value []byte, lease bool) Op {
	return Op{Kind: OpKindPut, Key: key, Value: value, Lease: lease}
}

// OpDelete deletes key.
func OpDelete(key string) Op { return Op{Kind: OpKindDelete, Key: key} }

// OpGet reads key.
func OpGet(key string) Op { return Op{Kind: OpKindGet, Key: key} }

// OpList reads at most limit keys starting with prefix (limit 0: all).
func OpList(prefix string, limit int) Op { return Op{Kind: OpKindList, Key: prefix, Limit: limit} }

// TxnResponse is the outcome of an applied Txn.
type TxnResponse struct {
	// Succeeded reports that every comparison held and Then ran.
	Succeeded bool
	// Revision is the store revision the transaction ran at: the revision
	// of its writes, or the current one if it wrote nothing.
	Revision uint64
	// Results has one entry per operation of the branch that ran, in order.
	Results []OpResult
}

// OpResult is the result of one Op.
type OpResult struct {
	// KVs holds what a Get or List read, in key order (empty for a missing
	// key or an empty prefix; nil for puts and deletes).
	KVs []KeyValue
	// More reports that a List stopped at its Limit with keys left.
	More bool
	// Deleted counts the keys a Delete removed (0 or 1).
	Deleted int
}

// KeyValue is a key read by a transaction, with its value and metadata.
type KeyValue struct {
	Key string
	Value
}
