package faults_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/hivetest/faults"
)

// The invariants of the allocator scenarios, checked on the history the
// workers recorded (holds) and on the store once healed.

// hold is a reference some goroutine certainly held: from its Allocate's
// return to the call of its Release (end < 0: never released).
type hold struct {
	node, worker int
	key          string
	id           allocator.ID
	start, end   time.Duration
}

func (h hold) String() string {
	end := "end of run"
	if h.end >= 0 {
		end = h.end.String()
	}
	return fmt.Sprintf("node n%d worker %d held %q as ID %d from %s to %s", h.node, h.worker, h.key, h.id, h.start, end)
}

func (h hold) overlaps(o hold) bool {
	return (h.end < 0 || o.start < h.end) && (o.end < 0 || h.start < o.end)
}

// holdsOf pairs every successful Allocate with the same goroutine's next
// Release of that key.
func holdsOf(ops []allocOp) []hold {
	type who struct {
		node, worker int
		key          string
	}
	slices.SortStableFunc(ops, func(a, b allocOp) int { return int(a.call - b.call) })
	open := map[who]int{}
	var holds []hold
	for _, op := range ops {
		w := who{op.node, op.worker, op.key}
		if op.release {
			if i, ok := open[w]; ok {
				holds[i].end = op.call
				delete(open, w)
			}
			continue
		}
		if op.err == nil {
			open[w] = len(holds)
			holds = append(holds, hold{node: op.node, worker: op.worker, key: op.key, id: op.id, start: op.ret, end: -1})
		}
	}
	return holds
}

// keyTwoIDs: two references of one key held at the same time, on any
// allocators, have one ID.
func keyTwoIDs(ar *allocRun) error {
	var errs []error
	for i, h := range ar.holds {
		for _, o := range ar.holds[i+1:] {
			if h.key == o.key && h.id != o.id && h.overlaps(o) {
				errs = append(errs, fmt.Errorf("%w: key %q had two IDs at once: %s; %s", faults.ErrViolation, h.key, h, o))
			}
		}
	}
	return firstErrs(errs)
}

// idTwoKeys: two references of one ID held at the same time have one key.
func idTwoKeys(ar *allocRun) error {
	var errs []error
	for i, h := range ar.holds {
		for _, o := range ar.holds[i+1:] {
			if h.id == o.id && h.key != o.key && h.overlaps(o) {
				errs = append(errs, fmt.Errorf("%w: ID %d had two keys at once: %s; %s", faults.ErrViolation, h.id, h, o))
			}
		}
	}
	return firstErrs(errs)
}

func finalStore(ar *allocRun) error {
	failed, store, late := 0, 0, 0
	var slowest time.Duration
	for _, op := range ar.ops {
		if op.err != nil {
			failed++
		}
		if op.store {
			store++
		}
		// Not an invariant (timing is not judged), a figure: calls that
		// returned well after their ctx's deadline.
		if d := op.ret - op.call; d > allocOpTimout+500*time.Millisecond {
			late++
			slowest = max(slowest, d)
		}
	}
	ar.log("%d allocator ops checked (%d reached the store, %d failed: outcome unknown), %d holds, %d GC rounds; "+
		"%d calls returned >500ms after their %s deadline (slowest %s); %s",
		len(ar.ops), store, failed, len(ar.holds), ar.gcRounds, late, allocOpTimout, slowest.Round(time.Millisecond), ar.phases)
	if ar.snapshotErr != nil {
		return fmt.Errorf("allocator store not readable after heal: %w", ar.snapshotErr)
	}
	if len(ar.final) > 0 {
		return fmt.Errorf("%w: allocator store under %s still inconsistent 20s after heal:\n  %s", faults.ErrViolation, ar.base, strings.Join(ar.final, "\n  "))
	}
	return nil
}

// firstErrs joins the first few errors and counts the rest.
func firstErrs(errs []error) error {
	const show = 5
	if len(errs) > show {
		errs = append(errs[:show], fmt.Errorf("... and %d more", len(errs)-show))
	}
	return errors.Join(errs...)
}

func checkAlloc(r *faults.Run, check func(*allocRun) error) error {
	v, ok := allocRuns.Load(r)
	if !ok {
		return fmt.Errorf("no allocator run recorded for %s seed %d", r.Scenario, r.Seed)
	}
	ar := v.(*allocRun)
	ar.log = func(format string, args ...any) { logRun(r, format, args...) }
	return check(ar)
}

// logRun prints a figure of a run when the tests are verbose (the runner's
// Result has no room for a scenario's own counts).
func logRun(r *faults.Run, format string, args ...any) {
	if testing.Verbose() {
		fmt.Printf("    faults-extra: %s seed %d: %s\n", r.Scenario, r.Seed, fmt.Sprintf(format, args...))
	}
}

// allocSnapshotProblems reads B/ in one revision and lists what is wrong
// with it: a slave key whose master is missing or names another key, two
// slave keys of one key naming different IDs, a reference still held at
// the end of the run whose slave key is missing or names another ID.
func allocSnapshotProblems(ctx context.Context, r *faults.Run, ar *allocRun) ([]string, error) {
	raw, err := r.Kit.Raw()
	if err != nil {
		return nil, err
	}
	gctx, cancel := context.WithTimeout(ctx, allocOpTimout)
	defer cancel()
	resp, err := raw.Get(gctx, ar.base+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	idPrefix, valuePrefix := ar.base+"/id/", ar.base+"/value/"
	masters := map[string]string{} // ID -> key
	slaves := map[string]string{}  // B/value/<key>/<node> -> ID
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		switch {
		case strings.HasPrefix(k, idPrefix):
			masters[k[len(idPrefix):]] = string(kv.Value)
		case strings.HasPrefix(k, valuePrefix):
			slaves[k] = string(kv.Value)
		}
	}
	var problems []string
	idOfKey := map[string]string{}
	for sk, id := range slaves {
		rest := sk[len(valuePrefix):]
		cut := strings.LastIndex(rest, "/")
		if cut < 0 {
			problems = append(problems, fmt.Sprintf("slave key %s has no node", sk))
			continue
		}
		key := rest[:cut]
		if mk, ok := masters[id]; !ok {
			problems = append(problems, fmt.Sprintf("slave key %s names ID %s, which has no master key", sk, id))
		} else if mk != key {
			problems = append(problems, fmt.Sprintf("slave key %s names ID %s, whose master key names %q", sk, id, mk))
		}
		if other, ok := idOfKey[key]; ok && other != id {
			problems = append(problems, fmt.Sprintf("key %q has slave keys naming IDs %s and %s", key, other, id))
		}
		idOfKey[key] = id
	}
	for _, h := range ar.holds {
		if h.end >= 0 {
			continue
		}
		sk := fmt.Sprintf("%s%s/n%d", valuePrefix, h.key, h.node)
		if got, ok := slaves[sk]; !ok {
			problems = append(problems, fmt.Sprintf("%s, but its slave key %s is missing", h, sk))
		} else if got != h.id.String() {
			problems = append(problems, fmt.Sprintf("%s, but its slave key %s names ID %s", h, sk, got))
		}
	}
	slices.Sort(problems)
	return problems, nil
}
