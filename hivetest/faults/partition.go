package faults

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/hivekv/kvstore"
)

// partitionHistory splits a history into parts that can be checked on their own:
// a history is linearizable if every part is, as long as no operation
// spans parts. Keys are joined when one operation touches both (a
// transaction), and a prefix (a list, DeletePrefix, a prefix comparison)
// joins every key of the history under it. The lock operations of a path
// are copied into every part with a fenced operation on that path; that
// can only miss a violation across parts, never invent one.
func partitionHistory(history []porcupine.Operation) [][]porcupine.Operation {
	uf := unionFind{}
	type touch struct{ keys, prefixes []string }
	touches := make([]touch, len(history))
	allKeys := map[string]bool{}
	for i, op := range history {
		in := op.Input.(Input)
		var t touch
		switch {
		case in.Kind.lockOp() || in.Kind == KindLeaseExpire:
		case in.Kind == KindTxn:
			t.keys, t.prefixes = in.Txn.keys()
		case in.Kind == KindListPrefix || in.Kind == KindDeletePrefix:
			t.prefixes = []string{in.Key}
		default:
			t.keys = []string{in.Key}
		}
		for _, k := range t.keys {
			allKeys[k] = true
		}
		touches[i] = t
	}
	keys := slices.Sorted(maps.Keys(allKeys))
	for _, t := range touches {
		nodes := make([]string, 0, len(t.keys)+len(t.prefixes))
		for _, k := range t.keys {
			nodes = append(nodes, "k"+k)
		}
		for _, p := range t.prefixes {
			nodes = append(nodes, "p"+p)
			// keys is sorted: the keys under p are one run of it.
			for i, _ := slices.BinarySearch(keys, p); i < len(keys) && strings.HasPrefix(keys[i], p); i++ {
				uf.union("p"+p, "k"+keys[i])
			}
		}
		for _, n := range nodes[min(1, len(nodes)):] {
			uf.union(nodes[0], n)
		}
	}

	byRoot := map[string][]porcupine.Operation{}
	paths := map[string]map[string]bool{} // root -> lock paths of its fenced ops
	lockOps := map[string][]porcupine.Operation{}
	leased := map[string]map[string]bool{} // root -> clients whose leases its writes use
	expiries := map[string][]porcupine.Operation{}
	var roots []string
	for i, op := range history {
		in := op.Input.(Input)
		if in.Kind == KindLeaseExpire {
			expiries[in.Client] = append(expiries[in.Client], op)
			continue
		}
		if in.Kind.lockOp() {
			if in.Kind == KindLockAttempt {
				continue
			}
			p := lockPath(in.LockKey)
			if in.Lock != "" {
				p = lockPath(in.Lock)
			}
			lockOps[p] = append(lockOps[p], op)
			continue
		}
		var node string
		switch t := touches[i]; {
		case len(t.keys) > 0:
			node = "k" + t.keys[0]
		case len(t.prefixes) > 0:
			node = "p" + t.prefixes[0]
		default:
			node = "-" // a transaction without keys: its fence, if any, is all it checks
		}
		root := uf.find(node)
		if _, ok := byRoot[root]; !ok {
			roots = append(roots, root)
		}
		byRoot[root] = append(byRoot[root], op)
		if usesLease(in) {
			if leased[root] == nil {
				leased[root] = map[string]bool{}
			}
			leased[root][in.Client] = true
		}
		if in.fenced() {
			if paths[root] == nil {
				paths[root] = map[string]bool{}
			}
			paths[root][lockPath(in.Lock)] = true
		}
	}
	slices.Sort(roots)
	parts := make([][]porcupine.Operation, 0, len(roots))
	for _, root := range roots {
		part := byRoot[root]
		for _, p := range slices.Sorted(maps.Keys(paths[root])) {
			part = append(slices.Clone(lockOps[p]), part...)
		}
		for _, c := range slices.Sorted(maps.Keys(leased[root])) {
			part = append(slices.Clone(expiries[c]), part...)
		}
		parts = append(parts, part)
	}
	return parts
}

// usesLease reports whether in may attach a key to its client's lease.
func usesLease(in Input) bool {
	if in.Lease {
		return true
	}
	if in.Kind == KindTxn {
		for _, ops := range [][]TxnOp{in.Txn.Then, in.Txn.Else} {
			for _, o := range ops {
				if o.Lease {
					return true
				}
			}
		}
	}
	return false
}

