package users

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestContentGateAppliesOnlyRepeatedContent(t *testing.T) {
	full := sha256.Sum256([]byte("- name: a\n- name: b\n"))
	half := sha256.Sum256([]byte("- name: a\n"))
	var g contentGate

	// A first read is never applied on its own.
	require.Equal(t, settling, g.observe(full))
	require.Equal(t, apply, g.observe(full))
	g.done(full)
	require.Equal(t, unchanged, g.observe(full))

	// A writer caught half-way, then finished: the half content is seen
	// once and never applied.
	require.Equal(t, settling, g.observe(half))
	require.Equal(t, unchanged, g.observe(full))
	other := sha256.Sum256([]byte("- name: c\n"))
	require.Equal(t, settling, g.observe(half))
	require.Equal(t, settling, g.observe(other))
	require.Equal(t, settling, g.observe(half), "a candidate must be confirmed by the very next read")
	require.Equal(t, unchanged, g.observe(full))

	// A sync that failed leaves the candidate in place: the next read
	// applies it again.
	require.Equal(t, settling, g.observe(half))
	require.Equal(t, apply, g.observe(half))
	require.Equal(t, apply, g.observe(half))
	g.done(half)
	require.Equal(t, unchanged, g.observe(half))

	// After the file went missing, even the old content is new.
	g.forget()
	require.Equal(t, settling, g.observe(half))
	require.Equal(t, apply, g.observe(half))
}

func TestSettleDelay(t *testing.T) {
	require.Equal(t, 20*time.Millisecond, settleDelay(20*time.Millisecond))
	require.Equal(t, maxSettleDelay, settleDelay(DefaultSyncInterval))
}
