package conformance

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// The txn cases check kvstore.Transactional, the optional capability both
// backends of this module implement.
func txnCases() []Case {
	return []Case{
		{"ThenElse", testTxnThenElse},
		{"NoPrefix", testTxnNoPrefix},
		{"Revisions", testTxnRevisions},
		{"Invalid", testTxnInvalid},
		{"OpsEdge", testTxnOpsEdge},
		{"PrefixSizeEdge", testTxnPrefixSizeEdge},
		{"LeaseBookkeeping", testTxnLeaseBookkeeping},
		{"LeaseVanished", testTxnLeaseVanished},
		{"LockFence", testTxnLockFence},
		{"EmptyValue", testTxnEmptyValue},
	}
}

// txner returns c as a kvstore.Transactional, failing the case if it is not.
func txner(t testing.TB, c kvstore.BackendOperations) kvstore.Transactional {
	t.Helper()
	tx, ok := c.(kvstore.Transactional)
	require.True(t, ok, "%T does not implement kvstore.Transactional", c)
	return tx
}

func testTxnThenElse(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	create := kvstore.Txn{
		If:   []kvstore.Cmp{kvstore.CmpMissing(p + "id/1")},
		Then: []kvstore.Op{kvstore.OpPut(p+"id/1", []byte("a"), false), kvstore.OpPut(p+"value/a/n1", []byte("1"), false)},
		Else: []kvstore.Op{kvstore.OpGet(p + "id/1"), kvstore.OpList(p+"value/", 1), kvstore.OpGet(p + "missing")},
	}
	resp, err := tx.Txn(ctx, create)
	require.NoError(t, err)
	require.True(t, resp.Succeeded)
	require.Len(t, resp.Results, 2, "one result per operation of the branch that ran")
	requireKeys(t, c, p, "id/1", "value/a/n1")

	require.NoError(t, c.Update(ctx, p+"value/b/n1", []byte("2"), false))
	resp, err = tx.Txn(ctx, create)
	require.NoError(t, err)
	require.False(t, resp.Succeeded)
	require.Len(t, resp.Results, 3)
	require.Len(t, resp.Results[0].KVs, 1)
	require.Equal(t, p+"id/1", resp.Results[0].KVs[0].Key)
	require.Equal(t, []byte("a"), resp.Results[0].KVs[0].Data)
	require.Len(t, resp.Results[1].KVs, 1, "the list stops at its limit")
	require.Equal(t, p+"value/a/n1", resp.Results[1].KVs[0].Key, "lists come in key order")
	require.True(t, resp.Results[1].More)
	require.Empty(t, resp.Results[2].KVs, "a missing key reads as no key")

	del, err := tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{kvstore.OpDelete(p + "id/1"), kvstore.OpDelete(p + "missing")}})
	require.NoError(t, err)
	require.True(t, del.Succeeded, "an empty If holds")
	require.Equal(t, 1, del.Results[0].Deleted)
	require.Equal(t, 0, del.Results[1].Deleted)
	requireKeys(t, c, p, "value/a/n1", "value/b/n1")
}

// testTxnNoPrefix: "no key under prefix" is exact about the prefix, so keys
// that are prefixes of each other (a;b; and a;b;c;) do not collide once a
// separator ends the prefix.
func testTxnNoPrefix(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"value/a;b;c;/node", []byte("1"), false))
	for _, tc := range []struct {
		prefix string
		holds  bool
	}{
		{p + "value/a;b;/", true},
		{p + "value/a;b;c;/", false},
		{p + "value/a;b;", false},
		{p + "other/", true},
		{"", false},
	} {
		resp, err := tx.Txn(ctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpNoPrefix(tc.prefix)}})
		require.NoError(t, err)
		require.Equal(t, tc.holds, resp.Succeeded, "no key under %q", tc.prefix)
	}
	resp, err := tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{kvstore.OpList("", 1)}})
	require.NoError(t, err, "the empty prefix lists every key")
	require.Len(t, resp.Results[0].KVs, 1)

	require.NoError(t, c.Update(ctx, p+"value/a;b;c;/other", []byte("1"), false))
	for _, tc := range []struct {
		prefix, value string
		holds         bool
	}{
		{p + "value/a;b;c;/", "1", true},
		{p + "value/a;b;c;/", "2", false},
		{p + "value/none/", "1", false}, // an empty range never holds
	} {
		resp, err := tx.Txn(ctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpPrefixValue(tc.prefix, []byte(tc.value))}})
		require.NoError(t, err)
		require.Equal(t, tc.holds, resp.Succeeded, "every key under %q holds %q", tc.prefix, tc.value)
	}
	require.NoError(t, c.Update(ctx, p+"value/a;b;c;/third", []byte("2"), false))
	resp, err = tx.Txn(ctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpPrefixValue(p+"value/a;b;c;/", []byte("1"))}})
	require.NoError(t, err)
	require.False(t, resp.Succeeded, "one key with another value fails it")
}

