package kvstore_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// Keys are any bytes to etcd, but a scope is a Prometheus label value, which
// must be valid UTF-8 (Prometheus panics otherwise).
func TestGetScopeFromKeyInvalidUTF8(t *testing.T) {
	const r = "\uFFFD"
	tests := []struct {
		key, want string
	}{
		// The keys of the crash report.
		{"x/\xff", "x/" + r},
		{"cilium/state/\xff\xfe/v1/x", r + "/v1"},
		// Four elements or more: each run of invalid bytes in elements
		// three and four becomes one U+FFFD; the rest of the key is
		// ignored, valid or not.
		{"cilium/state/ab\xffcd/v\x80\x81/x", "ab" + r + "cd/v" + r},
		{"\xff/\xff/nodes/v1/\xff", "nodes/v1"},
		// Fewer than four elements: replaced first, then cut at 12 bytes
		// on a character boundary.
		{"\xff\xfe\xfd", r},
		{"abcdefghi\xffxyz", "abcdefghi" + r},
		{"abcdefghij\xff\xff", "abcdefghij"}, // the replacement does not fit
		{strings.Repeat("\x80", 13), r},      // continuation bytes only
		{strings.Repeat("\xff", 100) + "abcdefghijkl", r + "abcdefghi"},
		{"é\xff", "é" + r},
		{"abc\xe2\x82", "abc" + r},   // a character cut short at the end
		{"x/\xff" + r, "x/" + r + r}, // a real U+FFFD is kept apart
		{"a" + r + "b", "a" + r + "b"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := kvstore.GetScopeFromKey(tt.key)
			require.Equal(t, tt.want, got)
			require.True(t, utf8.ValidString(got), "scope %q", got)
		})
	}
}

// FuzzGetScopeFromKeyUTF8 checks, for any key, that the scope is valid UTF-8
// and is what the documented rule gives: elements three and four when there
// are four or more, else the longest prefix of at most 12 bytes, on a
// character boundary, of the key with invalid bytes replaced. For a valid key
// that is the scope Cilium computes.
func FuzzGetScopeFromKeyUTF8(f *testing.F) {
	for _, k := range []string{
		"", "cilium", "cilium/state/identities/v1/foo", "cilium/.heartbeat",
		"x/\xff", "cilium/state/\xff\xfe/v1/x", "abcdefghijké", "ééééééé",
		"abcdefghij\xff\xff", strings.Repeat("\x80", 13),
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got := kvstore.GetScopeFromKey(key)
		if !utf8.ValidString(got) {
			t.Fatalf("GetScopeFromKey(%q) = %q: not valid UTF-8", key, got)
		}
		if want := scopeOracle(key); got != want {
			t.Fatalf("GetScopeFromKey(%q) = %q, want %q", key, got, want)
		}
	})
}

// scopeOracle is the scope rule written the simple way: replace, then cut.
func scopeOracle(key string) string {
	valid := strings.ToValidUTF8(key, "\uFFFD")
	if parts := strings.SplitN(valid, "/", 5); len(parts) >= 4 {
		return parts[2] + "/" + parts[3]
	}
	n := min(len(valid), 12)
	for n < len(valid) && n > 0 && !utf8.RuneStart(valid[n]) {
		n--
	}
	return valid[:n]
}
