package heartbeat_test

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/heartbeat"
	"github.com/hivekv/kvstore/promise"
)

// newHive builds a bare hive (no job registry, no health) with the
// heartbeat cell and the given promise.
func newHive(t *testing.T, p promise.Promise[kvstore.BackendOperations], extra ...cell.Cell) *hive.Hive {
	t.Helper()
	cells := append([]cell.Cell{
		heartbeat.Cell,
		cell.Provide(func() promise.Promise[kvstore.BackendOperations] { return p }),
	}, extra...)
	return hive.New(cells...)
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The cell runs on synctest's fake clock: the counts are exact, and "no
// write after stop" covers a hundred intervals without waiting for them.
func TestCellWritesUntilStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		resolver, p := promise.New[kvstore.BackendOperations]()
		log, hook := logtest.NewNullLogger()
		h := newHive(t, p, cell.Provide(func() logrus.FieldLogger { return log }))
		flags := pflag.NewFlagSet("", pflag.ContinueOnError)
		h.RegisterFlags(flags)
		require.NoError(t, flags.Parse([]string{"--" + heartbeat.FlagInterval + "=10ms"}))

		require.NoError(t, h.Start(quietLog(), t.Context()))
		synctest.Wait()
		require.Zero(t, r.count(), "nothing is written before the client exists")
		resolver.Resolve(r)
		time.Sleep(25 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, 3, r.count(), "at once, then at 10 and 20 ms")

		require.NoError(t, h.Stop(quietLog(), t.Context()))
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, 3, r.count(), "no write after stop")

		// The graph's logger was used, with the interval from the flag.
		var started bool
		for _, e := range hook.AllEntries() {
			if e.Message == "Starting to update heartbeat key" {
				started = true
				require.Equal(t, 10*time.Millisecond, e.Data["interval"])
				require.Equal(t, "kvstore-heartbeat", e.Data["subsys"])
			}
		}
		require.True(t, started)
	})
}

func TestCellDefaultInterval(t *testing.T) {
	t.Parallel()
	var cfg heartbeat.Config
	h := newHive(t, nil, cell.Invoke(func(c heartbeat.Config) { cfg = c }))
	require.NoError(t, h.Populate(quietLog()))
	require.Equal(t, kvstore.HeartbeatWriteInterval, cfg.KVStoreHeartbeatInterval)
}

func TestCellStopsWhileWaitingForClient(t *testing.T) {
	t.Parallel()
	_, p := promise.New[kvstore.BackendOperations]() // never settled
	h := newHive(t, p)
	require.NoError(t, h.Start(quietLog(), t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.Stop(quietLog(), ctx))
}

func TestCellRejectedClient(t *testing.T) {
	t.Parallel()
	resolver, p := promise.New[kvstore.BackendOperations]()
	resolver.Reject(kvstore.ErrNotConfigured)
	log, hook := logtest.NewNullLogger()
	h := newHive(t, p, cell.Provide(func() logrus.FieldLogger { return log }))
	require.NoError(t, h.Start(quietLog(), t.Context()))
	require.Eventually(t, func() bool {
		e := hook.LastEntry()
		return e != nil && e.Message == "Not writing the heartbeat: kvstore not configured"
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, h.Stop(quietLog(), t.Context()))
}

func TestCellRejectsNonPositiveInterval(t *testing.T) {
	t.Parallel()
	h := newHive(t, nil)
	hive.AddConfigOverride(h, func(c *heartbeat.Config) { c.KVStoreHeartbeatInterval = 0 })
	err := h.Populate(quietLog())
	require.ErrorContains(t, err, "--kvstore-heartbeat-interval must be positive")
}
