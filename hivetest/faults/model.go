package faults

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// state is the model's view of the store: the value of every present key
// and the token of the lock holder ("" when nobody holds the lock). It is
// never mutated; steps return a copy.
type state struct {
	kv     map[string]string
	holder string
}

func (s state) with(key, value string) state {
	kv := maps.Clone(s.kv)
	if kv == nil {
		kv = make(map[string]string)
	}
	kv[key] = value
	return state{kv: kv, holder: s.holder}
}

func (s state) without(key string) state {
	if _, ok := s.kv[key]; !ok {
		return s
	}
	kv := maps.Clone(s.kv)
	delete(kv, key)
	return state{kv: kv, holder: s.holder}
}

func (s state) withHolder(h string) state { return state{kv: s.kv, holder: h} }

// Model is the porcupine model of kvstore.BackendOperations as the
// Recorder records it.
//
// Keys: Get returns the current value; Update sets; Delete removes;
// CreateOnly writes (and reports true) exactly when the key is absent;
// UpdateIfDifferent writes (and reports true) exactly when the value
// differs. An operation with an unknown outcome may take effect at any point
// after its call or never (porcupine may place it after everything else,
// where it changes nothing anyone observed).
//
// The lock: Lock makes its token the holder, whoever held before (an
// earlier holder's lease may have expired unseen; once superseded it never
// holds again). Unlock of the holder, and Revoke of the holder's lock key,
// leave nobody holding. A fenced operation that succeeded must have run
// while its token was the holder: a superseded holder's fenced write that
// succeeds is a violation. A fenced operation may always report the lock
// lost (leases expire at any time); the holder then holds no more.
// CreateOnlyIfLocked answering "exists" (false, nil) needs no fence, see
// existingKeyAnswer.
var Model = porcupine.Model{
	Partition:         partitionByKey,
	Init:              func() any { return state{} },
	Step:              func(s, in, out any) (bool, any) { return step(s.(state), in.(Input), out.(Output)) },
	Equal:             func(a, b any) bool { return equalState(a.(state), b.(state)) },
	DescribeOperation: func(in, out any) string { return describeOp(in.(Input), out.(Output)) },
	DescribeState:     func(s any) string { return describeState(s.(state)) },
}

func equalState(a, b state) bool {
	return a.holder == b.holder && maps.Equal(a.kv, b.kv)
}

func step(s state, in Input, out Output) (bool, state) {
	unknown := out.Outcome == Unknown
	switch in.Kind {
	case KindLock:
		return true, s.withHolder(in.Lock)
	case KindUnlock:
		if s.holder == in.Lock {
			return true, s.withHolder("")
		}
		return true, s
	case KindRevoke:
		if s.holder != "" && strings.HasPrefix(s.holder, in.LockKey+"@") {
			return true, s.withHolder("")
		}
		return true, s
	}
	if in.Kind.fenced() {
		if out.LockLost {
			if s.holder == in.Lock {
				return true, s.withHolder("")
			}
			return true, s
		}
		if s.holder != in.Lock {
			if existingKeyAnswer(in, out) {
				_, found := s.kv[in.Key]
				return found, s
			}
			// Only an operation that may never have run can be placed
			// here: at this point the server refuses it.
			return unknown, s
		}
	}
	cur, found := s.kv[in.Key]
	switch in.Kind {
	case KindGet, KindGetIfLocked:
		return unknown || (out.Found == found && out.Value == cur), s
	case KindUpdate, KindUpdateIfLocked:
		return true, s.with(in.Key, in.Value)
	case KindDelete, KindDeleteIfLocked:
		return true, s.without(in.Key)
	case KindCreateOnly, KindCreateOnlyIfLocked:
		if found {
			return unknown || !out.Wrote, s
		}
		return unknown || out.Wrote, s.with(in.Key, in.Value)
	case KindUpdateIfDifferent, KindUpdateIfDifferentIfLocked:
		if found && cur == in.Value {
			return unknown || !out.Wrote, s
		}
		return unknown || out.Wrote, s.with(in.Key, in.Value)
	}
	return false, s
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

// partitionByKey checks each key on its own: a history is linearizable if
// every key's is, as long as nothing spans keys. The lock does (it fences
// operations on every key), so lock operations are copied into every key's
// partition; that can only miss a violation across keys, never invent one.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var lockOps []porcupine.Operation
	for _, op := range history {
		in := op.Input.(Input)
		if in.Kind.lockOp() {
			lockOps = append(lockOps, op)
			continue
		}
		byKey[in.Key] = append(byKey[in.Key], op)
	}
	keys := slices.Sorted(maps.Keys(byKey))
	var parts [][]porcupine.Operation
	for _, k := range keys {
		part := byKey[k]
		if hasFenced(part) {
			part = append(slices.Clone(lockOps), part...)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 && len(lockOps) > 0 {
		parts = append(parts, lockOps)
	}
	return parts
}

func hasFenced(ops []porcupine.Operation) bool {
	for _, op := range ops {
		if op.Input.(Input).Kind.fenced() {
			return true
		}
	}
	return false
}

// porcupineHistory turns recorded ops into porcupine operations. Reads that
// failed tell nothing and are dropped, as are ops that did not happen; ops
// with an unknown outcome return after everything else.
func porcupineHistory(ops []Op) []porcupine.Operation {
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
		out = append(out, porcupine.Operation{ClientId: op.Worker, Input: op.Input, Output: op.Output, Call: op.Call, Return: op.Return})
	}
	return out
}

func describeOp(in Input, out Output) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%s", in.Kind, in.Key)
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
	case out.LockLost:
		b.WriteString("lock lost")
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
	keys := make([]string, 0, len(s.kv))
	for k := range s.kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, s.kv[k]))
	}
	if s.holder != "" {
		parts = append(parts, "holder="+s.holder)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
