package validate

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestKey(t *testing.T) {
	require.ErrorIs(t, Key(""), kvstore.ErrEmptyKey)
	require.NoError(t, Key("a"))
}

func TestWrite(t *testing.T) {
	require.ErrorIs(t, Write("", []byte("v"), DefaultMaxRequestBytes), kvstore.ErrEmptyKey)
	require.NoError(t, Write("k", nil, DefaultMaxRequestBytes))
	require.NoError(t, Write("k", make([]byte, 1<<20), DefaultMaxRequestBytes))

	// The largest value that fits, and one byte more.
	fits := DefaultMaxRequestBytes - RequestOverhead - len("k")
	require.NoError(t, Write("k", make([]byte, fits), DefaultMaxRequestBytes))
	err := Write("k", make([]byte, fits+1), DefaultMaxRequestBytes)
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge)
	require.NotErrorIs(t, err, kvstore.ErrEmptyKey)
	require.Contains(t, err.Error(), "1.5 MiB")
	require.True(t, strings.Contains(err.Error(), "1572352 bytes"), err.Error())
}

func TestKeySizes(t *testing.T) {
	huge := strings.Repeat("k", DefaultMaxRequestBytes)
	require.NoError(t, Prefix(""), "the empty prefix is every key")
	require.ErrorIs(t, Prefix(huge), kvstore.ErrValueTooLarge)
	require.ErrorIs(t, Key(huge), kvstore.ErrValueTooLarge)
	require.ErrorIs(t, Key(""), kvstore.ErrEmptyKey)
	require.ErrorIs(t, LockPath(""), kvstore.ErrEmptyKey)
	require.NoError(t, LockPath(strings.Repeat("p", 1000)))
	require.ErrorIs(t, LockPath(huge[:DefaultMaxRequestBytes/3]), kvstore.ErrValueTooLarge,
		"a lock request carries its key four times")
}