type unionFind map[string]string

func (u unionFind) find(x string) string {
	for {
		p, ok := u[x]
		if !ok || p == x {
			return x
		}
		if gp, ok := u[p]; ok {
			u[x] = gp
		}
		x = p
	}
}

func (u unionFind) union(a, b string) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u[rb] = ra
	}
}

// porcupineHistory turns recorded ops into porcupine operations. Reads that
// failed tell nothing and are dropped, as are ops that did not happen; ops
// with an unknown outcome return after everything else. Comparisons and
// lists whose range covers lock keys are marked (annotate).
func porcupineHistory(ops []Op) []porcupine.Operation {
	ops = annotate(ops)
	var last int64
	for _, op := range ops {
		last = max(last, op.Return)
	}
	infinity := last + int64(math.MaxInt32)
	var out []porcupine.Operation
	for _, op := range ops {
		switch op.Output.Outcome {
		case Failed:
			continue
		case Unknown:
			if op.Input.Kind.read() {
				continue
			}
			op.Return = infinity
		}
		if op.Input.Kind == KindLockAttempt {
			continue
		}
		out = append(out, porcupine.Operation{ClientId: op.Worker, Input: op.Input, Output: op.Output, Call: op.Call, Return: op.Return})
	}
	return out
}

// annotate marks the comparisons and lists of transactions, and the
// ListPrefix operations, whose range covers the keys of a lock path of the
// history, and drops lock keys from what they read: the model does not
// track lock keys (waiters put theirs, failed acquisitions may leave them
// until their lease goes), so it lets the store's answer stand where only
// lock keys could decide it.
func annotate(ops []Op) []Op {
	var lockDirs []string
	seen := map[string]bool{}
	for _, op := range ops {
		var p string
		switch op.Input.Kind {
		case KindLock, KindUnlock:
			p = lockPath(op.Input.Lock)
		case KindRevoke:
			p = lockPath(op.Input.LockKey)
		case KindLockAttempt:
			p = op.Input.Key
		default:
			continue
		}
		if !seen[p] {
			seen[p] = true
			lockDirs = append(lockDirs, p+"/")
		}
	}
	if len(lockDirs) == 0 {
		return ops
	}
	overlaps := func(prefix string) bool {
		for _, d := range lockDirs {
			if strings.HasPrefix(d, prefix) || strings.HasPrefix(prefix, d) {
				return true
			}
		}
		return false
	}
	isLockKey := func(key string) bool {
		for _, d := range lockDirs {
			if strings.HasPrefix(key, d) {
				return true
			}
		}
		return false
	}
	filter := func(kvs []KV) []KV {
		var out []KV
		for _, kv := range kvs {
			if !isLockKey(kv.Key) {
				out = append(out, kv)
			}
		}
		return out
	}
	out := slices.Clone(ops)
	for i, op := range out {
		switch op.Input.Kind {
		case KindListPrefix:
			if overlaps(op.Input.Key) {
				op.Input.LockSpace = true
				op.Output.KVs = filter(op.Output.KVs)
				out[i] = op
			}
		case KindTxn:
			t := &TxnInput{If: slices.Clone(op.Input.Txn.If), Then: slices.Clone(op.Input.Txn.Then), Else: slices.Clone(op.Input.Txn.Else)}
			for j, c := range t.If {
				t.If[j].LockSpace = overlaps(c.Key)
			}
			results := slices.Clone(op.Output.Results)
			ran := t.Else
			if op.Output.Succeeded {
				ran = t.Then
			}
			for _, branch := range [][]TxnOp{t.Then, t.Else} {
				for j, o := range branch {
					if o.Kind != kvstore.OpKindList || !overlaps(o.Key) {
						continue
					}
					branch[j].LockSpace = true
					if op.Output.Outcome == OK && j < len(results) && sameSlice(branch, ran) {
						results[j].KVs = filter(results[j].KVs)
					}
				}
			}
			op.Input.Txn, op.Output.Results = t, results
			out[i] = op
		}
	}
	return out
}

func sameSlice(a, b []TxnOp) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }
