package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/hive"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/users"
)

func TestExampleDemoEmbeddedEtcd(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(nil, &stdout, &stderr)
	require.Equal(t, exitOK, code, "stderr: %s", stderr.String())
	out := stdout.String()
	for _, want := range []string{
		"embedded etcd at http://127.0.0.1:",
		"connected: Ok: etcd",
		`get    demo/plain -> "hello"`,
		"watch  demo/watched/\n         create demo/watched/a = \"1\"\n         listDone\n" +
			"         create demo/watched/b = \"2\"\n         modify demo/watched/a = \"3\"\n         delete demo/watched/b\n",
		"lock   demo/lock held (lock key demo/lock/",
		"ids    k8s:app=web; -> ID ",
		"         again -> ID ",
		"         released (last use)\n",
		"store  demo/store/nodes/ written, synced marker cilium/synced/demo/demo/store/nodes\n" +
			"         reader: update node1 = \"10.0.0.1\"\n         reader: update node2 = \"10.0.0.2\"\n" +
			"         reader synced\n         reader: delete node2\n         reader holds 1 key(s)\n",
		"users  demo-user present with roles [demo-reader]",
		"health kvstore-client: OK (connection: etcd: ",
		"         kvstore-heartbeat-updater: OK (heartbeat: heartbeat written every ",
		"status: Ok: etcd",
		"done\n",
	} {
		require.Contains(t, out, want)
	}
	require.Empty(t, stderr.String(), "no warnings or errors at the default log level")
}

func TestExampleDemoInMemory(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"--kvstore=in-memory", "--demo-users=false"}, &stdout, &stderr), stderr.String())
	require.NotContains(t, stdout.String(), "embedded etcd")
	require.NotContains(t, stdout.String(), "users ")
	require.Contains(t, stdout.String(), "done\n")
}

// --help lists every --kvstore* flag of the cells the demo is built from.
func TestExampleDemoHelpListsEveryKVStoreFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"--help"}, &stdout, &stderr))
	help := stderr.String()

	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	hive.New(cells.All, users.Cell).RegisterFlags(fs)
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.HasPrefix(f.Name, "kvstore") {
			n++
			require.Contains(t, help, "--"+f.Name+" ")
		}
	})
	require.GreaterOrEqual(t, n, 10)
}

func TestExampleDemoExitCodes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitUsage, run([]string{"--bogus"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "unknown flag: --bogus")

	stderr.Reset()
	require.Equal(t, exitFail, run([]string{
		"--kvstore-opt=etcd.address=http://127.0.0.1:1", "--kvstore-connectivity-timeout=200ms",
	}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "demo failed: failed connecting to kvstore")
}
