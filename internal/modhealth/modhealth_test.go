package modhealth

import (
	"errors"
	"testing"

	"github.com/cilium/hive/cell"
	"github.com/stretchr/testify/require"
)

func TestModuleScopeCarriesTheWorstLevel(t *testing.T) {
	h, sh := cell.NewSimpleHealth()
	m := New(h, "mod")
	a, b := m.Part("a"), m.Sub("mod-b")

	mod := func() *cell.SimpleHealth { return sh.GetChild("mod") }
	a.OK("fine")
	require.Equal(t, cell.StatusOK, mod().Level)
	require.Equal(t, "a: fine", mod().Status)

	boom := errors.New("boom")
	b.Degraded("sync failed", boom)
	require.Equal(t, cell.StatusDegraded, mod().Level)
	require.Equal(t, "mod-b: sync failed", mod().Status)
	require.ErrorIs(t, mod().Error, boom)
	require.Equal(t, cell.StatusDegraded, sh.GetChild("mod-b").Level, "a sub has its own scope")

	b.OK("synced")
	require.Equal(t, cell.StatusOK, mod().Level)
	require.Equal(t, "a: fine; mod-b: synced", mod().Status)

	m.StopAll("hive stopped")
	require.Equal(t, cell.StatusStopped, mod().Level)
}

func TestClosedPartLeavesTheRollUp(t *testing.T) {
	h, sh := cell.NewSimpleHealth()
	m := New(h, "mod")
	a, b := m.Part("a"), m.Part("b")
	a.OK("fine")
	b.Degraded("bad", nil)
	require.Equal(t, cell.StatusDegraded, sh.GetChild("mod").Level)
	b.Close()
	require.Equal(t, cell.StatusOK, sh.GetChild("mod").Level)
	b.Degraded("after close", nil)
	require.Equal(t, cell.StatusOK, sh.GetChild("mod").Level, "a closed part reports nothing")
}

func TestWithoutProvider(t *testing.T) {
	m := New(nil, "mod")
	p := m.Part("a")
	p.Degraded("bad", nil)
	level, msg, _ := m.State()
	require.Equal(t, cell.StatusDegraded, level)
	require.Equal(t, "a: bad", msg)
	require.NotNil(t, m.Scope().NewScope("x"))
}
