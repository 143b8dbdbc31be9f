package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
)

func TestMain(m *testing.M) { hivetest.RunWithSharedServer(m) }

// ctl runs kvstorectl against the shared server and returns its exit code,
// stdout and stderr.
func ctl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"--kvstore-opt", "etcd.address=" + hivetest.SharedServer(t).Endpoint()}, args...)
	code := run(context.Background(), full, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func requireOK(t *testing.T, code int, stderr string) {
	t.Helper()
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
}

func TestExampleCtlKeys(t *testing.T) {
	p := hivetest.UniquePrefix(t)
	code, _, stderr := ctl(t, "", "put", p+"a", "1")
	requireOK(t, code, stderr)
	code, _, stderr = ctl(t, "from stdin\n", "put", "--lease", p+"b", "-")
	requireOK(t, code, stderr)

	code, out, stderr := ctl(t, "", "get", p+"a")
	requireOK(t, code, stderr)
	require.Equal(t, "1\n", out)

	code, out, stderr = ctl(t, "", "list", p)
	requireOK(t, code, stderr)
	require.Equal(t, p+"a\t1\n"+p+"b\tfrom stdin\n\n", out)

	code, _, stderr = ctl(t, "", "delete", p+"a")
	requireOK(t, code, stderr)
	code, _, stderr = ctl(t, "", "get", p+"a")
	require.Equal(t, exitFail, code)
	require.Equal(t, "kvstorectl: key \""+p+"a\" not found\n", stderr)

	code, _, stderr = ctl(t, "", "delete", "--prefix", p)
	requireOK(t, code, stderr)
	code, out, _ = ctl(t, "", "list", p)
	requireOK(t, code, "")
	require.Empty(t, out)
}

// TestCtlEmptyValue: a key holding an empty value exists; get prints an
// empty line instead of "not found".
func TestCtlEmptyValue(t *testing.T) {
	p := hivetest.UniquePrefix(t)
	code, _, stderr := ctl(t, "", "put", p+"empty", "")
	requireOK(t, code, stderr)
	code, out, stderr := ctl(t, "", "get", p+"empty")
	requireOK(t, code, stderr)
	require.Equal(t, "\n", out)
	code, _, _ = ctl(t, "", "get", p+"missing")
	require.Equal(t, exitFail, code)
}

func TestExampleCtlWatchLockStatus(t *testing.T) {
	p := hivetest.UniquePrefix(t)
	code, _, stderr := ctl(t, "", "put", p+"a", "1")
	requireOK(t, code, stderr)
	code, out, stderr := ctl(t, "", "watch", "--count=2", p)
	requireOK(t, code, stderr)
	require.Equal(t, "create "+p+"a 1\nlistDone\n", out)

	code, out, stderr = ctl(t, "", "lock", "--hold=10ms", p+"lock")
	requireOK(t, code, stderr)
	require.Equal(t, "locked "+p+"lock\nunlocked "+p+"lock\n", out)

	code, out, stderr = ctl(t, "", "status")
	requireOK(t, code, stderr)
	require.True(t, strings.HasPrefix(out, "Ok: etcd"), out)
}

func TestExampleCtlDbg(t *testing.T) {
	code, out, stderr := ctl(t, "", "dbg")
	require.Contains(t, out, "Endpoints:")
	require.Contains(t, out, "[ok]")
	requireOK(t, code, stderr+out)
}

func TestExampleCtlErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		code int
		err  string
	}{
		"no command":        {nil, exitUsage, "Usage: kvstorectl"},
		"unknown command":   {[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		"missing argument":  {[]string{"get"}, exitUsage, "get: wrong number of arguments: got 0 (usage: get KEY)"},
		"unknown flag":      {[]string{"put", "--nope", "k", "v"}, exitUsage, "unknown flag: --nope"},
		"bad global flag":   {[]string{"--bogus", "get", "k"}, exitUsage, "unknown flag: --bogus"},
		"bad option":        {[]string{"--kvstore-opt", "etcd.bogus=1", "get", "k"}, exitUsage, `unknown key "etcd.bogus"`},
		"unknown backend":   {[]string{"--kvstore", "zookeeper", "get", "k"}, exitUsage, "unknown kvstore backend"},
		"help":              {[]string{"--help"}, exitOK, "Commands:"},
		"unreachable store": {[]string{"--kvstore-opt", "etcd.address=http://127.0.0.1:1", "--kvstore-connectivity-timeout=200ms", "get", "k"}, exitFail, "could not connect to etcd"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.err)
		})
	}
}
