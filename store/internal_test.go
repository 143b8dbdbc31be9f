package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// keyOf must store every key where path.Join puts it, the reference's
// stable layout.
func TestKeyOfIsPathJoin(t *testing.T) {
	for _, prefix := range []string{"cilium/state/nodes/v1", "p/", "/abs", "/", "a//b/", "./x", "."} {
		s := &syncStore{prefix: prefix, keyPrefix: joinBase(prefix)}
		for _, name := range []string{"a", "a/b", "a//b", "/a", "a/", "", ".", "..", "a/../b", "x/./y", "...", ".a"} {
			require.Equal(t, keyPath(prefix, name), s.keyOf(name), "prefix %q name %q", prefix, name)
		}
	}
}

// Failed writes of a key back off exponentially from minRetryDelay and
// never wait longer than maxRetryDelay.
func TestRetryDelay(t *testing.T) {
	require.Equal(t, minRetryDelay, retryDelay(1))
	require.Equal(t, 2*minRetryDelay, retryDelay(2))
	require.Equal(t, 8*minRetryDelay, retryDelay(4))
	require.Equal(t, maxRetryDelay, retryDelay(maxFailures))
	for n := 1; n < 40; n++ {
		require.LessOrEqual(t, retryDelay(n), retryDelay(n+1))
	}
}
