package validate

import (
	"fmt"

	"github.com/hivekv/kvstore"
)

// TxnOpOverhead is what each comparison or operation adds to a transaction
// request besides its key and value (message framing, range end, lease),
// with a margin.
const TxnOpOverhead = 32

// Txn rejects a transaction that the server would refuse or that would
// address the whole store by accident: too many comparisons or operations
// (kvstore.MaxTxnOps per list, etcd's --max-txn-ops), unknown kinds, empty
// keys where a single key is meant, a key written twice in one branch, or a
// request over limit bytes. Prefixes (CmpNoPrefix, OpList) may be empty: the
// empty prefix means every key. It returns the key the error is about, for
// the caller's wrapping.
func Txn(txn kvstore.Txn, limit int) (key string, err error) {
	size := RequestOverhead
	if n := len(txn.If); n > kvstore.MaxTxnOps {
		return "", fmt.Errorf("%w: %d comparisons, at most %d (etcd --max-txn-ops)", kvstore.ErrInvalidTxn, n, kvstore.MaxTxnOps)
	}
	for _, c := range txn.If {
		switch c.Kind {
		case kvstore.CmpKindNoPrefix, kvstore.CmpKindPrefixValue:
		case kvstore.CmpKindValue, kvstore.CmpKindModRevision, kvstore.CmpKindMissing:
			if c.Key == "" {
				return "", kvstore.ErrEmptyKey
			}
		default:
			return c.Key, fmt.Errorf("%w: unknown comparison kind %d", kvstore.ErrInvalidTxn, c.Kind)
		}
		size += len(c.Key) + len(c.Value) + TxnOpOverhead
	}
	for _, branch := range [...]struct {
		name string
		ops  []kvstore.Op
	}{{"then", txn.Then}, {"else", txn.Else}} {
		if n := len(branch.ops); n > kvstore.MaxTxnOps {
			return "", fmt.Errorf("%w: %d operations in the %s branch, at most %d (etcd --max-txn-ops)",
				kvstore.ErrInvalidTxn, n, branch.name, kvstore.MaxTxnOps)
		}
		var written map[string]struct{}
		for _, op := range branch.ops {
			switch op.Kind {
			case kvstore.OpKindList:
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
			size += len(op.Key) + len(op.Value) + TxnOpOverhead
		}
	}
	if size > limit {
		return "", fmt.Errorf("%w: the transaction's keys and values take %d bytes, over the server's request limit of %d bytes "+
			"(etcd --max-request-bytes, 1.5 MiB by default): split it into smaller transactions",
			kvstore.ErrValueTooLarge, size-RequestOverhead, limit-RequestOverhead)
	}
	return "", nil
}
