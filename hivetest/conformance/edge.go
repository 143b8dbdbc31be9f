package conformance

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// The edge cases pin behaviour at the borders of the API, each found by
// probing the backends as a hostile user would: the empty prefix, sizes near
// the server's request limit, lease bookkeeping after a key leaves its lease
// or a fenced write is refused, nested lock paths, and empty values.
func edgeCases() []Case {
	return []Case{
		{"EmptyPrefixWatch", testEmptyPrefixWatch},
		{"LargeValueEveryWrite", testLargeValueEveryWrite},
		{"KeyTooLarge", testKeyTooLarge},
		{"KeyMovedOffLease", testKeyMovedOffLease},
		{"RefusedFencedWriteUnbooked", testRefusedFencedWriteUnbooked},
		{"NestedLockPaths", testNestedLockPaths},
		{"EmptyValueExists", testEmptyValueExists},
		{"CloseReleasesLocks", testCloseReleasesLocks},
	}
}

// testEmptyPrefixWatch: the empty prefix means every key, for watches too.
func testEmptyPrefixWatch(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"before", []byte("1"), false))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := c.ListAndWatch(wctx, "", 1024)
	rec := RecordWatch(t, w)
	rec.WaitListDone(t)
	require.Contains(t, rec.State(), p+"before", "the list covers every key")
	require.NoError(t, c.Update(ctx, p+"after", []byte("2"), false))
	require.Eventually(t, func() bool { _, ok := rec.State()[p+"after"]; return ok },
		watchWait, 5*time.Millisecond, "the watch covers every key")
	cancel()
	<-rec.Closed()
	require.NoError(t, rec.Err())
}

// testLargeValueEveryWrite: every write operation accepts a value that Update
// accepts, although some carry the value twice (compare and put).
func testLargeValueEveryWrite(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), (1200<<10)/16)
	other := append(bytes.Clone(big[:len(big)-1]), '!')
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock(ctx)) }()

	require.NoError(t, c.Update(ctx, p+"u", big, false))
	for name, op := range map[string]func(v []byte) (bool, error){
		"UpdateIfDifferent": func(v []byte) (bool, error) { return c.UpdateIfDifferent(ctx, p+"d", v, true) },
		"UpdateIfDifferentIfLocked": func(v []byte) (bool, error) {
			return c.UpdateIfDifferentIfLocked(ctx, p+"dl", v, false, lock)
		},
	} {
		for i, tc := range []struct {
			value   []byte
			written bool
		}{{big, true}, {big, false}, {other, true}} {
			written, err := op(tc.value)
			require.NoError(t, err, "%s #%d", name, i)
			require.Equal(t, tc.written, written, "%s #%d", name, i)
		}
	}
	created, err := c.CreateOnly(ctx, p+"c", big, false)
	require.NoError(t, err)
	require.True(t, created)
	created, err = c.CreateOnlyIfLocked(ctx, p+"cl", big, true, lock)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, c.UpdateIfLocked(ctx, p+"ul", big, false, lock))
	for _, k := range []string{"u", "c", "cl", "ul"} {
		v, err := c.Get(ctx, p+k)
		require.NoError(t, err)
		require.Equal(t, big, v, k)
	}
	for _, k := range []string{"d", "dl"} {
		v, err := c.Get(ctx, p+k)
		require.NoError(t, err)
		require.Equal(t, other, v, k)
	}
}

// testKeyTooLarge: a key over the request limit is refused before it is sent
// by every operation, with an error that matches ErrValueTooLarge and quotes
// only the start of the key.
func testKeyTooLarge(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	key := p + strings.Repeat("k", 1600<<10)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock(ctx)) }()
	ops := map[string]func() error{
		"Get":                func() error { _, err := c.Get(ctx, key); return err },
		"GetIfLocked":        func() error { _, err := c.GetIfLocked(ctx, key, lock); return err },
		"Delete":             func() error { return c.Delete(ctx, key) },
		"DeleteIfLocked":     func() error { return c.DeleteIfLocked(ctx, key, lock) },
		"DeletePrefix":       func() error { return c.DeletePrefix(ctx, key) },
		"ListPrefix":         func() error { _, err := c.ListPrefix(ctx, key); return err },
		"ListPrefixIfLocked": func() error { _, err := c.ListPrefixIfLocked(ctx, key, lock); return err },
		"Update":             func() error { return c.Update(ctx, key, nil, false) },
		"UpdateIfLocked":     func() error { return c.UpdateIfLocked(ctx, key, nil, false, lock) },
		"CreateOnly":         func() error { _, err := c.CreateOnly(ctx, key, nil, false); return err },
		"UpdateIfDifferent":  func() error { _, err := c.UpdateIfDifferent(ctx, key, nil, false); return err },
		"LockPath":           func() error { _, err := c.LockPath(ctx, key); return err },
	}
	for name, op := range ops {
		err := op()
		require.ErrorIs(t, err, kvstore.ErrValueTooLarge, name)
		require.Less(t, len(err.Error()), 1024, "%s: the error quotes only the start of the key", name)
		require.Contains(t, err.Error(), p, "%s: the error shows where the key starts", name)
	}
	requireKeys(t, c, p, "lock/"+lockKeyName(t, c, p+"lock"))
}

// lockKeyName returns the one lock key under path, relative to path/.
func lockKeyName(t testing.TB, c kvstore.BackendOperations, path string) string {
	t.Helper()
	keys := lockKeysUnder(t, c, path)
	require.Len(t, keys, 1)
	for k := range keys {
		return strings.TrimPrefix(k, path+"/")
	}
	return ""
}

