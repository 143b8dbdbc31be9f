package kvstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestOpErrorOnePrefix(t *testing.T) {
	err := error(&kvstore.OpError{Op: "get", Key: "", Err: kvstore.ErrEmptyKey})
	require.EqualError(t, err, `kvstore: get "": empty key`)
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)

	wrapped := fmt.Errorf("syncing: %w", err)
	var oe *kvstore.OpError
	require.True(t, errors.As(wrapped, &oe))
	require.Equal(t, "get", oe.Op)

	// Causes without the prefix are quoted as they are.
	require.EqualError(t, &kvstore.OpError{Op: "update", Key: "a/b", Err: errors.New("boom")}, `kvstore: update "a/b": boom`)
}

func TestOpErrorQuotesAtMost100BytesOfKey(t *testing.T) {
	long := strings.Repeat("k", 5000)
	msg := (&kvstore.OpError{Op: "get", Key: long, Err: errors.New("boom")}).Error()
	require.Less(t, len(msg), 200, msg)
	require.Contains(t, msg, "(5000 bytes)")
	require.Contains(t, msg, strings.Repeat("k", 100))

	// The cut never splits a rune: 99 ASCII bytes then a 3-byte rune.
	key := strings.Repeat("a", 99) + "€" + "tail"
	q := kvstore.QuoteKey(key)
	require.Equal(t, `"`+strings.Repeat("a", 99)+`"… (106 bytes)`, q)
	require.Equal(t, `"short"`, kvstore.QuoteKey("short"))
}
