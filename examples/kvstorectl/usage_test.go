package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// unreachable names a store nobody listens on: a usage error must be found
// before connecting, so with this address a test tells it apart from a
// connection failure (exit 1) or a hang.
var unreachable = []string{
	"--kvstore-opt", "etcd.address=http://127.0.0.1:1",
	"--kvstore-connectivity-timeout=200ms",
}

// runCtl runs kvstorectl with args and returns its exit code, stdout and
// stderr.
func runCtl(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Every malformed invocation is a usage error: exit 2, one line on stderr
// naming the flag or argument to fix, nothing sent to the store.
func TestCtlUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		// Global flags.
		{"zero timeout", []string{"--timeout", "0", "get", "k"}, "--timeout=0s must be positive"},
		{"negative timeout", []string{"--timeout", "-1s", "get", "k"}, "--timeout=-1s must be positive"},
		{"unparsable timeout", []string{"--timeout", "soon", "get", "k"}, `"--timeout"`},
		{"zero connectivity timeout", []string{"--kvstore-connectivity-timeout=0", "get", "k"}, "--kvstore-connectivity-timeout=0s must be positive"},
		{"negative connectivity timeout", []string{"--kvstore-connectivity-timeout=-1s", "get", "k"}, "--kvstore-connectivity-timeout=-1s must be positive"},
		{"short lease ttl", []string{"--kvstore-lease-ttl=1s", "get", "k"}, "--kvstore-lease-ttl=1s"},
		{"zero quorum errors", []string{"--kvstore-max-consecutive-quorum-errors=0", "status"}, "--kvstore-max-consecutive-quorum-errors=0"},
		{"negative qps", []string{"--kvstore-opt", "etcd.qps=-1", "get", "k"}, "etcd.qps"},
		{"no backend", []string{"--kvstore=", "get", "k"}, "--kvstore must name a backend"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"flag of another command", []string{"get", "--lease", "k"}, "unknown flag: --lease"},

		// get, put, list, status, dbg: argument counts and empty keys.
		{"get no key", []string{"get"}, "get: wrong number of arguments: got 0 (usage: get KEY)"},
		{"get two keys", []string{"get", "a", "b"}, "get: wrong number of arguments: got 2"},
		{"get empty key", []string{"get", ""}, "get: KEY must not be empty"},
		{"put no value", []string{"put", "k"}, "put: wrong number of arguments: got 1 (usage: put [--lease] KEY VALUE)"},
		{"put extra", []string{"put", "k", "v", "w"}, "put: wrong number of arguments: got 3"},
		{"put empty key", []string{"put", "", "v"}, "put: KEY must not be empty"},
		{"put bad lease", []string{"put", "--lease=maybe", "k", "v"}, `"--lease"`},
		{"list two prefixes", []string{"list", "a", "b"}, "list: wrong number of arguments: got 2"},
		{"status extra", []string{"status", "x"}, "status: wrong number of arguments: got 1"},
		{"dbg extra", []string{"dbg", "x"}, "dbg: wrong number of arguments: got 1"},

		// delete: one KEY, --prefix with a PREFIX that is not empty, or --all.
		{"delete nothing", []string{"delete"}, "delete: needs a KEY, --prefix PREFIX or --all"},
		{"delete empty key", []string{"delete", ""}, "delete: KEY must not be empty"},
		{"delete two keys", []string{"delete", "a", "b"}, "delete: wrong number of arguments: got 2"},
		{"delete empty prefix", []string{"delete", "--prefix", ""}, `delete: --prefix "" would delete every key in the store; to do that, say --all`},
		{"delete prefix no arg", []string{"delete", "--prefix"}, "delete: --prefix needs a PREFIX"},
		{"delete all with key", []string{"delete", "--all", "k"}, `delete: --all deletes every key and takes no KEY or PREFIX (got "k")`},
		{"delete all with prefix", []string{"delete", "--all", "--prefix", "p/"}, "--all deletes every key and takes no KEY or PREFIX"},
		{"delete all with empty key", []string{"delete", "--all", ""}, "delete: --all takes no KEY"},

		// watch: --count and --for may be 0 (no limit), never negative.
		{"watch negative count", []string{"watch", "--count", "-1", "p/"}, "watch: --count=-1 must be 0 (no limit) or more"},
		{"watch unparsable count", []string{"watch", "--count=many", "p/"}, `"--count"`},
		{"watch negative for", []string{"watch", "--for", "-1s", "p/"}, "watch: --for=-1s must be 0 (until interrupted) or positive"},
		{"watch unparsable for", []string{"watch", "--for=1", "p/"}, `"--for"`},
		{"watch no prefix", []string{"watch"}, "watch: wrong number of arguments: got 0"},
		{"watch two prefixes", []string{"watch", "a", "b"}, "watch: wrong number of arguments: got 2"},

		// lock: --hold may be 0 (until interrupted), never negative.
		{"lock negative hold", []string{"lock", "--hold", "-1s", "p"}, "lock: --hold=-1s must be 0 (until interrupted) or positive"},
		{"lock empty path", []string{"lock", ""}, "lock: PATH must not be empty"},
		{"lock no path", []string{"lock"}, "lock: wrong number of arguments: got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireUsageError(t, tc.want, append(append([]string{}, unreachable...), tc.args...)...)
		})
	}
}

// The configuration is checked for every command, dbg (which makes no
// client) included.
func TestCtlUsageErrorsDbg(t *testing.T) {
	requireUsageError(t, "dbg: only the etcd backend can be debugged", "--kvstore=in-memory", "dbg")
	requireUsageError(t, "--kvstore=etcd needs --kvstore-opt etcd.address=<url> or etcd.config=<file>", "dbg")
	requireUsageError(t, "--kvstore-connectivity-timeout=-1s must be positive",
		"--kvstore-opt", "etcd.address=http://127.0.0.1:1", "--kvstore-connectivity-timeout=-1s", "dbg")
}

// requireUsageError runs kvstorectl with args and requires exit code 2 and
// one line on stderr that contains want.
func requireUsageError(t *testing.T, want string, args ...string) {
	t.Helper()
	code, stdout, stderr := runCtl(args...)
	require.Equal(t, exitUsage, code, "stderr: %s", stderr)
	require.Contains(t, stderr, want)
	require.True(t, strings.HasPrefix(stderr, "kvstorectl: "), stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	require.Empty(t, stdout)
}

// Every command of the table answers --help with its synopsis and flags,
// and exits 0.
func TestCtlCommandHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCtl(c.name, "--help")
			require.Equal(t, exitOK, code, stderr)
			require.Contains(t, stderr, "Usage: kvstorectl [flags] "+c.usage()+"\n")
			require.Contains(t, stderr, c.help[0])
		})
	}
	// The main usage lists every command.
	code, _, stderr := runCtl("--help")
	require.Equal(t, exitOK, code)
	for _, c := range commands {
		require.Contains(t, stderr, "  "+c.usage())
	}
}
