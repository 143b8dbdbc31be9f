package allocator

import (
	"fmt"
	"sync"

	"github.com/hivekv/kvstore/internal/modhealth"
)

// cellHealth is where an Allocator built by Cell reports its background
// work, for the "allocator" health scope (see internal/modhealth). Every
// method is a no-op on a nil receiver: an Allocator from NewAllocator
// reports nowhere.
type cellHealth struct {
	sync, gc, keys *modhealth.Part

	mu         sync.Mutex
	recreating int   // keys being re-created after their lease expired
	keysErr    error // the last failed re-creation, until one succeeds
}

func newCellHealth(m *modhealth.Module) *cellHealth {
	return &cellHealth{sync: m.Part("sync"), gc: m.Part("gc"), keys: m.Part("keys")}
}

// withHealth makes the Allocator report into h (Cell only).
func withHealth(h *cellHealth) Option { return func(o *options) { o.health = h } }

// gcRound reports the outcome of a GC round (what: "GC" or "locks GC").
func (h *cellHealth) gcRound(what string, stats *GCStats, err error) {
	switch {
	case h == nil:
	case err != nil:
		h.gc.Degraded(what+" round failed, retrying at the next interval", err)
	case stats != nil:
		h.gc.OK(fmt.Sprintf("last GC round: %d IDs alive, %d deleted", stats.Alive, stats.Deleted))
	}
}

// recreate reports that the keys of n keys lost with their lease are being
// re-created; the returned func reports the outcome.
func (h *cellHealth) recreate(n int) func(error) {
	if h == nil {
		return func(error) {}
	}
	h.mu.Lock()
	h.recreating += n
	h.reportKeysLocked()
	h.mu.Unlock()
	return func(err error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.recreating -= n
		h.keysErr = err
		h.reportKeysLocked()
	}
}

// keySynced reports the outcome of re-creating this node's keys in the
// periodic sync.
func (h *cellHealth) keySynced(err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keysErr = err
	h.reportKeysLocked()
}

func (h *cellHealth) reportKeysLocked() {
	switch {
	case h.keysErr != nil:
		h.keys.Degraded("re-creating this node's keys failed, retrying at the next sync", h.keysErr)
	case h.recreating > 0:
		h.keys.Degraded(fmt.Sprintf("re-creating the keys of %d keys lost with their lease", h.recreating), nil)
	default:
		h.keys.OK("this node's keys in place")
	}
}
