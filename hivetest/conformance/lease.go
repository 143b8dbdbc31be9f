package conformance

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

func leaseCases() []Case {
	return []Case{
		{"SharedLease", testSharedLease},
		{"KeysPerLease", testKeysPerLease},
		{"ExpiryObserver", testExpiryObserver},
		{"InstanceObservers", testInstanceObservers},
		{"Regrant", testRegrant},
		{"ExpiryAfterClose", testExpiryAfterClose},
		{"CreateOnlyKeepsAttachment", testCreateOnlyKeepsAttachment},
	}
}

// shortLeaseTTL is a data lease TTL for cases that wait for an expiry or for
// the client to notice a revoked lease (the etcd client renews, and so
// notices, every TTL/3). etcd grants at least 2 s.
const shortLeaseTTL = 3 * time.Second

// expiryTTL is the data lease TTL of the case that waits for an expiry:
// the shortest etcd grants.
const expiryTTL = 2 * time.Second

// leaseWait bounds waits for lease events that take about one shortLeaseTTL.
const leaseWait = 30 * time.Second

func testSharedLease(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	for i := range 10 {
		require.NoError(t, c.Update(ctx, keyf(p, "leased/%d", i), []byte("v"), true))
	}
	require.NoError(t, c.Update(ctx, p+"plain", []byte("v"), false))

	pairs, err := c.ListPrefix(ctx, p+"leased/")
	require.NoError(t, err)
	require.Len(t, pairs, 10)
	ids := leaseIDs(pairs)
	require.Len(t, ids, 1, "the keys share one lease: %v", ids)
	require.NotContains(t, ids, int64(0))
	require.Zero(t, modLease(t, c, p+"plain"))
}

func testKeysPerLease(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	const keys, workers = kvstore.DefaultMaxKeysPerLease + 1, 8
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < keys; i += workers {
				errs <- c.Update(ctx, keyf(p, "%04d", i), []byte("v"), true)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	pairs, err := c.ListPrefix(ctx, p)
	require.NoError(t, err)
	require.Len(t, pairs, keys)
	ids := leaseIDs(pairs)
	require.Len(t, ids, 2, "1,000 keys per lease, then a new lease")
	counts := make([]int, 0, 2)
	for _, n := range ids {
		counts = append(counts, n)
	}
	require.ElementsMatch(t, []int{kvstore.DefaultMaxKeysPerLease, 1}, counts)
}

// observed records the keys an observer was called with.
type observed struct {
	mu   sync.Mutex
	keys map[string]int
}

func (o *observed) fn(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys == nil {
		o.keys = map[string]int{}
	}
	o.keys[key]++
}

func (o *observed) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.keys))
	for k, n := range o.keys {
		out[k] = n
	}
	return out
}

func testExpiryObserver(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, p, nil, &kvstore.ExtraOptions{LeaseTTL: shortLeaseTTL})
	other := newCaseClient(t, b, p)
	ctx := caseCtx(t)

	var (
		leased    = []string{p + "a/1", p + "a/2", p + "a/3"}
		all       observed // the whole prefix
		sub       observed // only a/
		unrelated observed // b/, which holds no leased key
		removed   observed // registered, then removed
		foreign   observed // an observer of another client
	)
	c.RegisterLeaseExpiredObserver(p, all.fn)
	c.RegisterLeaseExpiredObserver(p+"a/", sub.fn)
	c.RegisterLeaseExpiredObserver(p+"b/", unrelated.fn)
	c.RegisterLeaseExpiredObserver(p+"a/2", removed.fn)
	c.RegisterLeaseExpiredObserver(p+"a/2", nil)
	other.RegisterLeaseExpiredObserver(p, foreign.fn)

	for _, k := range leased {
		require.NoError(t, c.Update(ctx, k, []byte("v"), true))
	}
	require.NoError(t, c.Update(ctx, p+"b/plain", []byte("v"), false))
	id := modLease(t, c, leased[0])
	require.NotZero(t, id)

	b.RevokeLease(t, id)

	// The revoke deletes the keys at once; the client learns of it later.
	requireKeys(t, c, p, "b/plain")
	want := map[string]int{}
	for _, k := range leased {
		want[k] = 1
	}
	require.Eventually(t, func() bool { return len(sub.snapshot()) == len(want) },
		leaseWait, 10*time.Millisecond, "observer of a/ not called for every key: %v", sub.snapshot())
	require.Eventually(t, func() bool { return len(all.snapshot()) == len(want) },
		leaseWait, 10*time.Millisecond, "observer of the prefix not called for every key: %v", all.snapshot())
	require.Equal(t, want, sub.snapshot(), "each key once")
	require.Equal(t, want, all.snapshot(), "each key once")
	require.Empty(t, unrelated.snapshot(), "an observer of another prefix")
	require.Empty(t, removed.snapshot(), "a removed observer")
	require.Empty(t, foreign.snapshot(), "an observer of another client")
}