// testKeyMovedOffLease: a key written without lease after a leased write is
// no longer on the lease, so its lease's end is not reported as its loss.
func testKeyMovedOffLease(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, p, nil, &kvstore.ExtraOptions{LeaseTTL: shortLeaseTTL})
	ctx := caseCtx(t)
	var lost observed
	c.RegisterLeaseExpiredObserver(p, lost.fn)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock(ctx)) }()

	moves := map[string]func(k string) error{
		"update": func(k string) error { return c.Update(ctx, k, []byte("plain"), false) },
		"update-if-different": func(k string) error {
			_, err := c.UpdateIfDifferent(ctx, k, []byte("plain"), false)
			return err
		},
		"update-if-locked": func(k string) error { return c.UpdateIfLocked(ctx, k, []byte("plain"), false, lock) },
		"update-if-different-if-locked": func(k string) error {
			_, err := c.UpdateIfDifferentIfLocked(ctx, k, []byte("plain"), false, lock)
			return err
		},
	}
	require.NoError(t, c.Update(ctx, p+"anchor", []byte("v"), true))
	for name, move := range moves {
		require.NoError(t, c.Update(ctx, p+name, []byte("leased"), true))
		require.NoError(t, move(p+name), name)
		require.Zero(t, modLease(t, c, p+name), "%s: the key is off the lease", name)
	}
	b.RevokeLease(t, modLease(t, c, p+"anchor"))
	require.Eventually(t, func() bool { return lost.snapshot()[p+"anchor"] == 1 },
		leaseWait, 10*time.Millisecond, "the anchor's loss was never reported")
	require.Equal(t, map[string]int{p + "anchor": 1}, lost.snapshot(), "only keys on the lease are reported lost")
	for name := range moves {
		v, err := c.Get(ctx, p+name)
		require.NoError(t, err)
		require.Equal(t, []byte("plain"), v, name)
	}
}

// testRefusedFencedWriteUnbooked: a fenced write refused for a lost lock wrote
// nothing, so its key must not be reported lost when the lease ends.
func testRefusedFencedWriteUnbooked(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, p, nil, &kvstore.ExtraOptions{LeaseTTL: shortLeaseTTL})
	ctx := caseCtx(t)
	var lost observed
	c.RegisterLeaseExpiredObserver(p, lost.fn)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	for k := range lockKeysUnder(t, c, p+"lock") {
		require.NoError(t, c.Delete(ctx, k))
	}
	require.ErrorIs(t, c.UpdateIfLocked(ctx, p+"u", []byte("v"), true, lock), kvstore.ErrLockLeaseExpired)
	_, err = c.UpdateIfDifferentIfLocked(ctx, p+"d", []byte("v"), true, lock)
	require.ErrorIs(t, err, kvstore.ErrLockLeaseExpired)
	_, err = c.CreateOnlyIfLocked(ctx, p+"c", []byte("v"), true, lock)
	require.ErrorIs(t, err, kvstore.ErrLockLeaseExpired)
	require.NoError(t, lock.Unlock(ctx))

	require.NoError(t, c.Update(ctx, p+"anchor", []byte("v"), true))
	b.RevokeLease(t, modLease(t, c, p+"anchor"))
	require.Eventually(t, func() bool { return lost.snapshot()[p+"anchor"] == 1 },
		leaseWait, 10*time.Millisecond, "the anchor's loss was never reported")
	require.Equal(t, map[string]int{p + "anchor": 1}, lost.snapshot(), "refused writes are not reported lost")
}

// testNestedLockPaths: a lock on a path waits only for holders and waiters of
// exactly that path, not for locks on paths below or above it.
func testNestedLockPaths(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx, cancel := context.WithTimeout(caseCtx(t), 20*time.Second)
	defer cancel()
	child, err := c.LockPath(ctx, p+"x/y")
	require.NoError(t, err)
	parent, err := c.LockPath(ctx, p+"x")
	require.NoError(t, err, "holding x/y must not block x")
	grandchild, err := c.LockPath(ctx, p+"x/y/z")
	require.NoError(t, err, "holding x and x/y must not block x/y/z")
	for _, l := range []kvstore.KVLocker{grandchild, parent, child} {
		require.NoError(t, l.Unlock(ctx))
	}
}

// testEmptyValueExists: an existing key with an empty value reads as an empty,
// non-nil slice; only a missing key reads as nil.
func testEmptyValueExists(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock(ctx)) }()
	for _, empty := range [][]byte{{}, nil} {
		require.NoError(t, c.Update(ctx, p+"empty", empty, false))
		got, err := c.Get(ctx, p+"empty")
		require.NoError(t, err)
		require.NotNil(t, got, "an existing key")
		require.Empty(t, got)
		got, err = c.GetIfLocked(ctx, p+"empty", lock)
		require.NoError(t, err)
		require.NotNil(t, got, "an existing key, read under a lock")
		require.Empty(t, got)
	}
	got, err := c.Get(ctx, p+"missing")
	require.NoError(t, err)
	require.Nil(t, got)
	got, err = c.GetIfLocked(ctx, p+"missing", lock)
	require.NoError(t, err)
	require.Nil(t, got)
}

// testCloseReleasesLocks: Close revokes the lock lease, so a lock the client
// held is free at once for others instead of after the lock lease TTL.
func testCloseReleasesLocks(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	holder := b.New(t, nil, nil)
	other := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	_, err := holder.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	require.NoError(t, holder.Update(ctx, p+"data", []byte("v"), true))
	holder.Close()
	require.Empty(t, lockKeysUnder(t, other, p+"lock"), "the lock key went with the revoked lock lease")
	requireKeys(t, other, p, "data")
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := other.LockPath(lctx, p+"lock")
	require.NoError(t, err, "the lock is free at once")
	require.NoError(t, l.Unlock(ctx))
}
