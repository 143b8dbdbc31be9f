package store_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
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

	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// TestScript runs testdata/*.txtar, each against a hive of its own built
// from cells.Client, cells.ScriptCommands, store.Cell and
// store.ScriptCommands, with a Prometheus registry in the graph, on the
// package's shared etcd. The "#!" line holds the hive's flags; $ETCD is the
// server's endpoint. Scripts keep to their own keys (script/<name>/ and
// cluster names of their own); script/<name>/ is wiped before each.
//
// Besides hive/*, kvstore/*, store/* and the default commands:
//
//	test/metrics REGEX   print the samples "name{labels} value" whose line matches REGEX
func TestScript(t *testing.T) {
	srv := hivetest.SharedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	files, err := filepath.Glob("testdata/*.txtar")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 2)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		vars := map[string]string{"ETCD": srv.Endpoint()}
		scripttest.Test(t, ctx, func(tb testing.TB, args []string) *script.Engine {
			_, err := srv.Client(tb).Delete(ctx, "script/"+name, clientv3.WithPrefix())
			require.NoError(tb, err)
			return newScriptEngine(tb, expand(args, vars))
		}, []string{"ETCD=" + srv.Endpoint()}, file)
	}
}

func expand(args []string, vars map[string]string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a != "" {
			out = append(out, strings.NewReplacer("$ETCD", vars["ETCD"]).Replace(a))
		}
	}
	return out
}

func newScriptEngine(tb testing.TB, args []string) *script.Engine {
	logger := logrus.New()
	logger.SetOutput(testWriter{tb})
	reg := prometheus.NewPedanticRegistry()
	h := hive.NewWithOptions(cells.LogrusOptions(),
		cells.LogrusCell(logger),
		cell.Provide(func() prometheus.Registerer { return reg }),
		cells.Client, cells.ScriptCommands, store.Cell, store.ScriptCommands)
	fs := pflag.NewFlagSet(tb.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(tb, fs.Parse(args), "parsing the flags of the #! line")
	log := cells.NewSlogLogger(logger)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(tb, h.Stop(log, ctx))
	})
	cmds, err := h.ScriptCommands(log)
	require.NoError(tb, err)
	maps.Insert(cmds, maps.All(script.DefaultCmds()))
	cmds["test/metrics"] = metricsCmd(reg)
	return &script.Engine{
		Cmds:             cmds,
		Conds:            scripttest.DefaultConds(),
		RetryInterval:    20 * time.Millisecond,
		MaxRetryInterval: 200 * time.Millisecond,
	}
}

func metricsCmd(reg *prometheus.Registry) script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary:    "print the registry's samples matching a regexp",
			Args:       "regexp",
			RegexpArgs: func(...string) []int { return []int{0} },
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, script.ErrUsage
			}
			re, err := regexp.Compile(args[0])
			if err != nil {
				return nil, err
			}
			mfs, err := reg.Gather()
			if err != nil {
				return nil, err
			}
			var lines []string
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					var labels []string
					for _, l := range m.GetLabel() {
						labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
					}
					var v float64
					switch {
					case m.GetGauge() != nil:
						v = m.GetGauge().GetValue()
					case m.GetCounter() != nil:
						v = m.GetCounter().GetValue()
					default:
						continue
					}
					line := fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(labels, ","), v)
					if re.MatchString(line) {
						lines = append(lines, line)
					}
				}
			}
			slices.Sort(lines)
			out := strings.Join(lines, "\n")
			if out != "" {
				out += "\n"
			}
			return func(*script.State) (string, string, error) { return out, "", nil }, nil
		})
}

// testWriter sends the hive's log to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