// testInstanceObservers: registrations made with ObserveLeaseExpired belong
// to their instance. An instance that closes (its stop, or the reference's
// RegisterLeaseExpiredObserver(prefix, nil) cleanup) must not silence another
// instance watching the same prefix of the same client: a replaced store or
// allocator keeps re-creating its keys on lease loss.
func testInstanceObservers(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, p, nil, &kvstore.ExtraOptions{LeaseTTL: shortLeaseTTL})
	ctx := caseCtx(t)

	var old, replacement, named, sub observed
	stopOld := c.ObserveLeaseExpired(p, old.fn)
	stopReplacement := c.ObserveLeaseExpired(p, replacement.fn)
	t.Cleanup(stopReplacement)
	stopSub := c.ObserveLeaseExpired(p+"a/", sub.fn)
	t.Cleanup(stopSub)
	c.RegisterLeaseExpiredObserver(p, named.fn)
	c.ObserveLeaseExpired(p, nil)() // registers nothing, stops nothing

	// The old instance closes: its stop and an old-style cleanup of the
	// prefix's per-prefix observer.
	stopOld()
	stopOld()
	c.RegisterLeaseExpiredObserver(p, nil)

	keys := []string{p + "a/1", p + "b/1"}
	for _, k := range keys {
		require.NoError(t, c.Update(ctx, k, []byte("v"), true))
	}
	b.RevokeLease(t, modLease(t, c, keys[0]))

	want := map[string]int{keys[0]: 1, keys[1]: 1}
	require.Eventually(t, func() bool { return len(replacement.snapshot()) == len(want) },
		leaseWait, 10*time.Millisecond, "the remaining registration was not called for every key: %v", replacement.snapshot())
	require.Equal(t, want, replacement.snapshot(), "each key once")
	require.Eventually(t, func() bool { return len(sub.snapshot()) == 1 },
		leaseWait, 10*time.Millisecond, "the registration of a/ was not called: %v", sub.snapshot())
	require.Equal(t, map[string]int{keys[0]: 1}, sub.snapshot())
	require.Empty(t, old.snapshot(), "a stopped registration")
	require.Empty(t, named.snapshot(), "a removed per-prefix observer")
}

// testCreateOnlyKeepsAttachment: a CreateOnly (or CreateOnlyIfLocked) that
// finds the key must not detach a key the client had attached to its lease
// by an earlier write, or the key's loss would go unreported to the
// observers.
func testCreateOnlyKeepsAttachment(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, p, nil, &kvstore.ExtraOptions{LeaseTTL: shortLeaseTTL})
	ctx := caseCtx(t)
	key, lockedKey := p+"k", p+"locked"
	var lost observed
	c.RegisterLeaseExpiredObserver(p, lost.fn)

	require.NoError(t, c.Update(ctx, key, []byte("v"), true))
	require.NoError(t, c.Update(ctx, lockedKey, []byte("v"), true))
	created, err := c.CreateOnly(ctx, key, []byte("other"), true)
	require.NoError(t, err)
	require.False(t, created)
	lock, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	created, err = c.CreateOnlyIfLocked(ctx, lockedKey, []byte("other"), true, lock)
	require.NoError(t, err)
	require.False(t, created)
	require.NoError(t, lock.Unlock(ctx))
	created, err = c.CreateOnly(ctx, p+"absent-then-written", []byte("v"), true)
	require.NoError(t, err)
	require.True(t, created)

	b.RevokeLease(t, modLease(t, c, key))
	require.Eventually(t, func() bool { s := lost.snapshot(); return s[key] == 1 && s[lockedKey] == 1 },
		leaseWait, 10*time.Millisecond, "the observer never heard of both keys: %v", lost.snapshot())
}

func testRegrant(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"k", []byte("v1"), true))
	old := modLease(t, c, p+"k")
	require.NotZero(t, old)

	b.RevokeLease(t, old)
	v, err := c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Nil(t, v, "the revoke took the key")

	// The next leased write must not fail on the dead lease.
	require.NoError(t, c.Update(ctx, p+"k", []byte("v2"), true))
	v, err = c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), v)
	fresh := modLease(t, c, p+"k")
	require.NotZero(t, fresh)
	require.NotEqual(t, old, fresh, "a new lease")

	// Later writes share the new lease, whatever their operation.
	created, err := c.CreateOnly(ctx, p+"k2", []byte("v"), true)
	require.NoError(t, err)
	require.True(t, created)
	written, err := c.UpdateIfDifferent(ctx, p+"k3", []byte("v"), true)
	require.NoError(t, err)
	require.True(t, written)
	pairs, err := c.ListPrefix(ctx, p)
	require.NoError(t, err)
	require.Equal(t, map[int64]int{fresh: 3}, leaseIDs(pairs))
}

func testExpiryAfterClose(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := b.New(t, nil, &kvstore.ExtraOptions{LeaseTTL: expiryTTL})
	watcher := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"leased", []byte("v"), true))
	require.NoError(t, c.Update(ctx, p+"plain", []byte("v"), false))

	// Close does not revoke: a restarting process must not make its keys
	// flap. They go when the lease runs out.
	c.Close()
	requireKeys(t, watcher, p, "leased", "plain")
	require.Eventually(t, func() bool {
		pairs, err := watcher.ListPrefix(ctx, p)
		return err == nil && len(pairs) == 1
	}, leaseWait, 50*time.Millisecond, "the leased key did not expire")
	requireKeys(t, watcher, p, "plain")
}

// leaseIDs counts the keys per lease.
func leaseIDs(pairs kvstore.KeyValuePairs) map[int64]int {
	ids := map[int64]int{}
	for _, v := range pairs {
		ids[v.LeaseID]++
	}
	return ids
}

// modLease returns the lease of key, 0 if none or if the key is missing.
func modLease(t testing.TB, c kvstore.BackendOperations, key string) int64 {
	t.Helper()
	pairs, err := c.ListPrefix(caseCtx(t), key)
	require.NoError(t, err)
	return pairs[key].LeaseID
}
