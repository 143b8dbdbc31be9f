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

// writesValue reports whether op may have left in.Value in its key: a write
// that succeeded (and, if conditional, wrote) or whose outcome is unknown.
func writesValue(op Op) bool {
	switch op.Input.Kind {
	case KindUpdate, KindCreateOnly, KindUpdateIfDifferent,
		KindUpdateIfLocked, KindCreateOnlyIfLocked, KindUpdateIfDifferentIfLocked:
	default:
		return false
	}
	switch {
	case op.Output.Outcome == Unknown:
		return true
	case op.Output.Outcome == Failed || op.Output.LockLost:
		return false
	}
	switch op.Input.Kind {
	case KindCreateOnly, KindCreateOnlyIfLocked, KindUpdateIfDifferent, KindUpdateIfDifferentIfLocked:
		return op.Output.Wrote
	}
	return true
}

// deletes reports whether op may have deleted its key.
func deletes(op Op) bool {
	if op.Input.Kind != KindDelete && op.Input.Kind != KindDeleteIfLocked {
		return false
	}
	return op.Output.Outcome == Unknown || (op.Output.Outcome == OK && !op.Output.LockLost)
}

// acknowledged reports whether op certainly changed its key: it succeeded
// and wrote (or deleted).
func acknowledged(op Op) bool {
	return op.Output.Outcome == OK && (writesValue(op) || deletes(op))
}

// CheckNoLostWrites checks the final reads (successful Gets by finalWorker,
// issued after every other operation ended) against the acknowledged
// writes: the value a final read returns must come from a write (or
// delete) that did not end before some acknowledged write to that key
// began. Otherwise that acknowledged write was lost.
func CheckNoLostWrites(ops []Op, finalWorker int) error {
	var errs []error
	for _, f := range ops {
		if f.Worker != finalWorker || f.Input.Kind != KindGet || f.Output.Outcome != OK {
			continue
		}
		key := f.Input.Key
		// latest is the latest end of an op that may have produced what
		// the final read saw; unknown outcomes never end.
		latest, found := int64(math.MinInt64), false
		if !f.Output.Found {
			latest, found = -1, true // the initial, empty store
		}
		for _, op := range ops {
			if op.Input.Key != key || op.Worker == finalWorker {
				continue
			}
			produced := (f.Output.Found && writesValue(op) && op.Input.Value == f.Output.Value) ||
				(!f.Output.Found && deletes(op))
			if !produced {
				continue
			}
			found = true
			end := op.Return
			if op.Output.Outcome == Unknown {
				end = math.MaxInt64
			}
			latest = max(latest, end)
		}
		if !found {
			errs = append(errs, fmt.Errorf("%w: final read of %q returned %q, which no operation wrote", ErrViolation, key, f.Output.Value))
			continue
		}
		for _, op := range ops {
			if op.Input.Key != key || !acknowledged(op) || op.Call <= latest || op.Return >= f.Call {
				continue
			}
			if same := (deletes(op) && !f.Output.Found) || (writesValue(op) && f.Output.Found && op.Input.Value == f.Output.Value); same {
				continue // it left the same state the final read saw
			}
			errs = append(errs, fmt.Errorf("%w: acknowledged %s by worker %d at %s lost: final read of %q saw %s, produced by an operation that ended at %s, before the write began",
				ErrViolation, describeOp(op.Input, op.Output), op.Worker, time.Duration(op.Call), key, describeRead(f.Output), time.Duration(latest)))
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
// after a later holder had acquired the lock. Holder B acquired strictly
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
		if !op.Input.Kind.fenced() || op.Output.Outcome != OK || op.Output.LockLost || existingKeyAnswer(op.Input, op.Output) {
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
			if later.Input.Lock != mine.Input.Lock && later.Call > mine.Return && op.Call > later.Return {
				errs = append(errs, fmt.Errorf("%w: %s by worker %d at %s succeeded after worker %d acquired the lock as %s at %s",
					ErrViolation, describeOp(op.Input, op.Output), op.Worker, time.Duration(op.Call),
					later.Worker, later.Input.Lock, time.Duration(later.Return)))
				break
			}
		}
	}
	return errors.Join(errs...)
}
