package conformance

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// maxRequestBytes is etcd's default --max-request-bytes, the limit both
// backends check writes against.
const maxRequestBytes = 1536 * 1024

func kvCases() []Case {
	return []Case{
		{"GetMissing", testGetMissing},
		{"UpdateGet", testUpdateGet},
		{"BinaryValues", testBinaryValues},
		{"UpdateOverwrite", testUpdateOverwrite},
		{"CreateOnly", testCreateOnly},
		{"UpdateIfDifferent", testUpdateIfDifferent},
		{"DeleteMissing", testDeleteMissing},
		{"DeleteThenGet", testDeleteThenGet},
		{"DeletePrefix", testDeletePrefix},
		{"ListPrefix", testListPrefix},
		{"EmptyKey", testEmptyKey},
		{"ValueTooLarge", testValueTooLarge},
		{"LargeValue", testLargeValue},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"SecondClient", testSecondClient},
		{"Closed", testClosed},
	}
}

func testGetMissing(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	v, err := c.Get(caseCtx(t), p+"missing")
	require.NoError(t, err)
	require.Nil(t, v)
}

func testUpdateGet(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"k", []byte("value"), false))
	v, err := c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("value"), v)
}

func testBinaryValues(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	values := map[string][]byte{
		"nul":                  {0, 0, 0},
		"all":                  all,
		"invalid":              {0xff, 0xfe, 0xc3, 0x28},
		"key\x00with\xffbytes": []byte("v"),
	}
	for k, v := range values {
		require.NoError(t, c.Update(ctx, p+k, v, false))
	}
	for k, v := range values {
		got, err := c.Get(ctx, p+k)
		require.NoError(t, err)
		require.Equal(t, v, got, "key %q", k)
	}

	// An empty value is stored and reads back as an empty, non-nil slice:
	// nil means a missing key.
	for _, empty := range [][]byte{{}, nil} {
		require.NoError(t, c.Update(ctx, p+"empty", empty, false))
		got, err := c.Get(ctx, p+"empty")
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)
		pairs, err := c.ListPrefix(ctx, p+"empty")
		require.NoError(t, err)
		require.Contains(t, pairs, p+"empty")
		require.Empty(t, pairs[p+"empty"].Data)
		require.NotZero(t, pairs[p+"empty"].ModRevision)
	}
}

func testUpdateOverwrite(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"k", []byte("v1"), false))
	first := modRevision(t, c, p+"k")
	require.NoError(t, c.Update(ctx, p+"k", []byte("v2"), false))
	v, err := c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), v)
	require.Greater(t, modRevision(t, c, p+"k"), first)
}

func testCreateOnly(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	created, err := c.CreateOnly(ctx, p+"k", []byte("first"), false)
	require.NoError(t, err)
	require.True(t, created)
	rev := modRevision(t, c, p+"k")

	created, err = c.CreateOnly(ctx, p+"k", []byte("second"), false)
	require.NoError(t, err, "an existing key is not an error")
	require.False(t, created)
	v, err := c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("first"), v, "value untouched")
	require.Equal(t, rev, modRevision(t, c, p+"k"), "nothing written")

	// A deleted key can be created again.
	require.NoError(t, c.Delete(ctx, p+"k"))
	created, err = c.CreateOnly(ctx, p+"k", []byte("third"), true)
	require.NoError(t, err)
	require.True(t, created)
	pairs, err := c.ListPrefix(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("third"), pairs[p+"k"].Data)
	require.NotZero(t, pairs[p+"k"].LeaseID)
}

