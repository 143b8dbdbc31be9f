package users_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// testTimeout bounds every wait; reaching it means a bug.
const testTimeout = 30 * time.Second

// newClient returns a connected client of the shared server.
func newClient(t *testing.T) kvstore.BackendOperations {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, errCh := client.NewClient(ctx, kvstore.EtcdBackendName,
		map[string]string{kvstore.EtcdAddrOption: hivetest.SharedServer(t).Endpoint()}, nil)
	require.NoError(t, <-errCh)
	t.Cleanup(c.Close)
	return c
}

// names returns a prefix for users and roles of this test: they are global
// to the server, unlike keys, so UniquePrefix's isolation is rebuilt here.
func names(t *testing.T) string {
	p := hivetest.UniquePrefix(t) // "test/<name>/<random>/"
	return strings.NewReplacer("/", "-").Replace(strings.TrimPrefix(p, "test/"))
}

// roles reads the roles of user; nil and false if it does not exist.
func roles(t *testing.T, user string) ([]string, bool) {
	t.Helper()
	return hivetest.SharedServer(t).UserRoles(t, user)
}

func requireRoles(t *testing.T, user string, want ...string) {
	t.Helper()
	got, ok := roles(t, user)
	require.True(t, ok, "user %s must exist", user)
	require.ElementsMatch(t, want, got, "roles of %s", user)
}

func requireAbsent(t *testing.T, user string) {
	t.Helper()
	_, ok := roles(t, user)
	require.False(t, ok, "user %s must not exist", user)
}
