package kvstore_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProductionPackagesDoNotLinkEtcdServer keeps the embedded server (a
// large dependency with its own global state) out of every binary that uses
// the library: only hivetest, the demo and the quick start may link it.
func TestProductionPackagesDoNotLinkEtcdServer(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go tool is needed to list dependencies: %v", err)
	}
	pkgs := []string{".", "./client", "./client/memory", "./cells", "./config", "./promise",
		"./heartbeat", "./lockgc", "./users", "./mesh", "./examples/kvstorectl"}
	for _, p := range pkgs {
		out, err := exec.Command("go", "list", "-deps", p).CombinedOutput()
		require.NoError(t, err, "go list -deps %s: %s", p, out)
		for _, dep := range strings.Fields(string(out)) {
			require.False(t, strings.HasPrefix(dep, "go.etcd.io/etcd/server"), "%s links %s", p, dep)
		}
	}
}

// TestRootImportsNoEtcd keeps the vocabulary package free of etcd, so that
// code passing kvstore values around does not link the etcd client.
func TestRootImportsNoEtcd(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(dep, "go.etcd.io/"), "the root package links %s", dep)
	}
}
