package faults

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hivekv/kvstore"
)

// TxnInput is a recorded kvstore.Txn. Values are strings so that recorded
// histories compare and print plainly.
type TxnInput struct {
	If   []TxnCmp `json:",omitempty"`
	Then []TxnOp  `json:",omitempty"`
	Else []TxnOp  `json:",omitempty"`
}

// TxnCmp is a recorded kvstore.Cmp.
type TxnCmp struct {
	Kind     kvstore.CmpKind
	Key      string
	Value    string `json:",omitempty"`
	Revision uint64 `json:",omitempty"`
	// LockSpace is set by the checker (not the recorder) when the
	// comparison covers lock keys, which the model does not track.
	LockSpace bool `json:"-"`
}

// TxnOp is a recorded kvstore.Op.
type TxnOp struct {
	Kind  kvstore.OpKind
	Key   string
	Value string `json:",omitempty"`
	Lease bool   `json:",omitempty"`
	Limit int    `json:",omitempty"`
	// LockSpace: as for TxnCmp, on a List.
	LockSpace bool `json:"-"`
}

// TxnResult is a recorded kvstore.OpResult.
type TxnResult struct {
	KVs     []KV `json:",omitempty"`
	More    bool `json:",omitempty"`
	Deleted int  `json:",omitempty"`
}

// KV is a key read by a list or a transaction. ModRevision 0 means not
// known (ListPrefix of a backend that gives none).
type KV struct {
	Key         string
	Value       string
	ModRevision uint64 `json:",omitempty"`
}

func recordTxn(txn kvstore.Txn) *TxnInput {
	in := &TxnInput{}
	for _, c := range txn.If {
		in.If = append(in.If, TxnCmp{Kind: c.Kind, Key: c.Key, Value: string(c.Value), Revision: c.Revision})
	}
	ops := func(ops []kvstore.Op) []TxnOp {
		var out []TxnOp
		for _, o := range ops {
			out = append(out, TxnOp{Kind: o.Kind, Key: o.Key, Value: string(o.Value), Lease: o.Lease, Limit: o.Limit})
		}
		return out
	}
	in.Then, in.Else = ops(txn.Then), ops(txn.Else)
	return in
}

func recordTxnResponse(resp *kvstore.TxnResponse, out *Output) {
	out.Succeeded, out.Revision = resp.Succeeded, resp.Revision
	out.Results = make([]TxnResult, len(resp.Results))
	for i, r := range resp.Results {
		res := TxnResult{More: r.More, Deleted: r.Deleted}
		for _, kv := range r.KVs {
			res.KVs = append(res.KVs, KV{Key: kv.Key, Value: string(kv.Data), ModRevision: kv.ModRevision})
		}
		out.Results[i] = res
	}
}

// keys returns the keys and the prefixes a transaction reads or writes.
func (t *TxnInput) keys() (keys, prefixes []string) {
	for _, c := range t.If {
		switch c.Kind {
		case kvstore.CmpKindNoPrefix, kvstore.CmpKindPrefixValue:
			prefixes = append(prefixes, c.Key)
		default:
			keys = append(keys, c.Key)
		}
	}
	for _, ops := range [][]TxnOp{t.Then, t.Else} {
		for _, o := range ops {
			if o.Kind == kvstore.OpKindList {
				prefixes = append(prefixes, o.Key)
			} else {
				keys = append(keys, o.Key)
			}
		}
	}
	return keys, prefixes
}

// writes returns the branch's puts and deletes as effects.
func branchEffects(ops []TxnOp, certain bool) []effect {
	var out []effect
	for _, o := range ops {
		switch o.Kind {
		case kvstore.OpKindPut:
			out = append(out, effect{key: o.Key, value: o.Value, certain: certain})
		case kvstore.OpKindDelete:
			out = append(out, effect{key: o.Key, del: true, certain: certain})
		}
	}
	return out
}

var cmpNames = map[kvstore.CmpKind]string{
	kvstore.CmpKindValue: "value", kvstore.CmpKindModRevision: "modrev", kvstore.CmpKindMissing: "missing",
	kvstore.CmpKindNoPrefix: "noprefix", kvstore.CmpKindPrefixValue: "prefixvalue",
}

var opNames = map[kvstore.OpKind]string{
	kvstore.OpKindPut: "put", kvstore.OpKindDelete: "del", kvstore.OpKindGet: "get", kvstore.OpKindList: "list",
}

func describeTxn(t *TxnInput) string {
	var parts []string
	for _, c := range t.If {
		s := fmt.Sprintf("%s(%s", cmpNames[c.Kind], c.Key)
		switch c.Kind {
		case kvstore.CmpKindValue, kvstore.CmpKindPrefixValue:
			s += fmt.Sprintf("=%q", c.Value)
		case kvstore.CmpKindModRevision:
			s += fmt.Sprintf("@%d", c.Revision)
		}
		parts = append(parts, s+")")
	}
	ops := func(ops []TxnOp) string {
		var s []string
		for _, o := range ops {
			x := fmt.Sprintf("%s(%s", opNames[o.Kind], o.Key)
			if o.Kind == kvstore.OpKindPut {
				x += fmt.Sprintf("=%q", o.Value)
				if o.Lease {
					x += ",lease"
				}
			}
			if o.Limit > 0 {
				x += fmt.Sprintf(",%d", o.Limit)
			}
			s = append(s, x+")")
		}
		return strings.Join(s, " ")
	}
	return fmt.Sprintf("if [%s] then [%s] else [%s]", strings.Join(parts, " "), ops(t.Then), ops(t.Else))
}

func describeResults(out Output) string {
	var s []string
	for _, r := range out.Results {
		var kvs []string
		for _, kv := range r.KVs {
			kvs = append(kvs, fmt.Sprintf("%s=%q@%d", kv.Key, kv.Value, kv.ModRevision))
		}
		x := "{" + strings.Join(kvs, ",") + "}"
		if r.More {
			x += "+more"
		}
		if r.Deleted > 0 {
			x += fmt.Sprintf(" deleted %d", r.Deleted)
		}
		s = append(s, x)
	}
	branch := "else"
	if out.Succeeded {
		branch = "then"
	}
	return fmt.Sprintf("%s @%d %s", branch, out.Revision, strings.Join(s, " "))
}

// sortedKVs turns a ListPrefix answer into KVs in key order.
func sortedKVs(pairs kvstore.KeyValuePairs) []KV {
	out := make([]KV, 0, len(pairs))
	for _, k := range slices.Sorted(maps.Keys(pairs)) {
		out = append(out, KV{Key: k, Value: string(pairs[k].Data), ModRevision: pairs[k].ModRevision})
	}
	return out
}
