package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// h builds a history tersely: each op is worker, input, output, call, return.
func op(worker int, in Input, out Output, call, ret int64) Op {
	return Op{Worker: worker, Input: in, Output: out, Call: call, Return: ret}
}

var (
	unknown = Output{Outcome: Unknown, Err: "context deadline exceeded"}
	okOut   = Output{}
)

func get(key, value string) Output { return Output{Value: value, Found: value != ""} }
func wrote(b bool) Output          { return Output{Wrote: b} }
func upd(key, value string) Input  { return Input{Kind: KindUpdate, Key: key, Value: value} }
func getIn(key string) Input       { return Input{Kind: KindGet, Key: key} }
func lockIn(token string) Input    { return Input{Kind: KindLock, Lock: token} }
func fencedUpd(key, value, token string) Input {
	return Input{Kind: KindUpdateIfLocked, Key: key, Value: value, Lock: token}
}

func TestModel(t *testing.T) {
	lost := Output{LockLost: true}
	for _, tc := range []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"sequential reads see the last write", []Op{
			op(0, upd("k", "a"), okOut, 0, 10),
			op(0, upd("k", "b"), okOut, 20, 30),
			op(1, getIn("k"), get("k", "b"), 40, 50),
		}, true},
		{"stale read", []Op{
			op(0, upd("k", "a"), okOut, 0, 10),
			op(0, upd("k", "b"), okOut, 20, 30),
			op(1, getIn("k"), get("k", "a"), 40, 50),
		}, false},
		{"concurrent write may be read either way", []Op{
			op(0, upd("k", "a"), okOut, 0, 10),
			op(0, upd("k", "b"), okOut, 20, 60),
			op(1, getIn("k"), get("k", "a"), 30, 40),
			op(2, getIn("k"), get("k", "b"), 45, 50),
		}, true},
		{"acknowledged write lost", []Op{
			op(0, upd("k", "a"), okOut, 0, 10),
			op(1, getIn("k"), get("k", ""), 20, 30),
		}, false},
		{"unknown write may not have happened", []Op{
			op(0, upd("k", "a"), unknown, 0, 10),
			op(1, getIn("k"), get("k", ""), 20, 30),
		}, true},
		{"unknown write may happen late", []Op{
			op(0, upd("k", "a"), unknown, 0, 10),
			op(1, getIn("k"), get("k", ""), 20, 30),
			op(1, getIn("k"), get("k", "a"), 40, 50),
		}, true},
		{"unknown write cannot be undone once seen", []Op{
			op(0, upd("k", "a"), unknown, 0, 10),
			op(1, getIn("k"), get("k", "a"), 20, 30),
			op(1, getIn("k"), get("k", ""), 40, 50),
		}, false},
		{"two creators", []Op{
			op(0, Input{Kind: KindCreateOnly, Key: "k", Value: "a"}, wrote(true), 0, 10),
			op(1, Input{Kind: KindCreateOnly, Key: "k", Value: "b"}, wrote(true), 20, 30),
		}, false},
		{"create of an existing key reports false", []Op{
			op(0, Input{Kind: KindCreateOnly, Key: "k", Value: "a"}, wrote(true), 0, 10),
			op(1, Input{Kind: KindCreateOnly, Key: "k", Value: "b"}, wrote(false), 20, 30),
			op(1, getIn("k"), get("k", "a"), 40, 50),
		}, true},
		{"UpdateIfDifferent wrote the same value", []Op{
			op(0, upd("k", "a"), okOut, 0, 10),
			op(1, Input{Kind: KindUpdateIfDifferent, Key: "k", Value: "a"}, wrote(true), 20, 30),
		}, false},
		{"UpdateIfDifferent skipped a different value", []Op{
			op(0, upd("k", "a"), okOut, 0, 10),
			op(1, Input{Kind: KindUpdateIfDifferent, Key: "k", Value: "b"}, wrote(false), 20, 30),
		}, false},
		{"fenced writes of successive holders", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(0, fencedUpd("k", "a", "p/a@5"), okOut, 2, 3),
			op(0, Input{Kind: KindUnlock, Lock: "p/a@5"}, okOut, 4, 5),
			op(1, lockIn("p/b@9"), okOut, 6, 7),
			op(1, fencedUpd("k", "b", "p/b@9"), okOut, 8, 9),
		}, true},
		{"superseded holder's fenced write succeeds", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(1, fencedUpd("k", "b", "p/b@9"), okOut, 12, 13),
			op(0, fencedUpd("k", "a", "p/a@5"), okOut, 14, 15),
		}, false},
		{"superseded holder's fenced write is refused", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(0, fencedUpd("k", "a", "p/a@5"), lost, 14, 15),
		}, true},
		{"fenced write after its lease was revoked", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(9, Input{Kind: KindRevoke, LockKey: "p/a"}, okOut, 2, 3),
			op(0, fencedUpd("k", "a", "p/a@5"), okOut, 4, 5),
		}, false},
		{"fenced read of a non-holder", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(0, Input{Kind: KindUnlock, Lock: "p/a@5"}, okOut, 2, 3),
			op(0, Input{Kind: KindGetIfLocked, Key: "k", Lock: "p/a@5"}, get("k", ""), 4, 5),
		}, false},
		{"CreateOnlyIfLocked of a superseded holder may report an existing key", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(0, fencedUpd("k", "a", "p/a@5"), okOut, 2, 3),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(0, Input{Kind: KindCreateOnlyIfLocked, Key: "k", Value: "c", Lock: "p/a@5"}, wrote(false), 14, 15),
		}, true},
		{"CreateOnlyIfLocked of a superseded holder reports an absent key as existing", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(0, Input{Kind: KindCreateOnlyIfLocked, Key: "k", Value: "c", Lock: "p/a@5"}, wrote(false), 14, 15),
		}, false},
		{"CreateOnlyIfLocked of a superseded holder creates", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(0, Input{Kind: KindCreateOnlyIfLocked, Key: "k", Value: "c", Lock: "p/a@5"}, wrote(true), 14, 15),
		}, false},
		{"fenced write with unknown outcome after the lock was lost", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 2, 3),
			op(0, fencedUpd("k", "a", "p/a@5"), unknown, 4, 5),
			op(1, Input{Kind: KindGetIfLocked, Key: "k", Lock: "p/b@9"}, get("k", ""), 6, 7),
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			html := filepath.Join(t.TempDir(), "h.html")
			err := CheckLinearizable(tc.ops, 0, html)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrViolation)
			require.ErrorContains(t, err, html)
			fi, statErr := os.Stat(html)
			require.NoError(t, statErr, "the visualisation is written")
			require.NotZero(t, fi.Size())
			saved, err := ReadOps(strings.TrimSuffix(html, ".html") + ".json")
			require.NoError(t, err)
			require.Equal(t, tc.ops, saved, "the history is saved for rechecking")
		})
	}
}

