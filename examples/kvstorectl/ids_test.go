package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

func TestIDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := hivetest.UniquePrefix(t) + "ids"
	c, errCh := client.NewClient(ctx, kvstore.EtcdBackendName,
		map[string]string{kvstore.EtcdAddrOption: hivetest.SharedServer(t).Endpoint()}, nil)
	require.NoError(t, <-errCh)
	defer c.Close()
	b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: base, Suffix: "node1", Backend: c})
	require.NoError(t, err)

	// Nothing there yet: said on stderr, stdout stays empty for scripts.
	code, out, stderr := ctl(t, "", "ids", "--base-path", base, "list")
	requireOK(t, code, stderr)
	require.Empty(t, out)
	require.Equal(t, "no IDs under "+base+"/id/\n", stderr)
	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "gc", "--dry-run")
	requireOK(t, code, stderr)
	require.Empty(t, out)
	require.Equal(t, "no IDs under "+base+"/id/: nothing to delete\n", stderr)

	require.NoError(t, b.AllocateID(ctx, 7, "used;"))
	require.NoError(t, b.AcquireReference(ctx, 7, "used;", nil))
	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "gc", "--dry-run")
	requireOK(t, code, stderr)
	require.Empty(t, out)
	require.Equal(t, "no unused IDs under "+base+"/id/ (1 in use): nothing to delete\n", stderr)
	require.NoError(t, b.AllocateID(ctx, 9, "unused;"))

	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "list")
	requireOK(t, code, stderr)
	require.Equal(t, "7\tused;\tnode1\n9\tunused;\t\n", out)

	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "get", "used;")
	requireOK(t, code, stderr)
	require.Equal(t, "7\n", out)
	code, _, stderr = ctl(t, "", "ids", "--base-path", base, "get", "unused;")
	require.Equal(t, exitFail, code)
	require.Contains(t, stderr, `key "unused;" has no ID`)

	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "get-id", "9")
	requireOK(t, code, stderr)
	require.Equal(t, "unused;\n", out)
	code, _, stderr = ctl(t, "", "ids", "--base-path", base, "get-id", "10")
	require.Equal(t, exitFail, code)
	require.Contains(t, stderr, "ID 10 is free")

	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "gc", "--dry-run")
	requireOK(t, code, stderr)
	require.Equal(t, "would delete\t9\tunused;\n", out)

	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "gc", "--interval", "0s")
	requireOK(t, code, stderr)
	require.Equal(t, "marked\t1\ndeleted\t1\nalive\t1\n", out)
	code, out, stderr = ctl(t, "", "ids", "--base-path", base, "list")
	requireOK(t, code, stderr)
	require.Equal(t, "7\tused;\tnode1\n", out)

	code, _, stderr = ctl(t, "", "ids", "bogus")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `unknown subcommand "bogus"`)
	code, _, _ = ctl(t, "", "ids", "get")
	require.Equal(t, exitUsage, code)
	code, _, stderr = ctl(t, "", "ids", "get-id", "0")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `ID "0" is not a positive decimal number`)
	code, _, stderr = ctl(t, "", "ids", "gc", "--interval", "-1s")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--interval=-1s must be 0")
}
