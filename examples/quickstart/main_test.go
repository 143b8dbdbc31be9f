package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
)

func TestMain(m *testing.M) { hivetest.Main(m, false) }

// The quick start runs as a user runs it: flags parsed, hive run against
// its embedded etcd, ended by its own shutdown, every goroutine gone.
func TestQuickstartEmbedded(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"--embedded"}, &out))
	requireQuickstartOutput(t, out.String())
}

// requireQuickstartOutput checks the three lines the quick start prints.
func requireQuickstartOutput(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	require.Regexp(t, `^connected: Ok: etcd: 1/1 connected, leases=\d+, lock leases=\d+, has-quorum=true: http://127\.0\.0\.1:\d+ - 3\.\d+\.\d+ \(Leader\)$`, lines[0])
	require.Regexp(t, `^ID (\d+) for app=quickstart; \(new=true\)$`, lines[1])
	id := strings.Fields(lines[1])[1]
	require.Equal(t, `quickstart/greetings/hello = "from ID `+id+`"`, lines[2])
}

// Without a backend the hive fails at once, naming the cause.
func TestQuickstartNotConfigured(t *testing.T) {
	var out bytes.Buffer
	err := run(nil, &out)
	require.ErrorContains(t, err, "kvstore not configured")
	require.Empty(t, out.String())
}

// An unreachable etcd ends the program with the client's error once
// --kvstore-connectivity-timeout has passed, not with a hang.
func TestQuickstartUnreachable(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"--kvstore=etcd", "--kvstore-opt=etcd.address=http://127.0.0.1:1",
		"--kvstore-connectivity-timeout=1s"}, &out)
	require.ErrorContains(t, err, "failed connecting to kvstore")
	require.ErrorContains(t, err, "http://127.0.0.1:1")
	require.Empty(t, out.String())
}

func TestQuickstartBadFlag(t *testing.T) {
	var out bytes.Buffer
	require.ErrorContains(t, run([]string{"--kvstore-opt=etcd.adress=x", "--kvstore=etcd"}, &out), `unknown key "etcd.adress"`)
	require.ErrorContains(t, run([]string{"--bogus"}, &out), "unknown flag: --bogus")
}

// The README's quick start is this program, byte for byte, so that it
// cannot drift from what the tests run.
func TestReadmeQuickStartIsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)

	const open = "```go\n// Command quickstart"
	start := strings.Index(string(readme), open)
	require.GreaterOrEqual(t, start, 0, "README.md has no ```go block starting with %q", "// Command quickstart")
	block := string(readme)[start+len("```go\n"):]
	end := strings.Index(block, "\n```\n")
	require.GreaterOrEqual(t, end, 0, "unterminated block")
	require.Equal(t, string(src), block[:end+1],
		"README.md's quick start differs from examples/quickstart/main.go: copy the file into the README")

	// The output the README shows is the program's.
	const shown = "It prints, on stdout"
	i := strings.Index(string(readme), shown)
	require.GreaterOrEqual(t, i, 0, "README.md no longer shows the quick start's output after %q", shown)
	rest := string(readme)[i:]
	fence := strings.Index(rest, "```\n")
	require.GreaterOrEqual(t, fence, 0)
	rest = rest[fence+len("```\n"):]
	requireQuickstartOutput(t, rest[:strings.Index(rest, "```\n")])
}
