package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// ErrViolation is what every failed invariant wraps: the history, or the
// state after it, is not what a correct client and store can produce.
var ErrViolation = errors.New("faults: violation")

// ErrInconclusive fires when the linearizability check ran out of time
// before deciding; the history was not verified, which is not a pass.
var ErrInconclusive = errors.New("faults: linearizability check inconclusive")

// CheckLinearizable checks ops against Model within timeout. On a violation
// it writes porcupine's HTML visualisation to htmlPath (creating its
// directory) and names it in the error.
func CheckLinearizable(ops []Op, timeout time.Duration, htmlPath string) error {
	hist := porcupineHistory(ops)
	res, info := porcupine.CheckOperationsVerbose(Model, hist, timeout)
	switch res {
	case porcupine.Ok:
		return nil
	case porcupine.Unknown:
		return fmt.Errorf("%w after %s (%d operations)", ErrInconclusive, timeout, len(hist))
	}
	where := "not written: no path given"
	if htmlPath != "" {
		where = htmlPath
		if err := os.MkdirAll(filepath.Dir(htmlPath), 0o755); err != nil {
			where = fmt.Sprintf("not written: %v", err)
		} else if err := porcupine.VisualizePath(Model, info, htmlPath); err != nil {
			where = fmt.Sprintf("not written: %v", err)
		} else if err := writeOps(strings.TrimSuffix(htmlPath, ".html")+".json", ops); err == nil {
			where += " (recorded operations: .json beside it)"
		}
	}
	return fmt.Errorf("%w: history of %d operations is not linearizable; visualisation: %s",
		ErrViolation, len(hist), where)
}

