package allocator_test

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/allocator"
)

// opRecorder records Allocate and Release calls with their call and return
// times, for a linearizability check with porcupine against allocModel.
// Runs that record with it run no GC: an ID, once given to a key, is never
// given to another key, which is checked over the whole history.
type opRecorder struct {
	start time.Time

	mu  sync.Mutex
	ops []porcupine.Operation
	ids map[allocator.ID]map[string]bool
}

func newOpRecorder() *opRecorder {
	return &opRecorder{start: time.Now(), ids: map[allocator.ID]map[string]bool{}}
}

type allocInput struct {
	release bool
	key     string
}

type allocOutput struct{ id allocator.ID }

// refState is the model's state of one key: its ID and how many
// references all nodes hold.
type refState struct {
	id   allocator.ID
	refs int
}

// now is the time for Call and Return.
func (r *opRecorder) now() int64 { return time.Since(r.start).Nanoseconds() }

// allocate records an Allocate by client that began at call. A failed one
// is left out: whether it took a reference is unknown, and leaving it out
// only lets the model accept more.
func (r *opRecorder) allocate(client int, key string, call int64, id allocator.ID, err error) {
	ret := r.now()
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: allocInput{key: key}, Call: call, Output: allocOutput{id}, Return: ret})
	if r.ids[id] == nil {
		r.ids[id] = map[string]bool{}
	}
	r.ids[id][key] = true
}

// release records a Release by client. A failed one may take effect at any
// time after its call: it returns "never", and counts as a release (which,
// again, only lets the model accept more).
func (r *opRecorder) release(client int, key string, call int64, err error) {
	ret := r.now()
	if err != nil {
		ret = math.MaxInt64
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: allocInput{release: true, key: key}, Call: call, Return: ret})
}

// allocModel: while a key has references it keeps its ID; a key without
// references may get any ID (another node may make a new one for it, as
// the reference's protocol does). IDs of two keys are checked apart.
var allocModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(allocInput).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return refState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(refState), input.(allocInput)
		if in.release {
			if s.refs == 0 {
				return false, s
			}
			return true, refState{id: s.id, refs: s.refs - 1}
		}
		id := output.(allocOutput).id
		if s.refs > 0 && id != s.id {
			return false, s
		}
		return true, refState{id: id, refs: s.refs + 1}
	},
	DescribeOperation: func(input, output any) string {
		in := input.(allocInput)
		if in.release {
			return fmt.Sprintf("release(%s)", in.key)
		}
		return fmt.Sprintf("allocate(%s) -> %d", in.key, output.(allocOutput).id)
	},
	DescribeState: func(state any) string {
		s := state.(refState)
		return fmt.Sprintf("id=%d refs=%d", s.id, s.refs)
	},
}

// check runs porcupine over the history and checks that no ID was given to
// two keys.
func (r *opRecorder) check(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, keys := range r.ids {
		require.Len(t, keys, 1, "ID %d was given to keys %v", id, keys)
	}
	res := porcupine.CheckOperationsTimeout(allocModel, r.ops, time.Minute)
	require.Equal(t, porcupine.Ok, res, "the Allocate/Release history of %d operations is not linearizable", len(r.ops))
}

// The model itself: it must reject a key with two IDs while referenced.
func TestAllocModelRejectsTwoIDsForAReferencedKey(t *testing.T) {
	ops := []porcupine.Operation{
		{ClientId: 0, Input: allocInput{key: "k"}, Call: 0, Output: allocOutput{1}, Return: 10},
		{ClientId: 1, Input: allocInput{key: "k"}, Call: 20, Output: allocOutput{2}, Return: 30},
	}
	require.Equal(t, porcupine.Illegal, porcupine.CheckOperationsTimeout(allocModel, ops, time.Minute))
	// Released in between: a new ID is fine.
	ops = append(ops[:1], porcupine.Operation{ClientId: 0, Input: allocInput{release: true, key: "k"}, Call: 12, Return: 15}, ops[1])
	require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(allocModel, ops, time.Minute))
}
