package allocator_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// history records the outcomes of Allocate calls of many goroutines and
// nodes. With no GC running, an ID once given to a key stays its ID, so a
// correct allocator never returns two IDs for a key or one ID for two keys,
// whatever the interleaving and whatever calls failed in between.
type history struct {
	mu    sync.Mutex
	byKey map[string]map[allocator.ID]string // key -> ID -> who got it first
	byID  map[allocator.ID]map[string]string
	ok    int
	fails int
}

func newHistory() *history {
	return &history{byKey: map[string]map[allocator.ID]string{}, byID: map[allocator.ID]map[string]string{}}
}

// record notes one Allocate call by who.
func (h *history) record(who, key string, id allocator.ID, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.fails++
		return
	}
	h.ok++
	if h.byKey[key] == nil {
		h.byKey[key] = map[allocator.ID]string{}
	}
	if _, ok := h.byKey[key][id]; !ok {
		h.byKey[key][id] = who
	}
	if h.byID[id] == nil {
		h.byID[id] = map[string]string{}
	}
	if _, ok := h.byID[id][key]; !ok {
		h.byID[id][key] = who
	}
}

// violations lists every key with two IDs and every ID with two keys.
func (h *history) violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k, ids := range h.byKey {
		if len(ids) > 1 {
			out = append(out, fmt.Sprintf("key %q got IDs %v", k, ids))
		}
	}
	for id, keys := range h.byID {
		if len(keys) > 1 {
			out = append(out, fmt.Sprintf("ID %d given to keys %v", id, keys))
		}
	}
	sort.Strings(out)
	return out
}

// requireConsistentStore checks the keys under base: every master key in
// [min, max], at most one master key per key that slave keys use, and every
// slave key naming the ID of a master key of its key.
func requireConsistentStore(t testing.TB, c kvstore.BackendOperations, base string, min, max allocator.ID) {
	t.Helper()
	requireConsistentSlaves(t, c, base, min, max, true)
}

// requireConsistentSlaves is requireConsistentStore; without oneMaster a
// key may have more master keys (released and allocated again before GC
// removed the old one), as long as its slave keys agree.
func requireConsistentSlaves(t testing.TB, c kvstore.BackendOperations, base string, min, max allocator.ID, oneMaster bool) {
	t.Helper()
	all := listStrings(t, c, base+"/")
	masters := map[string][]allocator.ID{}
	owner := map[allocator.ID]string{}
	for k, v := range all {
		if rest, ok := strings.CutPrefix(k, base+"/id/"); ok {
			id, err := allocator.ParseID(rest)
			require.NoError(t, err)
			require.True(t, id >= min && id <= max, "ID %d outside [%d, %d]", id, min, max)
			masters[v] = append(masters[v], id)
			owner[id] = v
		}
	}
	used := map[string]allocator.ID{}
	for k, v := range all {
		rest, ok := strings.CutPrefix(k, base+"/value/")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '/')
		key := rest[:i]
		id, err := allocator.ParseID(v)
		require.NoError(t, err)
		require.Equal(t, key, owner[id], "slave key %s names ID %d, whose master key names %q", k, id, owner[id])
		if oneMaster {
			require.Len(t, masters[key], 1, "key %q is in use and has master keys %v", key, masters[key])
		}
		if prev, ok := used[key]; ok {
			require.Equal(t, prev, id, "slave keys of %q name IDs %d and %d", key, prev, id)
		}
		used[key] = id
	}
}
