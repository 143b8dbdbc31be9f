package memory

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/txnlease"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// Txn implements kvstore.Transactional: the comparisons, the fence and the
// branch run under the store lock, at one revision, as one etcd transaction
// does. The branch's leases are checked before anything is written, so a
// vanished lease fails the whole transaction with nothing applied, and it is
// retried once on fresh leases like Update.
func (c *client) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	// The same checks in the same order as the etcd client: the lock's
	// backend, the transaction, then the client's state.
	var f *fence
	var fenceKey string
	if txn.Lock != nil {
		held, err := c.fenceOf(txn.Lock)
		if err != nil {
			return nil, wrapOp("txn", "", err)
		}
		f, fenceKey = &held, held.key
	}
	if key, err := validate.Txn(txn, c.maxRequestBytes, fenceKey); err != nil {
		return nil, wrapOp("txn", key, err)
	}
	if err := c.begin(ctx); err != nil {
		return nil, wrapOp("txn", "", err)
	}
	attach := func(key string) (int64, bool, error) {
		id, _, fresh, err := c.leases.attach(key)
		return id, fresh, err
	}
	for attempt := 0; ; attempt++ {
		plan, err := txnlease.Prepare(txn, attach, c.leases.Release)
		if err != nil {
			return nil, wrapOp("txn", "", err)
		}
		resp, ran, err := c.store.txn(txn, plan, f)
		var lost *leaseNotFoundError
		if err != nil && errors.As(err, &lost) && attempt == 0 {
			plan.Settle(txn, txnlease.NoBranch, c.leases.Release)
			c.leases.CancelIfExpired(err, lost.id)
			continue
		}
		plan.Settle(txn, ran, c.leases.Release)
		if errors.Is(err, kvstore.ErrLockLeaseExpired) {
			return nil, kvstore.ErrLockLeaseExpired
		}
		if err != nil {
			return nil, wrapOp("txn", "", err)
		}
		return resp, nil
	}
}

// txn applies txn atomically and reports which branch ran.
func (s *Store) txn(txn kvstore.Txn, plan *txnlease.Plan[int64], f *fence) (*kvstore.TxnResponse, txnlease.Branch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil && !f.heldLocked() {
		return nil, txnlease.NoBranch, kvstore.ErrLockLeaseExpired
	}
	ran, ops, leases := txnlease.ElseBranch, txn.Else, plan.Else
	if s.holdsLocked(txn.If) {
		ran, ops, leases = txnlease.ThenBranch, txn.Then, plan.Then
	}
	writes := false
	for i, op := range ops {
		switch op.Kind {
		case kvstore.OpKindPut:
			writes = true
			if leases != nil {
				if err := s.checkLeaseLocked(leases[i]); err != nil {
					return nil, txnlease.NoBranch, err
				}
			}
		case kvstore.OpKindDelete:
			if _, ok := s.kvs[op.Key]; ok {
				writes = true
			}
		}
	}
	if writes {
		s.rev++
	}
	resp := &kvstore.TxnResponse{Succeeded: ran == txnlease.ThenBranch, Results: make([]kvstore.OpResult, len(ops))}
	for i, op := range ops {
		switch op.Kind {
		case kvstore.OpKindPut:
			var lease int64
			if leases != nil {
				lease = leases[i]
			}
			s.writeLocked(op.Key, op.Value, lease)
		case kvstore.OpKindDelete:
			if _, ok := s.kvs[op.Key]; ok {
				s.removeLocked(op.Key)
				resp.Results[i].Deleted = 1
			}
		case kvstore.OpKindGet:
			resp.Results[i].KVs = []kvstore.KeyValue{}
			if e, ok := s.kvs[op.Key]; ok {
				resp.Results[i].KVs = append(resp.Results[i].KVs, kvOf(op.Key, e))
			}
		case kvstore.OpKindList:
			resp.Results[i] = s.rangeLocked(op.Key, op.Limit)
		}
	}
	resp.Revision = uint64(s.rev)
	return resp, ran, nil
}

// holdsLocked reports whether every comparison holds.
func (s *Store) holdsLocked(cmps []kvstore.Cmp) bool {
	for _, c := range cmps {
		e, exists := s.kvs[c.Key]
		var ok bool
		switch c.Kind {
		case kvstore.CmpKindValue:
			ok = exists && bytes.Equal(e.value, c.Value)
		case kvstore.CmpKindModRevision:
			if exists {
				ok = uint64(e.mod) == c.Revision
			} else {
				ok = c.Revision == 0
			}
		case kvstore.CmpKindMissing:
			ok = !exists
		case kvstore.CmpKindNoPrefix:
			ok = !s.anyWithPrefixLocked(c.Key)
		case kvstore.CmpKindPrefixValue:
			ok = s.allWithPrefixHoldLocked(c.Key, c.Value)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Store) anyWithPrefixLocked(prefix string) bool {
	for k := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// allWithPrefixHoldLocked reports whether some key starts with prefix and
// every such key holds value.
func (s *Store) allWithPrefixHoldLocked(prefix string, value []byte) bool {
	found := false
	for k, e := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			if !bytes.Equal(e.value, value) {
				return false
			}
			found = true
		}
	}
	return found
}

// rangeLocked reads the keys under prefix in key order, at most limit of
// them (0: all).
func (s *Store) rangeLocked(prefix string, limit int) kvstore.OpResult {
	keys := s.keysLocked(prefix)
	res := kvstore.OpResult{KVs: make([]kvstore.KeyValue, 0, len(keys))}
	if limit > 0 && len(keys) > limit {
		keys, res.More = keys[:limit], true
	}
	for _, k := range keys {
		res.KVs = append(res.KVs, kvOf(k, s.kvs[k]))
	}
	return res
}

// kvOf copies an entry for a reader. An existing key with an empty value
// gives an empty, non-nil Data, so that it cannot be mistaken for a missing
// key.
func kvOf(key string, e *entry) kvstore.KeyValue {
	return kvstore.KeyValue{Key: key, Value: kvstore.Value{Data: valueOf(e), ModRevision: uint64(e.mod), LeaseID: e.lease}}
}
