package conformance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// The size accounting both backends apply to a transaction before sending
// it (client/internal/validate): a fixed request overhead, a per-operation
// overhead, every key once, every prefix twice (etcd sends the key and the
// range end), every value once, and for a fenced transaction the fence's
// lock key (its path, "/" and 16 hex digits) and the nesting.
const (
	txnRequestOverhead = 512
	txnOpOverhead      = 32
)

// prefixFilling returns a prefix starting with p, of the length that makes a
// transaction whose other parts take used bytes exactly fill the request
// limit, and that prefix with one more byte.
func prefixFilling(t testing.TB, p string, used int) (fits, over string) {
	n := (maxRequestBytes - used) / 2
	require.Zero(t, (maxRequestBytes-used)%2, "the used size must leave an even room")
	fits = p + strings.Repeat("x", n-len(p))
	return fits, fits + "x"
}

// testTxnOpsEdge: a transaction may hold MaxTxnOps comparisons and
// operations per branch, and one fenced on a lock MaxLockedTxnOps (etcd nests
// it in the fence's transaction, which takes one). Both backends apply the
// largest and refuse one more with ErrInvalidTxn, writing nothing.
func testTxnOpsEdge(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock(ctx)) }()

	puts := func(dir string, n int) []kvstore.Op {
		ops := make([]kvstore.Op, n)
		for i := range ops {
			ops[i] = kvstore.OpPut(fmt.Sprintf("%s%s/%03d", p, dir, i), []byte("v"), false)
		}
		return ops
	}
	cmps := func(n int) []kvstore.Cmp {
		out := make([]kvstore.Cmp, n)
		for i := range out {
			out[i] = kvstore.CmpMissing(fmt.Sprintf("%sabsent/%03d", p, i))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		txn  kvstore.Txn
		ok   bool
	}{
		{"then at MaxTxnOps", kvstore.Txn{Then: puts("then", kvstore.MaxTxnOps)}, true},
		{"then over MaxTxnOps", kvstore.Txn{Then: puts("then-over", kvstore.MaxTxnOps+1)}, false},
		{"compares at MaxTxnOps", kvstore.Txn{If: cmps(kvstore.MaxTxnOps), Then: puts("cmps", 1)}, true},
		{"fenced then at MaxLockedTxnOps", kvstore.Txn{Lock: lock, Then: puts("fenced", kvstore.MaxLockedTxnOps)}, true},
		{"fenced then over", kvstore.Txn{Lock: lock, Then: puts("fenced-over", kvstore.MaxLockedTxnOps+1)}, false},
		{"fenced else over", kvstore.Txn{Lock: lock, If: cmps(1), Else: puts("fenced-else-over", kvstore.MaxLockedTxnOps+1)}, false},
		{"fenced compares at MaxLockedTxnOps", kvstore.Txn{Lock: lock, If: cmps(kvstore.MaxLockedTxnOps), Then: puts("fenced-cmps", 1)}, true},
		{"fenced compares over", kvstore.Txn{Lock: lock, If: cmps(kvstore.MaxLockedTxnOps + 1), Then: puts("fenced-cmps-over", 1)}, false},
	} {
		resp, err := tx.Txn(ctx, tc.txn)
		if tc.ok {
			require.NoError(t, err, tc.name)
			require.True(t, resp.Succeeded, tc.name)
			continue
		}
		require.ErrorIs(t, err, kvstore.ErrInvalidTxn, tc.name)
		require.True(t, kvstore.RefusedBeforeSending(err), tc.name)
	}
	pairs, err := c.ListPrefix(ctx, p)
	require.NoError(t, err)
	counts := map[string]int{}
	for k := range pairs {
		if dir, _, ok := strings.Cut(strings.TrimPrefix(k, p), "/"); ok && dir != "lock" {
			counts[dir]++
		}
	}
	require.Equal(t, map[string]int{"then": kvstore.MaxTxnOps, "cmps": 1, "fenced": kvstore.MaxLockedTxnOps, "fenced-cmps": 1}, counts,
		"what was applied, and nothing of what was refused")
}

// testTxnPrefixSizeEdge: a prefix comparison or list sends its prefix twice
// (key and range end), so it counts twice against the request limit. A
// transaction that exactly fills the limit is applied by both backends, one
// byte more is refused by both with ErrValueTooLarge, before sending (etcd
// would otherwise refuse it with a raw error, or apply what the memory
// backend refuses).
func testTxnPrefixSizeEdge(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock(ctx)) }()
	fenceSize := len(p+"lock") + 17 + 2*txnOpOverhead

	fits, over := prefixFilling(t, p+"cmp-", txnRequestOverhead+txnOpOverhead)
	resp, err := tx.Txn(ctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpNoPrefix(fits)}})
	require.NoError(t, err, "a prefix comparison that fills the limit")
	require.True(t, resp.Succeeded)
	_, err = tx.Txn(ctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpNoPrefix(over)}})
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge, "a prefix comparison one byte over")

	fits, over = prefixFilling(t, p+"list-", txnRequestOverhead+txnOpOverhead)
	resp, err = tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{kvstore.OpList(fits, 0)}})
	require.NoError(t, err, "a list that fills the limit")
	require.True(t, resp.Succeeded)
	_, err = tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{kvstore.OpList(over, 0)}})
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge, "a list one byte over")

	fits, over = prefixFilling(t, p+"fenced-", txnRequestOverhead+fenceSize+txnOpOverhead)
	resp, err = tx.Txn(ctx, kvstore.Txn{Lock: lock, If: []kvstore.Cmp{kvstore.CmpPrefixValue(fits, []byte{})}})
	require.NoError(t, err, "a fenced prefix comparison that fills the limit")
	require.False(t, resp.Succeeded, "no key under the prefix")
	_, err = tx.Txn(ctx, kvstore.Txn{Lock: lock, If: []kvstore.Cmp{kvstore.CmpPrefixValue(over, []byte{})}})
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge, "a fenced prefix comparison one byte over")
	require.True(t, kvstore.RefusedBeforeSending(err))
}
