package store_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoreImportsNoBackend keeps the package on the root vocabulary: it
// works on any backend and links neither the etcd client nor ours.
func TestStoreImportsNoBackend(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(dep, "go.etcd.io/"), "store links %s", dep)
		require.False(t, strings.HasPrefix(dep, "github.com/hivekv/kvstore/client"), "store links %s", dep)
	}
}
