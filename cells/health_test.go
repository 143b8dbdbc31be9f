package cells_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/job"
	"github.com/cilium/hive/script"
	"github.com/cilium/hive/script/scripttest"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
)

// fastChecks makes the client's status checks run every few hundred
// milliseconds, so that a lost server shows within a second or two.
func fastChecks() cell.Cell {
	return cell.Provide(func() *kvstore.ExtraOptions {
		return &kvstore.ExtraOptions{
			ClusterSizeDependantInterval: func(d time.Duration) time.Duration { return d / 100 },
			StatusCheckTimeout:           500 * time.Millisecond,
		}
	})
}

// TestHealthScript runs testdata/health/*.txtar, each against a hive with a
// job registry and cell.SimpleHealth (the "health" command) and an etcd
// server of its own that the script stops and restarts (etcd/stop,
// etcd/restart; see hivetest.ServerScriptCmds). The "#!" line holds the
// hive's flags; --kvstore-opt=etcd.address is added.
func TestHealthScript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	scripttest.Test(t, ctx, func(tb testing.TB, args []string) *script.Engine {
		srv := hivetest.StartServer(tb)
		h := hive.New(
			job.Cell,
			cell.SimpleHealthCell,
			cell.Provide(func(sh *cell.SimpleHealth) hive.ScriptCmdOut {
				return hive.NewScriptCmd("health", cell.SimpleHealthCmd(sh))
			}),
			fastChecks(),
			cells.All,
			allocator.Cell,
			cell.Invoke(func(promise.Promise[*allocator.Allocator]) {}),
		)
		fs := pflag.NewFlagSet(tb.Name(), pflag.ContinueOnError)
		h.RegisterFlags(fs)
		require.NoError(tb, fs.Parse(append(args, "--kvstore-opt=etcd.address="+srv.Endpoint())))
		log := slog.New(slog.NewTextHandler(hivetest.TestLogWriter{TB: tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			assert.NoError(tb, h.Stop(log, ctx))
		})
		cmds, err := h.ScriptCommands(log)
		require.NoError(tb, err)
		maps.Insert(cmds, maps.All(script.DefaultCmds()))
		maps.Insert(cmds, maps.All(hivetest.ServerScriptCmds(srv)))
		return &script.Engine{
			Cmds:             cmds,
			Conds:            scripttest.DefaultConds(),
			RetryInterval:    20 * time.Millisecond,
			MaxRetryInterval: 200 * time.Millisecond,
		}
	}, nil, "testdata/health/*.txtar")
}

// In a hive with a job registry and a health provider, every module of
// cells.All reports into a scope named after its module ID, and its work
// runs as jobs.
func TestCellsReportHealthAndRunAsJobs(t *testing.T) {
	var sh *cell.SimpleHealth
	h, log := newHive(t, etcdArgs(t, "--kvstore-heartbeat-interval=100ms"),
		job.Cell, cell.SimpleHealthCell, cells.All,
		cell.Invoke(func(s *cell.SimpleHealth) { sh = s }))
	startHive(t, h, log)

	level := func(scope string) string {
		c := sh.GetChild(scope)
		if c == nil {
			return "missing"
		}
		c.Lock()
		defer c.Unlock()
		return fmt.Sprintf("%s %s", c.Level, c.Status)
	}
	for _, scope := range []string{"kvstore-client", "kvstore-heartbeat-updater", "kvstore-lock-gc"} {
		require.Eventually(t, func() bool { return strings.HasPrefix(level(scope), "OK ") }, testTimeout, 10*time.Millisecond,
			"scope %s: %s", scope, level(scope))
	}
	require.Contains(t, level("kvstore-client"), hivetest.SharedServer(t).Endpoint(), "the client's OK names its endpoints")
	for _, j := range []string{"job-kvstore-client-connection", "job-kvstore-heartbeat-updater-writer", "job-kvstore-lock-gc-local"} {
		require.NotNil(t, sh.GetChild(j), "job %s", j)
	}
}

// Without a logrus logger in the graph the cells log through the hive's
// slog logger, with the module attribute: one format per program.
func TestCellsLogThroughTheHiveLogger(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	h, _ := newHive(t, etcdArgs(t), cells.All)
	startHive(t, h, log)
	require.Eventually(t, func() bool {
		s := out.String()
		return strings.Contains(s, `msg="Connection to kvstore successfully established" module=kvstore-client backend=etcd subsys=kvstore-client`) &&
			strings.Contains(s, `msg="Starting to update heartbeat key" module=kvstore-heartbeat-updater interval=`)
	}, testTimeout, 10*time.Millisecond, "log:\n%s", out.String())
	require.NotContains(t, out.String(), "time=\"", "no logrus-formatted line in the hive's output")
}

// syncBuffer is a strings.Builder safe for the hive's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// While the client cannot connect, its scope is Degraded "connecting", and
// once the client's early warning found a cause, the cause is the error.
func TestClientHealthWhileConnecting(t *testing.T) {
	var (
		sh *cell.SimpleHealth
		p  promise.Promise[kvstore.BackendOperations]
	)
	h, log := newHive(t, []string{
		"--kvstore=etcd",
		"--kvstore-opt=etcd.address=" + unreachableEndpoint(t),
		"--kvstore-connectivity-timeout=10m",
	}, cell.SimpleHealthCell, cells.Client, capture(&p), cell.Invoke(func(s *cell.SimpleHealth) { sh = s }))
	startHive(t, h, log)
	require.Eventually(t, func() bool {
		s := sh.GetChild("kvstore-client")
		if s == nil {
			return false
		}
		s.Lock()
		defer s.Unlock()
		return s.Level == cell.StatusDegraded && s.Status == "connection: connecting to kvstore" &&
			s.Error != nil && strings.Contains(s.Error.Error(), "the connection was refused")
	}, testTimeout, 10*time.Millisecond)
}
