package faults

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// entry is a key's value and its mod revision, 0 while the model does not
// know it (plain writes do not return a revision; a transaction's does).
type entry struct {
	value string
	rev   uint64
	lease string // the client whose lease the key is attached to, or ""
}

// leaseOf is the lease owner a write of in leaves on its key.
func leaseOf(lease bool, client string) string {
	if lease {
		return client
	}
	return ""
}

// state is the model's view of the store: every present key and the token
// of the holder of each lock path. It is never mutated; steps return a
// copy.
type state struct {
	kv      map[string]entry
	holders map[string]string // lock path -> token
}

func (s state) with(key string, e entry) state {
	kv := maps.Clone(s.kv)
	if kv == nil {
		kv = make(map[string]entry)
	}
	kv[key] = e
	return state{kv: kv, holders: s.holders}
}

func (s state) without(key string) state {
	if _, ok := s.kv[key]; !ok {
		return s
	}
	kv := maps.Clone(s.kv)
	delete(kv, key)
	return state{kv: kv, holders: s.holders}
}

func (s state) withHolder(path, token string) state {
	if s.holders[path] == token {
		return s
	}
	h := maps.Clone(s.holders)
	if h == nil {
		h = make(map[string]string)
	}
	if token == "" {
		delete(h, path)
	} else {
		h[path] = token
	}
	return state{kv: s.kv, holders: h}
}

// under returns the present keys starting with prefix, sorted.
func (s state) under(prefix string) []string {
	var keys []string
	for k := range s.kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// lockPath is the path of a lock key or token: the lock key is
// path/<lease hex>, the token lockkey@revision.
func lockPath(keyOrToken string) string {
	k, _, _ := strings.Cut(keyOrToken, "@")
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i]
	}
	return k
}

// Model is the porcupine model of kvstore.BackendOperations and
// kvstore.Transactional as the Recorder records them.
//
// Keys: Get returns the current value; Update sets; Delete removes;
// CreateOnly writes (and reports true) exactly when the key is absent;
// UpdateIfDifferent writes (and reports true) exactly when the value or
// the lease differs (leases are known by the client that owns them); ListPrefix returns exactly the keys under its prefix;
// DeletePrefix removes them; LeaseExpire removes the keys attached to the
// lease of its client, no earlier than the client was cut off. An operation with an unknown outcome may take
// effect at any point after its call or never (porcupine may place it after
// everything else, where it changes nothing anyone observed).
//
// Transactions (see stepTxn): every comparison is evaluated on one state,
// one branch runs, its operations apply in order at once, and every read
// of the branch that ran (Then or Else) must match that state.
//
// Locks, one holder per path: Lock makes its token the holder of its path,
// whoever held before (an earlier holder's lease may have expired unseen;
// once superseded it never holds again). Unlock of the holder, and Revoke
// of the holder's lock key, leave nobody holding. A fenced operation that
// succeeded must have run while its token held its path: a superseded
// holder's fenced write (or transaction) that succeeds is a violation. A
// fenced operation may report the lock lost at any time (leases expire
// unseen) and the holder then holds no more — unless the run rules out
// unseen expiry (Recorder.LocksHold), where only a holding that ended may
// be reported lost. CreateOnlyIfLocked answering
// "exists" (false, nil) needs no fence, see existingKeyAnswer.
//
// Lock keys are not keys of the model: a comparison or list whose range
// covers some lock path's keys (Recorder.annotate marks it) may hold or
// fail as the store says, as long as the keys the model knows do not
// decide it.
var Model = nondeterministic.ToModel()

var nondeterministic = porcupine.NondeterministicModel{
	Partition:         partitionHistory,
	Init:              func() []any { return []any{state{}} },
	Step:              func(s, in, out any) []any { return asAny(step(s.(state), in.(Input), out.(Output))) },
	Equal:             func(a, b any) bool { return equalState(a.(state), b.(state)) },
	Hash:              func(s any) uint64 { return hashState(s.(state)) },
	DescribeOperation: func(in, out any) string { return describeOp(in.(Input), out.(Output)) },
	DescribeState:     func(s any) string { return describeState(s.(state)) },
}

func asAny(states []state) []any {
	out := make([]any, len(states))
	for i, s := range states {
		out[i] = s
	}
	return out
}

func equalState(a, b state) bool {
	return maps.Equal(a.holders, b.holders) && maps.Equal(a.kv, b.kv)
}

// hashState is order-independent: the sum of one hash per entry.
func hashState(s state) uint64 {
	var sum uint64
	h := fnv.New64a()
	for k, e := range s.kv {
		h.Reset()
		fmt.Fprintf(h, "k%s\x00%s\x00%d\x00%s", k, e.value, e.rev, e.lease)
		sum += h.Sum64()
	}
	for p, t := range s.holders {
		h.Reset()
		fmt.Fprintf(h, "h%s\x00%s", p, t)
		sum += h.Sum64()
	}
	return sum
}

func one(ok bool, s state) []state {
	if !ok {
		return nil
	}
	return []state{s}
}

