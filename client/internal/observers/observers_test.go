package observers

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNotifyMatchesPrefixes(t *testing.T) {
	var s Set
	var got []string
	s.Register("a/", func(k string) { got = append(got, "a:"+k) })
	s.Register("a/b/", func(k string) { got = append(got, "ab:"+k) })
	s.Register("c/", func(k string) { got = append(got, "c:"+k) })
	s.Register("c/", nil)
	s.Notify([]string{"a/b/1", "a/x", "c/1", "z"})
	sort.Strings(got)
	require.Equal(t, []string{"a:a/b/1", "a:a/x", "ab:a/b/1"}, got)
}

func TestObserverMayRegisterDuringNotify(t *testing.T) {
	var s Set
	calls := 0
	s.Register("k", func(string) {
		calls++
		s.Register("k", nil) // must not deadlock
	})
	s.Notify([]string{"k1", "k2"})
	require.Equal(t, 2, calls, "both keys matched before the observer removed itself")
	s.Notify([]string{"k3"})
	require.Equal(t, 2, calls)
}
