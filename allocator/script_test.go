package allocator_test

import (
	"testing"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
)

// TestScript runs every testdata/*.txtar against a hive of its own built from
// cells.Client, cells.ScriptCommands, allocator.Cell and
// allocator.ScriptCommands, with a Prometheus registry in the graph so the
// metrics register (see hivetest.ScriptSuite for the runner's conventions).
func TestScript(t *testing.T) {
	hivetest.RunScripts(t, hivetest.ScriptSuite{
		MinScripts: 2,
		Hive: func(_ testing.TB, log *logrus.Logger) (*hive.Hive, map[string]script.Cmd) {
			return hive.NewWithOptions(cells.LogrusOptions(),
				cells.LogrusCell(log),
				cells.Client, cells.ScriptCommands, allocator.Cell, allocator.ScriptCommands,
				cell.Provide(func() prometheus.Registerer { return prometheus.NewRegistry() })), nil
		},
	})
}
