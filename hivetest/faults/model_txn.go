package faults

import (
	"strings"

	"github.com/hivekv/kvstore"
)

// verdict is a comparison's value on a model state: it holds, it fails,
// or the model cannot tell (a revision it does not know, lock keys it does
// not track), in which case the store's answer is taken.
type verdict int

const (
	holds verdict = iota
	fails
	either
)

func and(a, b verdict) verdict {
	switch {
	case a == fails || b == fails:
		return fails
	case a == either || b == either:
		return either
	}
	return holds
}

func when(b bool) verdict {
	if b {
		return holds
	}
	return fails
}

func evalCmp(s state, c TxnCmp) verdict {
	e, found := s.kv[c.Key]
	var v verdict
	switch c.Kind {
	case kvstore.CmpKindValue:
		v = when(found && e.value == c.Value)
	case kvstore.CmpKindMissing:
		v = when(!found)
	case kvstore.CmpKindModRevision:
		switch {
		case c.Revision == 0 || !found:
			v = when(c.Revision == 0 && !found)
		case e.rev == 0:
			v = either
		default:
			v = when(e.rev == c.Revision)
		}
	case kvstore.CmpKindNoPrefix:
		if len(s.under(c.Key)) > 0 {
			return fails
		}
		v = holds
	case kvstore.CmpKindPrefixValue:
		keys := s.under(c.Key)
		for _, k := range keys {
			if s.kv[k].value != c.Value {
				return fails
			}
		}
		v = when(len(keys) > 0)
	default:
		return fails
	}
	if c.LockSpace {
		// A lock key the model does not see may be in the range.
		if v == fails && (c.Kind == kvstore.CmpKindNoPrefix || c.Kind == kvstore.CmpKindPrefixValue) {
			return either
		}
		if v == holds {
			return either
		}
	}
	return v
}

// stepTxn is one transaction: under the fence (if any), every comparison
// on state s, then the branch the verdict allows and the response names
// (either, for an unknown outcome), applied in order. It returns every
// state the transaction may leave: more than one only when the outcome is
// unknown and the model cannot tell which branch ran.
func stepTxn(s state, in Input, out Output) []state {
	unknown := out.Outcome == Unknown
	v := holds
	for _, c := range in.Txn.If {
		v = and(v, evalCmp(s, c))
	}
	var next []state
	for _, then := range []bool{true, false} {
		if (then && v == fails) || (!then && v == holds) {
			continue
		}
		if !unknown && out.Succeeded != then {
			continue
		}
		ops := in.Txn.Else
		if then {
			ops = in.Txn.Then
		}
		if ns, ok := applyTxnOps(s, ops, in, out, unknown); ok {
			next = append(next, ns)
		}
	}
	return next
}

// applyTxnOps applies ops in order; for an applied transaction every
// result must match what the model holds at that point. Puts of an applied
// transaction get its revision, so that later CmpModRevision and reads of
// the key can be checked exactly.
func applyTxnOps(s state, ops []TxnOp, in Input, out Output, unknown bool) (state, bool) {
	if !unknown && len(out.Results) != len(ops) {
		return s, false
	}
	var rev uint64
	if !unknown {
		rev = out.Revision
	}
	for i, o := range ops {
		var res TxnResult
		if !unknown {
			res = out.Results[i]
		}
		switch o.Kind {
		case kvstore.OpKindPut:
			s = s.with(o.Key, entry{value: o.Value, rev: rev, lease: leaseOf(o.Lease, in.Client)})
		case kvstore.OpKindDelete:
			_, found := s.kv[o.Key]
			if !unknown && res.Deleted != b2i(found) {
				return s, false
			}
			s = s.without(o.Key)
		case kvstore.OpKindGet:
			if unknown {
				continue
			}
			e, found := s.kv[o.Key]
			switch {
			case !found:
				if len(res.KVs) != 0 {
					return s, false
				}
			case len(res.KVs) != 1 || res.KVs[0].Key != o.Key || res.KVs[0].Value != e.value:
				return s, false
			default:
				var ok bool
				if s, ok = learnRev(s, o.Key, e, res.KVs[0].ModRevision); !ok {
					return s, false
				}
			}
		case kvstore.OpKindList:
			if unknown {
				continue
			}
			if !listMatches(s, o.Key, o.Limit, res.More, res.KVs, o.LockSpace) {
				return s, false
			}
			for _, kv := range res.KVs {
				var ok bool
				if s, ok = learnRev(s, kv.Key, s.kv[kv.Key], kv.ModRevision); !ok {
					return s, false
				}
			}
		}
	}
	return s, true
}

// learnRev checks a read mod revision against the model's and, where the
// model did not know it, learns it.
func learnRev(s state, key string, e entry, rev uint64) (state, bool) {
	switch {
	case rev == 0:
		return s, true
	case e.rev == 0:
		e.rev = rev
		return s.with(key, e), true
	}
	return s, e.rev == rev
}

// listMatches reports whether kvs (lock keys already filtered out) is what
// a list of prefix with limit (0: all) returns on s. With lockSpace the
// store's answer may be cut short by lock keys the model does not see: the
// keys returned must then only be present with their value, in order.
func listMatches(s state, prefix string, limit int, more bool, kvs []KV, lockSpace bool) bool {
	keys := s.under(prefix)
	if lockSpace {
		prev := ""
		for _, kv := range kvs {
			e, ok := s.kv[kv.Key]
			if !ok || e.value != kv.Value || !strings.HasPrefix(kv.Key, prefix) || kv.Key <= prev {
				return false
			}
			prev = kv.Key
		}
		return true
	}
	want := keys
	if limit > 0 && len(keys) > limit {
		want = keys[:limit]
	}
	if len(kvs) != len(want) || (limit > 0 && more != (len(keys) > limit)) {
		return false
	}
	for i, k := range want {
		if kvs[i].Key != k || kvs[i].Value != s.kv[k].value {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
