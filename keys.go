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

// GetScopeFromKey returns the metrics scope of key: the third and fourth
// path elements ("identities/v1" for "cilium/state/identities/v1/..."), or,
// for keys with fewer than four elements, the first 12 bytes of the key
// (fewer if the 12th byte would split a UTF-8 character, so that the scope
// stays a valid Prometheus label value). It keeps metric label cardinality
// bounded whatever the keys are.
func GetScopeFromKey(key string) string {
	parts := strings.SplitN(key, "/", 5)
	if len(parts) >= 4 {
		return parts[2] + "/" + parts[3]
	}
	if len(key) <= scopeMaxLen {
		return key
	}
	n := scopeMaxLen
	for n > 0 && !utf8.RuneStart(key[n]) {
		n--
	}
	return key[:n]
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