func TestCheckNoLostWrites(t *testing.T) {
	const final = FinalWorker
	ops := []Op{
		op(0, upd("k", "a"), okOut, 0, 10),
		op(1, upd("k", "b"), okOut, 20, 30),
		op(final, getIn("k"), get("k", "a"), 40, 50),
	}
	err := CheckNoLostWrites(ops, final)
	require.ErrorIs(t, err, ErrViolation)
	require.ErrorContains(t, err, `Update(k, "b")`)

	ops[2].Output = get("k", "b")
	require.NoError(t, CheckNoLostWrites(ops, final))

	// A write concurrent with the last acknowledged one may win.
	ops[0].Return = 25
	ops[2].Output = get("k", "a")
	require.NoError(t, CheckNoLostWrites(ops, final))

	// A value nobody wrote.
	ops[2].Output = get("k", "zz")
	require.ErrorContains(t, CheckNoLostWrites(ops, final), "which no operation wrote")

	// An acknowledged delete followed by a final read of an old value.
	ops = []Op{
		op(0, upd("k", "a"), okOut, 0, 10),
		op(1, Input{Kind: KindDelete, Key: "k"}, okOut, 20, 30),
		op(final, getIn("k"), get("k", "a"), 40, 50),
	}
	require.ErrorIs(t, CheckNoLostWrites(ops, final), ErrViolation)
	ops[2].Output = get("k", "")
	require.NoError(t, CheckNoLostWrites(ops, final))
}

func TestCheckFencing(t *testing.T) {
	ops := []Op{
		op(0, lockIn("p/a@5"), okOut, 0, 1),
		op(1, lockIn("p/b@9"), okOut, 10, 11),
		op(0, fencedUpd("k", "a", "p/a@5"), okOut, 14, 15),
	}
	err := CheckFencing(ops)
	require.ErrorIs(t, err, ErrViolation)
	require.ErrorContains(t, err, "after worker 1 acquired the lock as p/b@9")

	ops[2].Output = Output{LockLost: true}
	require.NoError(t, CheckFencing(ops))
	// "The key exists" needs no fence (see existingKeyAnswer).
	ops[2].Input.Kind, ops[2].Output = KindCreateOnlyIfLocked, wrote(false)
	require.NoError(t, CheckFencing(ops))
	// Overlapping acquisitions say nothing about who came first.
	ops[2].Output = okOut
	ops[1].Call = 0
	require.NoError(t, CheckFencing(ops))
}

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("kvstore: update %q: %w", "k", err) }
	for _, tc := range []struct {
		err          error
		closedBefore bool
		want         Outcome
	}{
		{nil, false, OK},
		{wrap(kvstore.ErrEmptyKey), false, Failed},
		{wrap(kvstore.ErrValueTooLarge), false, Failed},
		{wrap(kvstore.ErrInvalidTxn), false, Failed},
		{wrap(kvstore.ErrForeignLocker), false, Failed},
		{wrap(kvstore.ErrClientClosed), true, Failed},
		{wrap(kvstore.ErrClientClosed), false, Unknown},
		{wrap(kvstore.Hint(context.DeadlineExceeded)), false, Unknown},
		{wrap(context.Canceled), false, Unknown},
		{wrap(errors.New("etcdserver: leader changed")), false, Unknown},
		{wrap(kvstore.ErrLockLeaseExpired), false, Unknown},
	} {
		require.Equal(t, tc.want, classify(tc.err, tc.closedBefore), "%v (closed before: %t)", tc.err, tc.closedBefore)
	}
}
