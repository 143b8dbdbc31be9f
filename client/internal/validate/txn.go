package validate

import (
	"fmt"
	"strings"

	"github.com/hivekv/kvstore"
)

// TxnOpOverhead is what each comparison or operation adds to a transaction
// request besides its key and value (message framing, range end, lease),
// with a margin.
const TxnOpOverhead = 32

// Txn rejects a transaction that the server would refuse or that would
// address the whole store by accident: too many comparisons or operations
// (kvstore.MaxTxnOps per list, etcd's --max-txn-ops, or
// kvstore.MaxLockedTxnOps when fenced on a lock), unknown kinds, empty keys
// where a single key is meant, a key written twice in one branch, or a
// request over limit bytes. Prefixes (CmpNoPrefix, OpList) may be empty: the
// empty prefix means every key. fenceKey is the lock key the fence of a
// locked transaction compares (txn.Lock set), for the size. It returns the
// key the error is about, for the caller's wrapping.
//
// Both backends apply it with the same arguments, so that they accept and
// refuse exactly the same transactions.
func Txn(txn kvstore.Txn, limit int, fenceKey string) (key string, err error) {
	size := RequestOverhead
	maxOps, fenced := kvstore.MaxTxnOps, ""
	if txn.Lock != nil {
		// etcd nests a fenced transaction in the fence's: the outer
		// one takes one of --max-txn-ops, and carries the fence's
		// comparison and the nested request.
		maxOps = kvstore.MaxLockedTxnOps
		fenced = " of a transaction fenced on a lock (the fence takes one)"
		size += fenceSize(fenceKey) + 2*TxnOpOverhead
	}
	if n := len(txn.If); n > maxOps {
		return "", fmt.Errorf("%w: %d comparisons, at most %d%s (etcd --max-txn-ops)", kvstore.ErrInvalidTxn, n, maxOps, fenced)
	}
	for _, c := range txn.If {
		keySize := len(c.Key)
		switch c.Kind {
		case kvstore.CmpKindNoPrefix, kvstore.CmpKindPrefixValue:
			keySize = rangeSize(c.Key)
		case kvstore.CmpKindValue, kvstore.CmpKindModRevision, kvstore.CmpKindMissing:
			if c.Key == "" {
				return "", kvstore.ErrEmptyKey
			}
		default:
			return c.Key, fmt.Errorf("%w: unknown comparison kind %d", kvstore.ErrInvalidTxn, c.Kind)
		}
		size += keySize + len(c.Value) + TxnOpOverhead
	}
	for _, branch := range [...]struct {
		name string
		ops  []kvstore.Op
	}{{"then", txn.Then}, {"else", txn.Else}} {
		if n := len(branch.ops); n > maxOps {
			return "", fmt.Errorf("%w: %d operations in the %s branch, at most %d%s (etcd --max-txn-ops)",
				kvstore.ErrInvalidTxn, n, branch.name, maxOps, fenced)
		}
		var written map[string]struct{}
		for _, op := range branch.ops {
			keySize := len(op.Key)
			switch op.Kind {
			case kvstore.OpKindList:
				keySize = rangeSize(op.Key)
				if op.Limit < 0 {
					return op.Key, fmt.Errorf("%w: negative list limit %d", kvstore.ErrInvalidTxn, op.Limit)
				}
			case kvstore.OpKindGet:
				if op.Key == "" {
					return "", kvstore.ErrEmptyKey
				}
			case kvstore.OpKindPut, kvstore.OpKindDelete:
				if op.Key == "" {
					return "", kvstore.ErrEmptyKey
				}
				if written == nil {
					written = make(map[string]struct{}, len(branch.ops))
				}
				if _, dup := written[op.Key]; dup {
					return op.Key, fmt.Errorf("%w: the key is written twice in the %s branch; etcd allows one write per key",
						kvstore.ErrInvalidTxn, branch.name)
				}
				written[op.Key] = struct{}{}
			default:
				return op.Key, fmt.Errorf("%w: unknown operation kind %d", kvstore.ErrInvalidTxn, op.Kind)
			}
			size += keySize + len(op.Value) + TxnOpOverhead
		}
	}
	if size > limit {
		return "", fmt.Errorf("%w: the transaction's keys and values take %d bytes, over the server's request limit of %d bytes "+
			"(etcd --max-request-bytes, 1.5 MiB by default): split it into smaller transactions",
			kvstore.ErrValueTooLarge, size-RequestOverhead, limit-RequestOverhead)
	}
	return "", nil
}

// rangeSize is what a prefix takes in a request: the key and the range end,
// as long as the key ("\x00" twice for the empty prefix, every key).
func rangeSize(prefix string) int {
	return 2 * max(len(prefix), 1)
}

// fenceSize is what the fence's lock key takes in a request, counted the
// same on both backends: the lock path, "/" and a lease ID of 16 hex digits,
// the longest (the backends' IDs differ in length).
func fenceSize(fenceKey string) int {
	if i := strings.LastIndexByte(fenceKey, '/'); i >= 0 {
		return i + 17
	}
	return len(fenceKey) + 17
}