func testUpdateIfDifferent(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	k := p + "k"

	steps := []struct {
		name  string
		value string
		lease bool
		want  bool
	}{
		{"new key", "v1", false, true},
		{"same value", "v1", false, false},
		{"different value", "v2", false, true},
		{"same value, now with lease", "v2", true, true},
		{"same value and lease", "v2", true, false},
		{"same value, lease dropped", "v2", false, true},
		{"same value, without lease again", "v2", false, false},
	}
	for _, s := range steps {
		before := modRevision(t, c, k)
		written, err := c.UpdateIfDifferent(ctx, k, []byte(s.value), s.lease)
		require.NoError(t, err, s.name)
		require.Equal(t, s.want, written, s.name)
		pairs, err := c.ListPrefix(ctx, k)
		require.NoError(t, err)
		got := pairs[k]
		require.Equal(t, []byte(s.value), got.Data, s.name)
		require.Equal(t, s.lease, got.LeaseID != 0, "%s: lease attachment", s.name)
		if written {
			require.Greater(t, got.ModRevision, before, "%s: must have written", s.name)
		} else {
			require.Equal(t, before, got.ModRevision, "%s: must not have written", s.name)
		}
	}
}

func testDeleteMissing(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	require.NoError(t, c.Delete(caseCtx(t), p+"missing"))
}

func testDeleteThenGet(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"k", []byte("v"), true))
	require.NoError(t, c.Delete(ctx, p+"k"))
	v, err := c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Nil(t, v)
	pairs, err := c.ListPrefix(ctx, p)
	require.NoError(t, err)
	require.Empty(t, pairs)
	require.NoError(t, c.Delete(ctx, p+"k"), "deleting twice is fine")
}

func testDeletePrefix(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	for _, k := range []string{"a/b", "a/bc", "a/b/c", "a/x", "a/", "other"} {
		require.NoError(t, c.Update(ctx, p+k, []byte(k), k == "a/b/c"))
	}
	// A string prefix, not a path: "a/b" takes "a/bc" along. Callers that
	// mean a directory pass "a/b/".
	require.NoError(t, c.DeletePrefix(ctx, p+"a/b"))
	requireKeys(t, c, p, "a/", "a/x", "other")

	require.NoError(t, c.DeletePrefix(ctx, p+"nothing/here"), "an empty prefix range is fine")
	require.NoError(t, c.DeletePrefix(ctx, p+"a/"))
	requireKeys(t, c, p, "other")
}

func testListPrefix(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"dir/plain", []byte("1"), false))
	require.NoError(t, c.Update(ctx, p+"dir/leased", []byte("2"), true))
	require.NoError(t, c.Update(ctx, p+"dirx", []byte("3"), false))
	require.NoError(t, c.Update(ctx, p+"outside", []byte("4"), false))

	pairs, err := c.ListPrefix(ctx, p+"dir/")
	require.NoError(t, err)
	require.Len(t, pairs, 2)
	require.Equal(t, []byte("1"), pairs[p+"dir/plain"].Data)
	require.Equal(t, []byte("2"), pairs[p+"dir/leased"].Data)
	require.Zero(t, pairs[p+"dir/plain"].LeaseID)
	require.NotZero(t, pairs[p+"dir/leased"].LeaseID)
	for k, v := range pairs {
		require.NotZero(t, v.ModRevision, k)
	}

	pairs, err = c.ListPrefix(ctx, p+"dir")
	require.NoError(t, err)
	require.Len(t, pairs, 3, "a string prefix")

	pairs, err = c.ListPrefix(ctx, p+"none/")
	require.NoError(t, err)
	require.Empty(t, pairs)
}

func testEmptyKey(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	v := []byte("v")
	ops := map[string]func() error{
		"Get":         func() error { _, err := c.Get(ctx, ""); return err },
		"Update":      func() error { return c.Update(ctx, "", v, false) },
		"UpdateLease": func() error { return c.Update(ctx, "", v, true) },
		"CreateOnly":  func() error { _, err := c.CreateOnly(ctx, "", v, false); return err },
		"UpdateIfDifferent": func() error {
			_, err := c.UpdateIfDifferent(ctx, "", v, false)
			return err
		},
		"Delete": func() error { return c.Delete(ctx, "") },
	}
	for name, op := range ops {
		err := op()
		require.ErrorIs(t, err, kvstore.ErrEmptyKey, name)
	}
	all, err := c.ListPrefix(ctx, "")
	require.NoError(t, err)
	require.NotContains(t, all, "", "nothing may have been written")
}

