package validate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestKey(t *testing.T) {
	require.ErrorIs(t, Key(""), kvstore.ErrEmptyKey)
	require.NoError(t, Key("a"))
}

func TestWrite(t *testing.T) {
	require.ErrorIs(t, Write("", []byte("v"), DefaultMaxRequestBytes), kvstore.ErrEmptyKey)
	require.NoError(t, Write("k", nil, DefaultMaxRequestBytes))
	require.NoError(t, Write("k", make([]byte, 1<<20), DefaultMaxRequestBytes))

	// The largest value that fits, and one byte more.
	fits := DefaultMaxRequestBytes - RequestOverhead - len("k")
	require.NoError(t, Write("k", make([]byte, fits), DefaultMaxRequestBytes))
	err := Write("k", make([]byte, fits+1), DefaultMaxRequestBytes)
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge)
	require.NotErrorIs(t, err, kvstore.ErrEmptyKey)
	require.Contains(t, err.Error(), "1.5 MiB")
	require.True(t, strings.Contains(err.Error(), "1572352 bytes"), err.Error())
}

func TestKeySizes(t *testing.T) {
	huge := strings.Repeat("k", DefaultMaxRequestBytes)
	require.NoError(t, Prefix(""), "the empty prefix is every key")
	require.ErrorIs(t, Prefix(huge), kvstore.ErrValueTooLarge)
	require.ErrorIs(t, Key(huge), kvstore.ErrValueTooLarge)
	require.ErrorIs(t, Key(""), kvstore.ErrEmptyKey)
	require.ErrorIs(t, LockPath(""), kvstore.ErrEmptyKey)
	require.NoError(t, LockPath(strings.Repeat("p", 1000)))
	require.ErrorIs(t, LockPath(huge[:DefaultMaxRequestBytes/3]), kvstore.ErrValueTooLarge,
		"a lock request carries its key four times")
}

// fakeLock is any lock: Txn only looks at whether one is set.
type fakeLock struct{}

func (fakeLock) Unlock(context.Context) error { return nil }
func (fakeLock) Comparator() any              { return nil }

// The operation limits at their edge: a fenced transaction is nested in the
// fence's on etcd, which takes one of --max-txn-ops.
func TestTxnOpsEdge(t *testing.T) {
	ops := func(n int) []kvstore.Op {
		out := make([]kvstore.Op, n)
		for i := range out {
			out[i] = kvstore.OpDelete(fmt.Sprintf("k%d", i))
		}
		return out
	}
	cmps := func(n int) []kvstore.Cmp {
		out := make([]kvstore.Cmp, n)
		for i := range out {
			out[i] = kvstore.CmpMissing(fmt.Sprintf("k%d", i))
		}
		return out
	}
	check := func(txn kvstore.Txn) error {
		_, err := Txn(txn, DefaultMaxRequestBytes, "lock/0123456789abcdef")
		return err
	}
	require.NoError(t, check(kvstore.Txn{Then: ops(kvstore.MaxTxnOps), Else: ops(kvstore.MaxTxnOps), If: cmps(kvstore.MaxTxnOps)}))
	require.ErrorIs(t, check(kvstore.Txn{Then: ops(kvstore.MaxTxnOps + 1)}), kvstore.ErrInvalidTxn)
	require.ErrorIs(t, check(kvstore.Txn{If: cmps(kvstore.MaxTxnOps + 1)}), kvstore.ErrInvalidTxn)

	locked := kvstore.Txn{Lock: fakeLock{}, Then: ops(kvstore.MaxLockedTxnOps), Else: ops(kvstore.MaxLockedTxnOps), If: cmps(kvstore.MaxLockedTxnOps)}
	require.NoError(t, check(locked))
	for _, txn := range []kvstore.Txn{
		{Lock: fakeLock{}, Then: ops(kvstore.MaxLockedTxnOps + 1)},
		{Lock: fakeLock{}, Else: ops(kvstore.MaxLockedTxnOps + 1)},
		{Lock: fakeLock{}, If: cmps(kvstore.MaxLockedTxnOps + 1)},
	} {
		err := check(txn)
		require.ErrorIs(t, err, kvstore.ErrInvalidTxn)
		require.ErrorContains(t, err, "fenced on a lock")
	}
}

// Prefixes count twice (key and range end; the empty prefix is "\x00"
// twice), keys once, the fence's lock key as its path and a 16-digit lease.
func TestTxnSizeEdge(t *testing.T) {
	const limit = 10_000
	room := limit - RequestOverhead - TxnOpOverhead
	fits := func(txn kvstore.Txn, fence string) bool {
		_, err := Txn(txn, limit, fence)
		if err != nil {
			require.ErrorIs(t, err, kvstore.ErrValueTooLarge)
		}
		return err == nil
	}
	prefix := func(n int) string { return strings.Repeat("p", n) }
	require.True(t, fits(kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpNoPrefix(prefix(room / 2))}}, ""))
	require.False(t, fits(kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpNoPrefix(prefix(room/2 + 1))}}, ""))
	require.True(t, fits(kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpPrefixValue(prefix(room/2-1), []byte("vv"))}}, ""))
	require.False(t, fits(kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpPrefixValue(prefix(room/2), []byte("vv"))}}, ""))
	require.True(t, fits(kvstore.Txn{Then: []kvstore.Op{kvstore.OpList(prefix(room/2), 0)}}, ""))
	require.False(t, fits(kvstore.Txn{Else: []kvstore.Op{kvstore.OpList(prefix(room/2+1), 0)}}, ""))
	require.True(t, fits(kvstore.Txn{Then: []kvstore.Op{kvstore.OpGet(prefix(room))}}, ""), "a key counts once")
	require.False(t, fits(kvstore.Txn{Then: []kvstore.Op{kvstore.OpGet(prefix(room + 1))}}, ""))

	// Fenced: the lock key counts as path + "/" + 16 digits, whatever
	// the backend's lease ID, plus the nesting.
	fenced := room - len("lock/") - 16 - 2*TxnOpOverhead
	for _, fence := range []string{"lock/1", "lock/0123456789abcdef"} {
		require.True(t, fits(kvstore.Txn{Lock: fakeLock{}, Then: []kvstore.Op{kvstore.OpGet(prefix(fenced))}}, fence), fence)
		require.False(t, fits(kvstore.Txn{Lock: fakeLock{}, Then: []kvstore.Op{kvstore.OpGet(prefix(fenced + 1))}}, fence), fence)
	}

	require.NoError(t, Prefix(prefix((DefaultMaxRequestBytes-RequestOverhead)/2)))
	require.ErrorIs(t, Prefix(prefix((DefaultMaxRequestBytes-RequestOverhead)/2+1)), kvstore.ErrValueTooLarge)
	require.NoError(t, Key(prefix(DefaultMaxRequestBytes-RequestOverhead)))
}
