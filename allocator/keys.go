package allocator

import (
	"fmt"
	"strconv"
	"strings"
)

// ID is an allocated numeric identifier.
type ID uint64

// NoID is the zero ID: "no ID", never allocated.
const NoID ID = 0

// String returns the decimal form used in keys and values.
func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseID parses the decimal form of an ID.
func ParseID(s string) (ID, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return NoID, fmt.Errorf("cannot parse ID %q: %w", s, err)
	}
	return ID(v), nil
}

// layout builds the keys of one base path.
type layout struct {
	idPrefix    string // B/id/
	valuePrefix string // B/value/
	lockPrefix  string // B/locks/
	base        string // B/
}

func newLayout(base string) layout {
	base = strings.TrimSuffix(base, "/")
	return layout{
		idPrefix:    base + "/id/",
		valuePrefix: base + "/value/",
		lockPrefix:  base + "/locks/",
		base:        base + "/",
	}
}

func (l layout) master(id ID) string { return l.idPrefix + id.String() }

// slaves is the prefix of the slave keys of key (and, as keys may contain
// "/", of the slave keys of longer keys: match with isSlaveOf).
func (l layout) slaves(key string) string { return l.valuePrefix + key + "/" }

func (l layout) slave(key, node string) string { return l.slaves(key) + node }

// lock is the lock path of key; its etcd keys are lock + "/<lease hex>".
func (l layout) lock(key string) string { return l.lockPrefix + key }

// isSlaveOf reports whether k is a slave key of exactly the key whose slave
// prefix is prefix (B/value/<key>/): node names hold no "/", so the rest
// must not either. B/value/a;b;/c/n belongs to key "a;b;/c", not "a;b;".
func isSlaveOf(prefix, k string) bool {
	return strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/")
}

// idFromMaster parses the ID of a master key.
func (l layout) idFromMaster(k string) (ID, error) {
	if !strings.HasPrefix(k, l.idPrefix) {
		return NoID, fmt.Errorf("found invalid key %q outside of prefix %q", k, l.idPrefix)
	}
	return ParseID(k[len(l.idPrefix):])
}