func testTxnRevisions(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	resp, err := tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{
		kvstore.OpPut(p+"a", []byte("1"), false), kvstore.OpPut(p+"b", []byte("2"), false)}})
	require.NoError(t, err)
	pairs, err := c.ListPrefix(ctx, p)
	require.NoError(t, err)
	require.Equal(t, resp.Revision, pairs[p+"a"].ModRevision, "every write of a transaction is at its revision")
	require.Equal(t, resp.Revision, pairs[p+"b"].ModRevision)

	cas := func(rev uint64, value string) bool {
		t.Helper()
		r, err := tx.Txn(ctx, kvstore.Txn{
			If:   []kvstore.Cmp{kvstore.CmpModRevision(p+"a", rev), kvstore.CmpValue(p+"b", []byte("2"))},
			Then: []kvstore.Op{kvstore.OpPut(p+"a", []byte(value), false)},
		})
		require.NoError(t, err)
		return r.Succeeded
	}
	require.False(t, cas(resp.Revision+1000, "x"), "another mod revision")
	require.True(t, cas(resp.Revision, "3"))
	require.False(t, cas(resp.Revision, "4"), "the key changed since")
	v, err := c.Get(ctx, p+"a")
	require.NoError(t, err)
	require.Equal(t, []byte("3"), v)

	r, err := tx.Txn(ctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpModRevision(p+"none", 0), kvstore.CmpMissing(p + "none")}})
	require.NoError(t, err)
	require.True(t, r.Succeeded, "revision 0 and missing both mean no key")
}

func testTxnInvalid(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	tooMany := make([]kvstore.Op, kvstore.MaxTxnOps+1)
	for i := range tooMany {
		tooMany[i] = kvstore.OpPut(fmt.Sprintf("%sk%d", p, i), []byte("v"), false)
	}
	big := bytes.Repeat([]byte("x"), 700*1024)
	for name, tc := range map[string]struct {
		txn  kvstore.Txn
		want error
	}{
		"too many ops":    {kvstore.Txn{Then: tooMany}, kvstore.ErrInvalidTxn},
		"key twice":       {kvstore.Txn{Else: []kvstore.Op{kvstore.OpPut(p+"k", nil, false), kvstore.OpDelete(p + "k")}}, kvstore.ErrInvalidTxn},
		"empty put key":   {kvstore.Txn{Then: []kvstore.Op{kvstore.OpPut("", []byte("v"), false)}}, kvstore.ErrEmptyKey},
		"empty cmp key":   {kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpMissing("")}}, kvstore.ErrEmptyKey},
		"unknown op":      {kvstore.Txn{Then: []kvstore.Op{{Key: p + "k"}}}, kvstore.ErrInvalidTxn},
		"over the limit":  {kvstore.Txn{Then: []kvstore.Op{kvstore.OpPut(p+"a", big, false), kvstore.OpPut(p+"b", big, false), kvstore.OpPut(p+"c", big, false)}}, kvstore.ErrValueTooLarge},
		"foreign locker":  {kvstore.Txn{Lock: foreignLocker{}, Then: []kvstore.Op{kvstore.OpPut(p+"k", nil, false)}}, kvstore.ErrForeignLocker},
		"negative limit":  {kvstore.Txn{Then: []kvstore.Op{kvstore.OpList(p, -1)}}, kvstore.ErrInvalidTxn},
		"unknown compare": {kvstore.Txn{If: []kvstore.Cmp{{Key: p + "k"}}}, kvstore.ErrInvalidTxn},
	} {
		_, err := tx.Txn(ctx, tc.txn)
		require.ErrorIs(t, err, tc.want, name)
	}
	requireKeys(t, c, p)
}

