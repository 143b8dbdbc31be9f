package txnlease

import "github.com/hivekv/kvstore"

// Branch says which branch of a transaction ran.
type Branch int

const (
	// NoBranch: the transaction was not applied (a refused fence, or an
	// error known to have happened before the server applied anything).
	NoBranch Branch = iota
	// ThenBranch: every comparison held.
	ThenBranch
	// ElseBranch: some comparison failed.
	ElseBranch
)

// Plan is the lease of every operation of a transaction. ID is the
// backend's lease identifier; its zero value means "no lease".
type Plan[ID comparable] struct {
	// Then and Else hold one lease per operation of the branch (zero for
	// operations other than leased puts).
	Then, Else []ID
	// fresh lists the keys this plan attached, per branch.
	fresh [2][]string
}

// Prepare attaches the key of every leased put to a lease through attach,
// which reports whether it attached the key now (fresh) rather than finding
// it attached by an earlier write. On error, the keys attached so far are
// released again and nothing stays booked.
func Prepare[ID comparable](txn kvstore.Txn, attach func(key string) (ID, bool, error), release func(key string)) (*Plan[ID], error) {
	p := &Plan[ID]{}
	for b, ops := range [2][]kvstore.Op{txn.Then, txn.Else} {
		var ids []ID
		for i, op := range ops {
			if op.Kind != kvstore.OpKindPut || !op.Lease {
				continue
			}
			id, fresh, err := attach(op.Key)
			if err != nil {
				p.Settle(txn, NoBranch, release)
				return nil, err
			}
			if ids == nil {
				ids = make([]ID, len(ops))
			}
			ids[i] = id
			if fresh {
				p.fresh[b] = append(p.fresh[b], op.Key)
			}
		}
		if b == 0 {
			p.Then = ids
		} else {
			p.Else = ids
		}
	}
	return p, nil
}

// Leases returns the distinct leases of the plan.
func (p *Plan[ID]) Leases() []ID {
	var zero ID
	var out []ID
	for _, ids := range [2][]ID{p.Then, p.Else} {
		for _, id := range ids {
			if id == zero {
				continue
			}
			dup := false
			for _, o := range out {
				if o == id {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, id)
			}
		}
	}
	return out
}

// Settle fixes the bookkeeping once it is known which branch ran: keys
// attached for the puts of a branch that did not run are released, and so
// are the keys that the branch that ran deleted or wrote without a lease.
// Call it only for a known outcome; after an unknown one, leave the plan.
func (p *Plan[ID]) Settle(txn kvstore.Txn, ran Branch, release func(key string)) {
	var ops []kvstore.Op
	switch ran {
	case ThenBranch:
		ops = txn.Then
	case ElseBranch:
		ops = txn.Else
	}
	for b, keys := range p.fresh {
		if Branch(b+1) == ran {
			continue
		}
		for _, k := range keys {
			// Both branches may put the same key with the lease: the
			// attachment made for the other branch serves this one.
			if !leasedPut(ops, k) {
				release(k)
			}
		}
	}
	for _, op := range ops {
		if op.Kind == kvstore.OpKindDelete || (op.Kind == kvstore.OpKindPut && !op.Lease) {
			release(op.Key)
		}
	}
}

func leasedPut(ops []kvstore.Op, key string) bool {
	for _, op := range ops {
		if op.Kind == kvstore.OpKindPut && op.Lease && op.Key == key {
			return true
		}
	}
	return false
}
