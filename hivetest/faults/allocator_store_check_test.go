package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/hivetest/faults"
)

// The checks of the allocator and store scenarios, fed with histories and
// states that break them, so that a pass of the scenarios means something.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestAllocChecksCatchTwoIDsAndTwoKeys(t *testing.T) {
	alloc := func(node, worker int, key string, id allocator.ID, call, ret int, err error) allocOp {
		return allocOp{node: node, worker: worker, key: key, id: id, call: ms(call), ret: ms(ret), err: err, store: true}
	}
	release := func(node, worker int, key string, call, ret int) allocOp {
		return allocOp{node: node, worker: worker, key: key, release: true, call: ms(call), ret: ms(ret)}
	}
	lost := errors.New("reply lost")

	t.Run("a key held with two IDs at once", func(t *testing.T) {
		ar := &allocRun{holds: holdsOf([]allocOp{
			alloc(0, 0, "a;b;", 7, 0, 10, nil),
			alloc(1, 0, "a;b;", 8, 5, 20, nil), // held from 20, while n0 still holds 7
			release(0, 0, "a;b;", 30, 40),
		})}
		require.ErrorIs(t, keyTwoIDs(ar), faults.ErrViolation)
		require.NoError(t, idTwoKeys(ar))
	})
	t.Run("an ID held for two keys at once", func(t *testing.T) {
		ar := &allocRun{holds: holdsOf([]allocOp{
			alloc(0, 0, "a;b;", 7, 0, 10, nil),
			alloc(2, 1, "a;b;c;", 7, 0, 15, nil), // never released
		})}
		require.ErrorIs(t, idTwoKeys(ar), faults.ErrViolation)
		require.NoError(t, keyTwoIDs(ar))
	})
	t.Run("successive holds may differ; failed calls hold nothing", func(t *testing.T) {
		ar := &allocRun{holds: holdsOf([]allocOp{
			alloc(0, 0, "a;b;", 7, 0, 10, nil),
			release(0, 0, "a;b;", 20, 25),
			alloc(1, 0, "a;b;", 8, 21, 30, nil), // began after the release began
			alloc(2, 0, "a;b;", 9, 22, 31, lost),
			alloc(2, 1, "x/", 8, 40, 50, nil), // ID 8 while n1 still holds it for a;b;
		})}
		require.NoError(t, keyTwoIDs(ar))
		require.ErrorIs(t, idTwoKeys(ar), faults.ErrViolation, "ID 8 held for a;b; (n1) and x/ (n2) at once")
		require.Len(t, ar.holds, 3)
	})
}

// The final store check, on a store written by hand: a slave key without
// its master, a slave key whose master names another key, and one key
// whose slave keys name two IDs.
func TestAllocSnapshotProblems(t *testing.T) {
	kit := faults.NewKit(t, 1)
	raw, err := kit.Raw()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := &faults.Run{Kit: kit}
	ar := &allocRun{base: "faults/snapshot-check/alloc"}
	put := func(k, v string) {
		_, err := raw.Put(ctx, ar.base+"/"+k, v)
		require.NoError(t, err)
	}
	put("id/1", "a;b;")
	put("value/a;b;/n0", "1")
	put("id/2", "a;b;c;")
	put("value/a;b;c;/n0", "2")
	problems, err := allocSnapshotProblems(ctx, r, ar)
	require.NoError(t, err)
	require.Empty(t, problems, "a consistent store")

	put("value/a;b;/n1", "2")                                   // master 2 names a;b;c;, and a;b; now has IDs 1 and 2
	put("value/x//n0", "3")                                     // no master 3
	ar.holds = []hold{{node: 2, key: "a;b;c;", id: 2, end: -1}} // held by n2, no slave key
	problems, err = allocSnapshotProblems(ctx, r, ar)
	require.NoError(t, err)
	require.Len(t, problems, 4, "%q", problems)
	require.ErrorIs(t, finalStore(&allocRun{base: ar.base, final: problems, log: func(string, ...any) {}}), faults.ErrViolation)
}

func TestMapDiff(t *testing.T) {
	require.Empty(t, mapDiff("view", map[string]string{"c1/k0": "v"}, map[string]string{"c1/k0": "v"}))
	d := mapDiff("view", map[string]string{"c1/k0": "old", "c2/k1": "x"}, map[string]string{"c1/k0": "new", "c1/k2": "y"})
	require.Equal(t, []string{
		`view: c1/k0 = "old", want "new"`,
		`view: c1/k2 missing, want "y"`,
		`view: c2/k1 = "x", want it deleted`,
	}, d)
}