func testTxnLeaseBookkeeping(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, p, nil, &kvstore.ExtraOptions{LeaseTTL: shortLeaseTTL})
	tx, ctx := txner(t, c), caseCtx(t)
	var lost observed
	c.RegisterLeaseExpiredObserver(p, lost.fn)

	require.NoError(t, c.Update(ctx, p+"anchor", []byte("v"), true))
	require.NoError(t, c.Update(ctx, p+"moved", []byte("v"), true))
	resp, err := tx.Txn(ctx, kvstore.Txn{
		If:   []kvstore.Cmp{kvstore.CmpMissing(p + "anchor")},
		Then: []kvstore.Op{kvstore.OpPut(p+"not-run", []byte("v"), true)},
		Else: []kvstore.Op{kvstore.OpPut(p+"ran", []byte("v"), true), kvstore.OpPut(p+"moved", []byte("v"), false)},
	})
	require.NoError(t, err)
	require.False(t, resp.Succeeded)
	lease := modLease(t, c, p+"anchor")
	require.Equal(t, lease, modLease(t, c, p+"ran"), "a leased put shares the client's lease")
	require.Zero(t, modLease(t, c, p+"moved"), "a put without lease takes the key off its lease")

	b.RevokeLease(t, lease)
	require.Eventually(t, func() bool { s := lost.snapshot(); return s[p+"anchor"] == 1 && s[p+"ran"] == 1 },
		leaseWait, 10*time.Millisecond, "the observer never heard of the leased keys: %v", lost.snapshot())
	require.Equal(t, map[string]int{p + "anchor": 1, p + "ran": 1}, lost.snapshot(),
		"neither a put that did not run nor a key moved off the lease is reported lost")
	requireKeys(t, c, p, "moved")
}

func testTxnLockFence(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	guarded := func(value string) kvstore.Txn {
		return kvstore.Txn{
			Lock: lock,
			If:   []kvstore.Cmp{kvstore.CmpMissing(p + "data/gate")},
			Then: []kvstore.Op{kvstore.OpPut(p+"data/k", []byte(value), false)},
			Else: []kvstore.Op{kvstore.OpGet(p + "data/gate")},
		}
	}
	resp, err := tx.Txn(ctx, guarded("held"))
	require.NoError(t, err)
	require.True(t, resp.Succeeded)
	require.NoError(t, c.Update(ctx, p+"data/gate", []byte("g"), false))
	resp, err = tx.Txn(ctx, guarded("gated"))
	require.NoError(t, err)
	require.False(t, resp.Succeeded, "a failed comparison under a held lock takes the Else branch")
	require.Len(t, resp.Results[0].KVs, 1)

	for k := range lockKeysUnder(t, c, p+"lock") {
		require.NoError(t, c.Delete(ctx, k))
	}
	resp, err = tx.Txn(ctx, guarded("lost"))
	require.Nil(t, resp)
	require.True(t, err == kvstore.ErrLockLeaseExpired, "a lost lock is ErrLockLeaseExpired itself, got %v", err)
	v, err := c.Get(ctx, p+"data/k")
	require.NoError(t, err)
	require.Equal(t, []byte("held"), v, "nothing ran once the lock was gone")
	require.NoError(t, lock.Unlock(ctx))
}

func testTxnEmptyValue(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	resp, err := tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{kvstore.OpPut(p+"empty", nil, false)}})
	require.NoError(t, err)
	require.True(t, resp.Succeeded)
	resp, err = tx.Txn(ctx, kvstore.Txn{
		If:   []kvstore.Cmp{kvstore.CmpValue(p+"empty", nil)},
		Then: []kvstore.Op{kvstore.OpGet(p + "empty")},
	})
	require.NoError(t, err)
	require.True(t, resp.Succeeded, "an empty value compares equal to an empty value")
	require.Len(t, resp.Results[0].KVs, 1)
	require.NotNil(t, resp.Results[0].KVs[0].Data, "an existing empty value is not nil")
	require.Empty(t, resp.Results[0].KVs[0].Data)
}

// testTxnLeaseVanished: a leased put whose lease the server dropped before
// the client noticed is retried once on a fresh lease, like Update.
func testTxnLeaseVanished(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	tx, ctx := txner(t, c), caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"a", []byte("v"), true))
	old := modLease(t, c, p+"a")
	b.RevokeLease(t, old)
	resp, err := tx.Txn(ctx, kvstore.Txn{Then: []kvstore.Op{kvstore.OpPut(p+"b", []byte("v"), true)}})
	require.NoError(t, err)
	require.True(t, resp.Succeeded)
	fresh := modLease(t, c, p+"b")
	require.NotZero(t, fresh)
	require.NotEqual(t, old, fresh, "the put went to a fresh lease")
}
