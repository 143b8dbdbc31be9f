package observers

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNotifyMatchesPrefixes(t *testing.T) {
	var s Set
	var got []string
	s.SetPrefix("a/", func(k string) { got = append(got, "a:"+k) })
	s.SetPrefix("a/b/", func(k string) { got = append(got, "ab:"+k) })
	s.SetPrefix("c/", func(k string) { got = append(got, "c:"+k) })
	s.SetPrefix("c/", nil)
	s.Notify([]string{"a/b/1", "a/x", "c/1", "z"})
	sort.Strings(got)
	require.Equal(t, []string{"a:a/b/1", "a:a/x", "ab:a/b/1"}, got)
}

func TestObserverMayRegisterDuringNotify(t *testing.T) {
	var s Set
	calls := 0
	s.SetPrefix("k", func(string) {
		calls++
		s.SetPrefix("k", nil) // must not deadlock
	})
	s.Notify([]string{"k1", "k2"})
	require.Equal(t, 2, calls, "both keys matched before the observer removed itself")
	s.Notify([]string{"k3"})
	require.Equal(t, 2, calls)
}

func TestInstancesOfOnePrefixAreIndependent(t *testing.T) {
	var s Set
	var old, replacement, named []string
	stopOld := s.Add("p/", func(k string) { old = append(old, k) })
	stopNew := s.Add("p/", func(k string) { replacement = append(replacement, k) })
	s.SetPrefix("p/", func(k string) { named = append(named, k) })

	s.Notify([]string{"p/1"})
	stopOld()
	stopOld() // idempotent
	s.SetPrefix("p/", nil)
	s.Notify([]string{"p/2"})

	require.Equal(t, []string{"p/1"}, old, "a stopped registration is not called")
	require.Equal(t, []string{"p/1", "p/2"}, replacement, "stopping one registration leaves the other of the same prefix")
	require.Equal(t, []string{"p/1"}, named, "SetPrefix(nil) removes the per-prefix observer only")

	stopNew()
	s.Notify([]string{"p/3"})
	require.Equal(t, []string{"p/1", "p/2"}, replacement)
	require.Empty(t, s.handles, "stopped registrations are forgotten")
}

func TestStopDuringNotifySkipsLaterCalls(t *testing.T) {
	var s Set
	var calls []string
	var stop func()
	stop = s.Add("k", func(k string) {
		calls = append(calls, k)
		stop() // from the observer itself: must not deadlock
	})
	s.Notify([]string{"k1", "k2"})
	require.Equal(t, []string{"k1"}, calls, "the call collected before stop is skipped")
	require.NotPanics(t, func() { s.Add("k", nil)() })
}
