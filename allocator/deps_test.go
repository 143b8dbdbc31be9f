package allocator_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorksOnAnyBackend keeps the allocator on the root vocabulary: no
// client package of ours and no etcd in its non-test dependencies.
func TestWorksOnAnyBackend(t *testing.T) {
	for _, p := range []string{".", "./doublewrite"} {
		out, err := exec.Command("go", "list", "-deps", p).CombinedOutput()
		require.NoError(t, err, "go list -deps %s: %s", p, out)
		for _, dep := range strings.Fields(string(out)) {
			require.False(t, strings.HasPrefix(dep, "go.etcd.io/"), "%s links %s", p, dep)
			require.False(t, strings.HasPrefix(dep, "github.com/hivekv/kvstore/client"), "%s links %s", p, dep)
			require.False(t, strings.HasPrefix(dep, "github.com/hivekv/kvstore/cells"), "%s links %s", p, dep)
		}
	}
}
