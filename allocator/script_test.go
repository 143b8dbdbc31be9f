package allocator_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/cilium/hive/script/scripttest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
)

// TestScript runs every testdata/*.txtar against a hive of its own built from
// cells.Client, cells.ScriptCommands, allocator.Cell and
// allocator.ScriptCommands, on the package's shared etcd. The "#!" line
// holds the hive's flags; $ETCD expands to the shared server's endpoint.
// Each script keeps to its own base path script/<name>/, wiped before it
// starts. A prometheus registry is in the graph, so the metrics register.
func TestScript(t *testing.T) {
	srv := hivetest.SharedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	files, err := filepath.Glob("testdata/*.txtar")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 2)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		scripttest.Test(t, ctx, func(tb testing.TB, args []string) *script.Engine {
			_, err := srv.Client(tb).Delete(ctx, "script/"+name, clientv3.WithPrefix())
			require.NoError(tb, err)
			for i, a := range args {
				args[i] = os.Expand(a, func(k string) string {
					if k == "ETCD" {
						return srv.Endpoint()
					}
					return ""
				})
			}
			return newScriptEngine(tb, args)
		}, []string{"ETCD=" + srv.Endpoint()}, file)
	}
}

func newScriptEngine(tb testing.TB, args []string) *script.Engine {
	logger := logrus.New()
	logger.SetLevel(logrus.WarnLevel)
	h := hive.NewWithOptions(cells.LogrusOptions(),
		cells.LogrusCell(logger),
		cells.Client, cells.ScriptCommands, allocator.Cell, allocator.ScriptCommands,
		cell.Provide(func() prometheus.Registerer { return prometheus.NewRegistry() }))
	fs := pflag.NewFlagSet(tb.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(tb, fs.Parse(args), "parsing the flags of the #! line")
	log := cells.NewSlogLogger(logger)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		assert.NoError(tb, h.Stop(log, ctx))
	})
	cmds, err := h.ScriptCommands(log)
	if err != nil {
		// The hive cannot be populated (bad flags): hive/start reports why.
		cmds = map[string]script.Cmd{"hive/start": script.Command(script.CmdUsage{Summary: "start the hive (populate failed)"},
			func(*script.State, ...string) (script.WaitFunc, error) {
				return func(*script.State) (string, string, error) { return "", err.Error() + "\n", err }, nil
			})}
	}
	maps.Insert(cmds, maps.All(script.DefaultCmds()))
	return &script.Engine{
		Cmds:             cmds,
		Conds:            scripttest.DefaultConds(),
		RetryInterval:    20 * time.Millisecond,
		MaxRetryInterval: 200 * time.Millisecond,
	}
}
