package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// Wiping the store takes an explicit --all; an empty --prefix (say, from an
// unset shell variable) is refused and deletes nothing. The test has a
// server of its own, since it deletes every key.
func TestCtlDeleteAll(t *testing.T) {
	srv := hivetest.StartServer(t)
	ctl := func(args ...string) (int, string, string) {
		return runCtl(append([]string{"--kvstore-opt", "etcd.address=" + srv.Endpoint()}, args...)...)
	}
	raw := srv.Client(t)
	// allKeys lists the store with a client independent of kvstorectl.
	allKeys := func() []string {
		t.Helper()
		resp, err := raw.Get(t.Context(), "", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		require.NoError(t, err)
		var keys []string
		for _, kv := range resp.Kvs {
			keys = append(keys, string(kv.Key))
		}
		return keys
	}
	// userKeys is allKeys without the quorum-check locks of kvstorectl's
	// own clients (InitLockPath/<random>/<lease>): a client that exits may
	// leave its last one behind until its lock lease ends.
	userKeys := func() []string {
		t.Helper()
		var keys []string
		for _, k := range allKeys() {
			if !strings.HasPrefix(k, kvstore.InitLockPath+"/") {
				keys = append(keys, k)
			}
		}
		return keys
	}
	// requireAllDeleted checks that no key of before is left, and that
	// the only keys present are quorum-check locks taken since.
	requireAllDeleted := func(before []string) {
		t.Helper()
		after := allKeys()
		for _, k := range before {
			require.NotContains(t, after, k)
		}
		require.Empty(t, userKeys())
	}
	fill := func() []string {
		t.Helper()
		for _, args := range [][]string{{"put", "a/1", "1"}, {"put", "b/2", "2"}, {"put", "--lease", "c", "3"}} {
			code, _, stderr := ctl(args...)
			requireOK(t, code, stderr)
		}
		require.Equal(t, []string{"a/1", "b/2", "c"}, userKeys())
		return allKeys()
	}

	before := fill()
	code, _, stderr := ctl("delete", "--prefix", "")
	require.Equal(t, exitUsage, code, stderr)
	require.Contains(t, stderr, "--all")
	require.Subset(t, allKeys(), before, "a refused delete deletes nothing")

	code, out, stderr := ctl("delete", "--all")
	requireOK(t, code, stderr)
	require.Empty(t, out)
	requireAllDeleted(before)
	code, out, stderr = ctl("list", "a")
	requireOK(t, code, stderr)
	require.Empty(t, out)

	// The spelled-out form is accepted too.
	before = fill()
	code, _, stderr = ctl("delete", "--all", "--prefix", "")
	requireOK(t, code, stderr)
	requireAllDeleted(before)

	// A prefix that is not empty deletes only below it.
	fill()
	code, _, stderr = ctl("delete", "--prefix", "a/")
	requireOK(t, code, stderr)
	require.Equal(t, []string{"b/2", "c"}, userKeys())
}
