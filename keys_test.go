package kvstore_test

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestGetScopeFromKey(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"cilium/state/identities/v1/foo", "identities/v1"},
		{"cilium/state/identities/v1/id=1;a=b/10.0.0.1", "identities/v1"},
		{"cilium/state/nodes/v1", "nodes/v1"},
		{"cilium/state/nodes/v1/", "nodes/v1"},
		{"a/b/c/d", "c/d"},
		// Fewer than four elements: the first 12 bytes, or the whole key.
		{"cilium/state/nodes", "cilium/state"},
		{"cilium/.heartbeat", "cilium/.hear"},
		{"cilium/state", "cilium/state"},
		{"cilium", "cilium"},
		{"abcdefghijklm", "abcdefghijkl"},
		{"", ""},
		// 11 ASCII bytes then a 2-byte character: cut before it rather
		// than in the middle of it.
		{"abcdefghijké", "abcdefghijk"},
		{"ééééééé", "éééééé"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := kvstore.GetScopeFromKey(tt.key)
			require.Equal(t, tt.want, got)
			require.True(t, utf8.ValidString(got), "scope %q is a metric label and must be valid UTF-8", got)
		})
	}
}

func TestStateToCachePrefix(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"cilium/state/identities/v1", "cilium/cache/identities/v1"},
		{"cilium/state/", "cilium/cache/"},
		{"cilium/state", "cilium/cache"},
		{"cilium/statefoo", "cilium/statefoo"},
		{"x/cilium/state", "x/cilium/state"},
		{"x/cilium/state/nodes", "x/cilium/state/nodes"},
		{"cilium/cache/nodes", "cilium/cache/nodes"},
		{"cilium/synced/c1", "cilium/synced/c1"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, kvstore.StateToCachePrefix(tt.in))
		})
	}
}

func TestKeySpace(t *testing.T) {
	// Every key the library writes lives under BaseKeyPrefix.
	for _, p := range []string{
		kvstore.StatePrefix, kvstore.CachePrefix, kvstore.InitLockPath,
		kvstore.HeartbeatPath, kvstore.ClusterConfigPrefix, kvstore.SyncedPrefix,
	} {
		require.Regexp(t, "^"+kvstore.BaseKeyPrefix+"/[^/]+$", p)
	}
}