// writeOps saves the recorded history as JSON, one operation per line, so
// that a failing history can be rechecked (ReadOps) after a model change.
func writeOps(path string, ops []Op) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// ReadOps loads a history saved beside a failing run's visualisation.
func ReadOps(path string) ([]Op, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ops []Op
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var op Op
		if err := dec.Decode(&op); err != nil {
			return nil, fmt.Errorf("faults: %s: %w", path, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// effect is a write an operation may have made: key (a prefix, for
// DeletePrefix) set to value, or deleted. certain: the operation was
// acknowledged and made it; otherwise it only may have.
type effect struct {
	key     string
	prefix  bool
	value   string
	del     bool
	certain bool
}

func (e effect) covers(key string) bool {
	if e.prefix {
		return strings.HasPrefix(key, e.key)
	}
	return e.key == key
}

// effects returns the writes op may have made: those of a successful
// write that (if conditional) wrote, of the branch an applied transaction
// ran, and, uncertain, those of an operation whose outcome is unknown (both
// branches of a transaction).
func effects(op Op) []effect {
	in, out := op.Input, op.Output
	if out.Outcome == Failed || out.LockLost {
		return nil
	}
	certain := out.Outcome == OK
	switch in.Kind {
	case KindUpdate, KindUpdateIfLocked:
		return []effect{{key: in.Key, value: in.Value, certain: certain}}
	case KindCreateOnly, KindCreateOnlyIfLocked, KindUpdateIfDifferent, KindUpdateIfDifferentIfLocked:
		if certain && !out.Wrote {
			return nil
		}
		return []effect{{key: in.Key, value: in.Value, certain: certain}}
	case KindDelete, KindDeleteIfLocked:
		return []effect{{key: in.Key, del: true, certain: certain}}
	case KindDeletePrefix:
		return []effect{{key: in.Key, prefix: true, del: true, certain: certain}}
	case KindTxn:
		switch {
		case !certain:
			return append(branchEffects(in.Txn.Then, false), branchEffects(in.Txn.Else, false)...)
		case out.Succeeded:
			return branchEffects(in.Txn.Then, true)
		default:
			return branchEffects(in.Txn.Else, true)
		}
	}
	return nil
}

// CheckNoLostWrites checks the final reads (successful Gets by finalWorker,
// issued after every other operation ended) against the acknowledged
// writes: the value a final read returns must come from a write (or
// delete) that did not end before some acknowledged write to that key
// began. Otherwise that acknowledged write was lost.
func CheckNoLostWrites(ops []Op, finalWorker int) error {
	// A lease expiry deletes the keys its client wrote with the lease.
	leasedKeys := map[string][]string{}
	for _, op := range ops {
		if op.Input.Kind == KindLeaseExpire || !usesLease(op.Input) {
			continue
		}
		for _, e := range effects(op) {
			leasedKeys[op.Input.Client] = append(leasedKeys[op.Input.Client], e.key)
		}
	}
	effectsOf := func(op Op) []effect {
		if op.Input.Kind != KindLeaseExpire {
			return effects(op)
		}
		var out []effect
		for _, k := range leasedKeys[op.Input.Client] {
			out = append(out, effect{key: k, del: true})
		}
		return out
	}
	var errs []error
	for _, f := range ops {
		if f.Worker != finalWorker || f.Input.Kind != KindGet || f.Output.Outcome != OK {
			continue
		}
		key := f.Input.Key
		same := func(e effect) bool {
			return (e.del && !f.Output.Found) || (!e.del && f.Output.Found && e.value == f.Output.Value)
		}
		// latest is the latest end of an op that may have produced what
		// the final read saw; unknown outcomes never end.
		latest, found := int64(math.MinInt64), false
		if !f.Output.Found {
			latest, found = -1, true // the initial, empty store
		}
		for _, op := range ops {
			if op.Worker == finalWorker {
				continue
			}
			for _, e := range effectsOf(op) {
				if !e.covers(key) || !same(e) {
					continue
				}
				found = true
				end := op.Return
				if op.Output.Outcome == Unknown {
					end = math.MaxInt64
				}
				latest = max(latest, end)
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%w: final read of %q returned %q, which no operation wrote", ErrViolation, key, f.Output.Value))
			continue
		}
		for _, op := range ops {
			if op.Worker == finalWorker || op.Call <= latest || op.Return >= f.Call {
				continue
			}
			for _, e := range effects(op) {
				if !e.certain || !e.covers(key) || same(e) {
					continue // not acknowledged, or it left the state the final read saw
				}
				errs = append(errs, fmt.Errorf("%w: acknowledged %s by worker %d at %s lost: final read of %q saw %s, produced by an operation that ended at %s, before the write began",
					ErrViolation, describeOp(op.Input, op.Output), op.Worker, time.Duration(op.Call), key, describeRead(f.Output), time.Duration(latest)))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func describeRead(o Output) string {
	if !o.Found {
		return "no value"
	}
	return fmt.Sprintf("%q", o.Value)
}

// CheckFencing checks that no fenced operation of a lock holder succeeded
// after a later holder had acquired the lock on the same path. Holder B acquired strictly
// after holder A (B's LockPath began after A's returned), so when B's
// returned A's lock key was gone for good; a fenced operation of A that
// began after that and succeeded interleaves two holders.
func CheckFencing(ops []Op) error {
	var locks []Op
	for _, op := range ops {
		if op.Input.Kind == KindLock {
			locks = append(locks, op)
		}
	}
	var errs []error
	for _, op := range ops {
		if !op.Input.fenced() || op.Output.Outcome != OK || op.Output.LockLost || existingKeyAnswer(op.Input, op.Output) {
			continue
		}
		var mine *Op
		for i := range locks {
			if locks[i].Input.Lock == op.Input.Lock {
				mine = &locks[i]
			}
		}
		if mine == nil {
			continue
		}
		for _, later := range locks {
			if later.Input.Lock != mine.Input.Lock && lockPath(later.Input.Lock) == lockPath(mine.Input.Lock) &&
				later.Call > mine.Return && op.Call > later.Return {
				errs = append(errs, fmt.Errorf("%w: %s by worker %d at %s succeeded after worker %d acquired the lock as %s at %s",
					ErrViolation, describeOp(op.Input, op.Output), op.Worker, time.Duration(op.Call),
					later.Worker, later.Input.Lock, time.Duration(later.Return)))
				break
			}
		}
	}
	return errors.Join(errs...)
}
