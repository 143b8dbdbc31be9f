package allocator

import (
	"errors"
	"testing"

	"github.com/cilium/hive/cell"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/internal/modhealth"
)

// The allocator's scope: GC failures and key re-creations make it
// Degraded, their end OK again.
func TestCellHealth(t *testing.T) {
	h, sh := cell.NewSimpleHealth()
	ch := newCellHealth(modhealth.New(h, "allocator"))
	scope := func() (cell.Level, string) {
		s := sh.GetChild("allocator")
		s.Lock()
		defer s.Unlock()
		return s.Level, s.Status
	}
	ch.sync.OK("synced")
	level, _ := scope()
	require.Equal(t, cell.StatusOK, level)

	boom := errors.New("boom")
	ch.gcRound("GC", nil, boom)
	level, status := scope()
	require.Equal(t, cell.StatusDegraded, level)
	require.Contains(t, status, "gc: GC round failed")
	ch.gcRound("GC", &GCStats{Alive: 2, Deleted: 1}, nil)
	level, status = scope()
	require.Equal(t, cell.StatusOK, level)
	require.Contains(t, status, "gc: last GC round: 2 IDs alive, 1 deleted")

	done := ch.recreate(1)
	level, status = scope()
	require.Equal(t, cell.StatusDegraded, level)
	require.Contains(t, status, "keys: re-creating the keys of 1 keys lost with their lease")
	done(boom)
	_, status = scope()
	require.Contains(t, status, "keys: re-creating this node's keys failed")
	ch.keySynced(nil)
	level, _ = scope()
	require.Equal(t, cell.StatusOK, level)

	var none *cellHealth
	none.gcRound("GC", nil, boom) // an Allocator outside Cell reports nowhere
	none.recreate(1)(nil)
	none.keySynced(boom)
}