func step(s state, in Input, out Output) []state {
	unknown := out.Outcome == Unknown
	switch in.Kind {
	case KindLock:
		return one(true, s.withHolder(lockPath(in.Lock), in.Lock))
	case KindUnlock:
		if p := lockPath(in.Lock); s.holders[p] == in.Lock {
			return one(true, s.withHolder(p, ""))
		}
		return one(true, s)
	case KindRevoke:
		if p := lockPath(in.LockKey); strings.HasPrefix(s.holders[p], in.LockKey+"@") {
			return one(true, s.withHolder(p, ""))
		}
		return one(true, s)
	case KindLockAttempt:
		return one(true, s)
	case KindLeaseExpire:
		for k, e := range s.kv {
			if e.lease == in.Client {
				s = s.without(k)
			}
		}
		return one(true, s)
	}
	if in.fenced() {
		p := lockPath(in.Lock)
		if out.LockLost {
			if s.holders[p] == in.Lock {
				// Leases expire unseen, unless the run rules it out.
				return one(!in.LockHeld, s.withHolder(p, ""))
			}
			return one(true, s)
		}
		if s.holders[p] != in.Lock {
			if existingKeyAnswer(in, out) {
				_, found := s.kv[in.Key]
				return one(found, s)
			}
			// Only an operation that may never have run can be placed
			// here: at this point the server refuses it.
			return one(unknown, s)
		}
	}
	cur, found := s.kv[in.Key]
	written := entry{value: in.Value, lease: leaseOf(in.Lease, in.Client)}
	switch in.Kind {
	case KindGet, KindGetIfLocked:
		return one(unknown || (out.Found == found && out.Value == cur.value), s)
	case KindUpdate, KindUpdateIfLocked:
		return one(true, s.with(in.Key, written))
	case KindDelete, KindDeleteIfLocked:
		return one(true, s.without(in.Key))
	case KindCreateOnly, KindCreateOnlyIfLocked:
		if found {
			return one(unknown || !out.Wrote, s)
		}
		return one(unknown || out.Wrote, s.with(in.Key, written))
	case KindUpdateIfDifferent, KindUpdateIfDifferentIfLocked:
		// The etcd client compares value and lease in one transaction:
		// a key on another lease (or on one when none is asked for) is
		// rewritten even with the same value.
		if found && cur.value == in.Value && cur.lease == written.lease {
			return one(unknown || !out.Wrote, s)
		}
		return one(unknown || out.Wrote, s.with(in.Key, written))
	case KindListPrefix:
		if unknown {
			return one(true, s)
		}
		return one(listMatches(s, in.Key, 0, false, out.KVs, in.LockSpace), s)
	case KindDeletePrefix:
		for _, k := range s.under(in.Key) {
			s = s.without(k)
		}
		return one(true, s)
	case KindTxn:
		return stepTxn(s, in, out)
	}
	return nil
}

// existingKeyAnswer reports whether out is CreateOnlyIfLocked's "the key
// exists" answer. The contract (kvstore.BackendOperations, as in the
// reference) gives it whether or not the lock is still held: the key's
// absence and the fence are one condition, and when it fails the
// transaction reads the key to tell which part failed, reporting the lock
// lost only if the key is absent. So it is a fence-free read of "exists".
func existingKeyAnswer(in Input, out Output) bool {
	return in.Kind == KindCreateOnlyIfLocked && out.Outcome == OK && !out.LockLost && !out.Wrote
}

func describeOp(in Input, out Output) string {
	var b strings.Builder
	if in.Kind == KindTxn {
		fmt.Fprintf(&b, "Txn(%s", describeTxn(in.Txn))
	} else {
		fmt.Fprintf(&b, "%s(%s", in.Kind, in.Key)
	}
	if in.Value != "" {
		fmt.Fprintf(&b, ", %q", in.Value)
	}
	if in.Lock != "" {
		fmt.Fprintf(&b, ", lock %s", in.Lock)
	} else if in.LockKey != "" {
		fmt.Fprintf(&b, ", key %s", in.LockKey)
	}
	b.WriteString(") -> ")
	switch {
	case out.Outcome == Unknown:
		fmt.Fprintf(&b, "unknown (%s)", out.Err)
	case out.Outcome == Failed:
		fmt.Fprintf(&b, "failed (%s)", out.Err)
	case out.LockLost:
		b.WriteString("lock lost")
	case in.Kind == KindTxn:
		b.WriteString(describeResults(out))
	case in.Kind == KindListPrefix:
		var kvs []string
		for _, kv := range out.KVs {
			kvs = append(kvs, fmt.Sprintf("%s=%q", kv.Key, kv.Value))
		}
		b.WriteString("{" + strings.Join(kvs, ", ") + "}")
	case in.Kind.read() && !out.Found:
		b.WriteString("absent")
	case in.Kind.read():
		fmt.Fprintf(&b, "%q", out.Value)
	case in.Kind == KindCreateOnly || in.Kind == KindCreateOnlyIfLocked ||
		in.Kind == KindUpdateIfDifferent || in.Kind == KindUpdateIfDifferentIfLocked:
		fmt.Fprintf(&b, "%t", out.Wrote)
	default:
		b.WriteString("ok")
	}
	return b.String()
}

func describeState(s state) string {
	keys := slices.Sorted(maps.Keys(s.kv))
	parts := make([]string, 0, len(keys)+len(s.holders))
	for _, k := range keys {
		e := s.kv[k]
		if e.rev != 0 {
			parts = append(parts, fmt.Sprintf("%s=%q@%d", k, e.value, e.rev))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%q", k, e.value))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.holders)) {
		parts = append(parts, fmt.Sprintf("holder(%s)=%s", p, s.holders[p]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