func testValueTooLarge(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	k := p + "big"
	big := make([]byte, maxRequestBytes+1)
	ops := map[string]func() error{
		"Update":      func() error { return c.Update(ctx, k, big, false) },
		"UpdateLease": func() error { return c.Update(ctx, k, big, true) },
		"CreateOnly":  func() error { _, err := c.CreateOnly(ctx, k, big, false); return err },
		"UpdateIfDifferent": func() error {
			_, err := c.UpdateIfDifferent(ctx, k, big, false)
			return err
		},
	}
	for name, op := range ops {
		err := op()
		require.ErrorIs(t, err, kvstore.ErrValueTooLarge, name)
		require.ErrorContains(t, err, `"`+k+`"`, "%s: the error names the key", name)
		require.ErrorContains(t, err, "1.5 MiB", "%s: the error names the limit", name)
	}
	v, err := c.Get(ctx, k)
	require.NoError(t, err)
	require.Nil(t, v, "nothing may have been written")
}

func testLargeValue(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	v := bytes.Repeat([]byte("0123456789abcdef"), (1<<20)/16)
	require.NoError(t, c.Update(ctx, p+"big", v, false))
	got, err := c.Get(ctx, p+"big")
	require.NoError(t, err)
	require.True(t, bytes.Equal(v, got), "1 MiB value reads back equal")
}

func testConcurrentUpdates(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				k := keyf(p, "w%d/k%d", w, i)
				errs <- c.Update(ctx, k, []byte(k), i%2 == 0)
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
	require.Len(t, pairs, workers*perWorker)
	for k, v := range pairs {
		require.Equal(t, k, string(v.Data))
	}
}

func testSecondClient(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c1 := newCaseClient(t, b, p)
	c2 := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c1.Update(ctx, p+"k", []byte("from c1"), true))
	v, err := c2.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("from c1"), v)

	created, err := c2.CreateOnly(ctx, p+"k", []byte("from c2"), false)
	require.NoError(t, err)
	require.False(t, created)
	require.NoError(t, c2.Delete(ctx, p+"k"))
	v, err = c1.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Nil(t, v)
}

func testClosed(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := b.New(t, nil, nil)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"k", []byte("v"), false))
	c.Close()
	c.Close() // idempotent

	v := []byte("v")
	ops := map[string]func() error{
		"Get":         func() error { _, err := c.Get(ctx, p+"k"); return err },
		"Update":      func() error { return c.Update(ctx, p+"k", v, false) },
		"UpdateLease": func() error { return c.Update(ctx, p+"k", v, true) },
		"CreateOnly":  func() error { _, err := c.CreateOnly(ctx, p+"new", v, false); return err },
		"UpdateIfDifferent": func() error {
			_, err := c.UpdateIfDifferent(ctx, p+"k", v, false)
			return err
		},
		"Delete":       func() error { return c.Delete(ctx, p+"k") },
		"DeletePrefix": func() error { return c.DeletePrefix(ctx, p) },
		"ListPrefix":   func() error { _, err := c.ListPrefix(ctx, p); return err },
	}
	for name, op := range ops {
		err := op()
		require.ErrorIs(t, err, kvstore.ErrClientClosed, name)
		require.True(t, strings.HasPrefix(err.Error(), "kvstore: "), "%s: %v", name, err)
	}

	// The data is still there for other clients.
	other := newCaseClient(t, b, p)
	got, err := other.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, v, got)
}

// modRevision returns the ModRevision of key, 0 if it does not exist.
func modRevision(t testing.TB, c kvstore.BackendOperations, key string) uint64 {
	t.Helper()
	pairs, err := c.ListPrefix(caseCtx(t), key)
	require.NoError(t, err)
	return pairs[key].ModRevision
}

// requireKeys requires the keys under prefix to be exactly want (relative
// to prefix).
func requireKeys(t testing.TB, c kvstore.BackendOperations, prefix string, want ...string) {
	t.Helper()
	pairs, err := c.ListPrefix(caseCtx(t), prefix)
	require.NoError(t, err)
	got := make([]string, 0, len(pairs))
	for k := range pairs {
		got = append(got, strings.TrimPrefix(k, prefix))
	}
	require.ElementsMatch(t, want, got)
}
