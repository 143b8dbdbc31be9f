package kvstore

import (
	"strings"
	"time"
	"unicode/utf8"
)

// The key space. Every key the library writes lives under BaseKeyPrefix.
const (
	// BaseKeyPrefix is the prefix of every key.
	BaseKeyPrefix = "cilium"
	// StatePrefix holds the state a cluster publishes about itself.
	StatePrefix = BaseKeyPrefix + "/state"
	// CachePrefix holds state cached from other clusters' stores.
	CachePrefix = BaseKeyPrefix + "/cache"
	// InitLockPath is locked (with a random suffix) to check quorum.
	InitLockPath = BaseKeyPrefix + "/.initlock"
	// HeartbeatPath is rewritten every HeartbeatWriteInterval by the
	// heartbeat cell; clients watch it to detect a stale store.
	HeartbeatPath = BaseKeyPrefix + "/.heartbeat"
	// ClusterConfigPrefix holds per-cluster configuration.
	ClusterConfigPrefix = BaseKeyPrefix + "/cluster-config"
	// SyncedPrefix holds markers saying a writer finished its initial sync
	// of a prefix: SyncedPrefix/<cluster>/<prefix>.
	SyncedPrefix = BaseKeyPrefix + "/synced"

	// HeartbeatWriteInterval is how often the heartbeat is written. A
	// heartbeat older than twice this is reported as a failing status.
	HeartbeatWriteInterval = time.Minute
)

// Log field names for users and roles.
const (
	FieldUser = "user"
	FieldRole = "role"
)

// scopeMaxLen bounds the scope of keys that have too few path elements.
const scopeMaxLen = 12

// scopeReplacement stands for each run of bytes of a key that is not valid
// UTF-8 in its scope: Prometheus refuses (by panicking) label values that are
// not valid UTF-8, while etcd keys may be any bytes.
const scopeReplacement = "\uFFFD"

// GetScopeFromKey returns the metrics scope of key: the third and fourth
// path elements ("identities/v1" for "cilium/state/identities/v1/..."), or,
// for keys with fewer than four elements, the first 12 bytes of the key
// (fewer if the 12th byte would split a UTF-8 character). It keeps metric
// label cardinality bounded whatever the keys are.
//
// The scope is always valid UTF-8, so that it can serve as a Prometheus label
// value: in a key that is not valid UTF-8, each run of invalid bytes becomes
// one U+FFFD (as strings.ToValidUTF8 does) before the 12-byte cut. Valid keys
// get the same scope as in Cilium.
func GetScopeFromKey(key string) string {
	parts := strings.SplitN(key, "/", 5)
	if len(parts) >= 4 {
		return strings.ToValidUTF8(parts[2]+"/"+parts[3], scopeReplacement)
	}
	return validPrefix(key, scopeMaxLen)
}

// validPrefix returns the longest prefix of strings.ToValidUTF8(s,
// scopeReplacement) that ends at a character boundary and has at most maxLen
// bytes. It reads only as much of s as it needs, and does not allocate when
// that part of s is valid UTF-8.
func validPrefix(s string, maxLen int) string {
	end := 0 // s[:end] is valid UTF-8 and at most maxLen bytes
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if r == utf8.RuneError && size == 1 {
			return replacedPrefix(s, end, maxLen)
		}
		if end+size > maxLen {
			break
		}
		end += size
	}
	return s[:end]
}

// replacedPrefix is validPrefix for an s whose first invalid byte is at
// s[valid].
func replacedPrefix(s string, valid, maxLen int) string {
	var b strings.Builder
	b.Grow(maxLen)
	b.WriteString(s[:valid])
	inRun := false // the last thing written stands for invalid bytes
	for i := valid; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		invalid := r == utf8.RuneError && size == 1
		piece := s[i : i+size]
		if invalid {
			if inRun {
				i += size
				continue
			}
			piece = scopeReplacement
		}
		if b.Len()+len(piece) > maxLen {
			break
		}
		b.WriteString(piece)
		inRun = invalid
		i += size
	}
	return b.String()
}

// StateToCachePrefix maps a prefix under StatePrefix to the same prefix under
// CachePrefix, where state cached from another store lives. Other prefixes are
// returned unchanged. Only whole path elements match: "cilium/state" and
// "cilium/state/..." are mapped, "cilium/statefoo" is not.
func StateToCachePrefix(prefix string) string {
	if prefix == StatePrefix || strings.HasPrefix(prefix, StatePrefix+"/") {
		return CachePrefix + prefix[len(StatePrefix):]
	}
	return prefix
}
