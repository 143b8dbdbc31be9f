package hivetest

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/script"
	"github.com/cilium/hive/script/scripttest"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/cells"
)

// ScriptSuite is a package's hive script tests: every testdata/*.txtar runs
// against a hive of its own, on the package's shared etcd (SharedServer).
//
// The "#!" first line of a script holds the hive's flags, in which $ETCD
// expands to the shared server's endpoint, and the suite's Vars likewise
// (all are in the script's environment too). A --kvstore=etcd hive that
// names neither etcd.address nor etcd.config is pointed at the shared
// server. Each script keeps to its own keys under script/<name>/, which are
// wiped before it starts. The hive is stopped when the script ends.
type ScriptSuite struct {
	// Hive builds the hive of one script, logging through log (wired into
	// hive's own slog output by RunScripts), and returns the commands the
	// suite adds to the hive's and the default ones (nil: none).
	Hive func(tb testing.TB, log *logrus.Logger) (*hive.Hive, map[string]script.Cmd)
	// Logger prepares the script's logger; nil leaves it at warnings and
	// above, on stderr.
	Logger func(tb testing.TB, log *logrus.Logger)
	// Vars returns further variables for one script (nil: none), e.g. a
	// directory of its own.
	Vars func(t *testing.T) map[string]string
	// MinScripts is how many scripts testdata must hold at least (1 if 0),
	// so that a misplaced directory fails instead of testing nothing.
	MinScripts int
}

// scriptTimeout bounds a whole suite, and the stop of each script's hive.
const scriptTimeout = 2 * time.Minute

// RunScripts runs suite's scripts as subtests of t.
func RunScripts(t *testing.T, suite ScriptSuite) {
	srv := SharedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	t.Cleanup(cancel)
	files, err := filepath.Glob("testdata/*.txtar")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), max(suite.MinScripts, 1), "scripts in testdata/")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		vars := map[string]string{"ETCD": srv.Endpoint()}
		if suite.Vars != nil {
			maps.Copy(vars, suite.Vars(t))
		}
		env := make([]string, 0, len(vars))
		for k, v := range vars {
			env = append(env, k+"="+v)
		}
		scripttest.Test(t, ctx, func(tb testing.TB, args []string) *script.Engine {
			// A previous run (-count) of the same script left its keys
			// on the shared server.
			_, err := srv.Client(tb).Delete(ctx, "script/"+name, clientv3.WithPrefix())
			require.NoError(tb, err)
			return suite.engine(tb, hiveFlags(args, vars))
		}, env, file)
	}
}

// hiveFlags expands vars in the "#!" arguments and points an etcd hive at
// the shared server unless the script chose a server.
func hiveFlags(args []string, vars map[string]string) []string {
	out := make([]string, 0, len(args)+1)
	etcd, hasServer := false, false
	for _, a := range args {
		if a == "" {
			continue
		}
		a = os.Expand(a, func(k string) string { return vars[k] })
		etcd = etcd || a == "--kvstore=etcd"
		hasServer = hasServer || strings.Contains(a, "etcd.address=") || strings.Contains(a, "etcd.config=")
		out = append(out, a)
	}
	if etcd && !hasServer {
		out = append(out, "--kvstore-opt=etcd.address="+vars["ETCD"])
	}
	return out
}

func (suite ScriptSuite) engine(tb testing.TB, flags []string) *script.Engine {
	logger := logrus.New()
	logger.SetLevel(logrus.WarnLevel)
	if suite.Logger != nil {
		suite.Logger(tb, logger)
	}
	h, extra := suite.Hive(tb, logger)
	fs := pflag.NewFlagSet(tb.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(tb, fs.Parse(flags), "parsing the flags of the #! line")
	log := cells.NewSlogLogger(logger)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		defer cancel()
		assert.NoError(tb, h.Stop(log, ctx))
	})
	cmds, err := h.ScriptCommands(log)
	if err != nil {
		// The hive cannot be populated (a bad flag value): hive/start
		// reports why, so that a script can expect the failure.
		cmds = map[string]script.Cmd{"hive/start": script.Command(
			script.CmdUsage{Summary: "start the hive (populate failed)"},
			func(*script.State, ...string) (script.WaitFunc, error) {
				return func(*script.State) (string, string, error) { return "", err.Error() + "\n", err }, nil
			})}
	}
	maps.Insert(cmds, maps.All(script.DefaultCmds()))
	maps.Insert(cmds, maps.All(extra))
	return &script.Engine{
		Cmds:             cmds,
		Conds:            scripttest.DefaultConds(),
		RetryInterval:    20 * time.Millisecond,
		MaxRetryInterval: 200 * time.Millisecond,
	}
}

// TestLogWriter sends a logger's output to the test log of TB. Lines
// written after the test ended (by a goroutine outliving it) are dropped:
// testing.TB.Log would panic.
type TestLogWriter struct{ TB testing.TB }

func (w TestLogWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }()
	w.TB.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
