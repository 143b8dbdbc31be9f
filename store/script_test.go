package store_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// TestScript runs testdata/*.txtar, each against a hive of its own built
// from cells.Client, cells.ScriptCommands, store.Cell and
// store.ScriptCommands, with a Prometheus registry and cell.SimpleHealth
// (the "health" command) in the graph, on the
// package's shared etcd. The "#!" line holds the hive's flags; $ETCD is the
// server's endpoint. Scripts keep to their own keys (script/<name>/ and
// cluster names of their own); script/<name>/ is wiped before each.
//
// Besides hive/*, kvstore/*, store/* and the default commands:
//
//	test/metrics REGEX   print the samples "name{labels} value" whose line matches REGEX
func TestScript(t *testing.T) {
	hivetest.RunScripts(t, hivetest.ScriptSuite{
		MinScripts: 2,
		Logger: func(tb testing.TB, log *logrus.Logger) {
			log.SetLevel(logrus.InfoLevel)
			log.SetOutput(hivetest.TestLogWriter{TB: tb})
		},
		Hive: func(_ testing.TB, log *logrus.Logger) (*hive.Hive, map[string]script.Cmd) {
			reg := prometheus.NewPedanticRegistry()
			h := hive.NewWithOptions(cells.LogrusOptions(),
				cells.LogrusCell(log),
				cell.Provide(func() prometheus.Registerer { return reg }),
				cell.SimpleHealthCell,
				cell.Provide(func(sh *cell.SimpleHealth) hive.ScriptCmdOut {
					return hive.NewScriptCmd("health", cell.SimpleHealthCmd(sh))
				}),
				cells.Client, cells.ScriptCommands, store.Cell, store.ScriptCommands)
			return h, map[string]script.Cmd{"test/metrics": metricsCmd(reg)}
		},
	})
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
