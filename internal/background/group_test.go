package background_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/job"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/internal/background"
)

// syncBuffer is a bytes.Buffer safe for the hive's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// testCell is a module whose group runs one job that reports OK and logs.
func testCell(started chan<- *background.Group) cell.Cell {
	return cell.Module("test-mod", "Test module",
		cell.Invoke(func(p background.Params) {
			g := background.NewGroup(p, "test-mod")
			part := g.Health().Part("work")
			g.Add("work", func(ctx context.Context) {
				g.Log().Info("work running")
				part.OK("running")
				started <- g
				<-ctx.Done()
			})
		}))
}

func runHive(t *testing.T, cells ...cell.Cell) (*background.Group, string) {
	t.Helper()
	started := make(chan *background.Group, 1)
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	h := hive.New(append(cells, testCell(started))...)
	require.NoError(t, h.Start(log, t.Context()))
	g := <-started
	require.NoError(t, h.Stop(log, t.Context()))
	return g, out.String()
}

func TestGroupInBareHive(t *testing.T) {
	g, out := runHive(t)
	require.False(t, g.UsesJobs())
	require.Contains(t, out, `msg="work running" module=test-mod`, "the cell logs through the hive's slog logger")
	level, _, _ := g.Health().State()
	require.Equal(t, cell.StatusStopped, level, "stop marks the reported parts Stopped")
}

func TestGroupUsesTheJobRegistry(t *testing.T) {
	var sh *cell.SimpleHealth
	g, _ := runHive(t, job.Cell, cell.SimpleHealthCell, cell.Invoke(func(s *cell.SimpleHealth) { sh = s }))
	require.True(t, g.UsesJobs())
	require.NotNil(t, sh.GetChild("job-test-mod-work"), "the work ran as a job of the module's group")
	mod := sh.GetChild("test-mod")
	require.NotNil(t, mod)
	require.Equal(t, cell.StatusStopped, mod.Level)
}

func TestGroupAddAfterStart(t *testing.T) {
	var g *background.Group
	h := hive.New(cell.Module("late-mod", "Late module",
		cell.Invoke(func(p background.Params) { g = background.NewGroup(p, "late-mod") })))
	log := slog.New(slog.DiscardHandler)
	require.NoError(t, h.Start(log, t.Context()))
	ran := make(chan struct{})
	g.Add("late", func(ctx context.Context) { close(ran); <-ctx.Done() })
	<-ran
	require.NoError(t, h.Stop(log, t.Context()))
}
