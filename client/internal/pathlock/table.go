package pathlock

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Owner identifies one acquisition of a path.
type Owner uint64

var nextOwner atomic.Uint64

// Table is a set of locked paths. The zero value is not usable; use New.
type Table struct {
	mu    sync.Mutex
	held  map[string]*entry
	clock func() time.Time
}

type entry struct {
	owner     Owner
	acquired  time.Time
	released  chan struct{} // closed when this acquisition ends
	releasing bool          // the owner is unlocking: GC must not interfere
}

// New returns an empty table registered for RunGC.
func New() *Table {
	t := &Table{held: make(map[string]*entry), clock: time.Now}
	register(t)
	return t
}

// Lock waits until path is free, then takes it. Waiters are woken when the
// holder releases, without polling. It returns ctx's error, holding nothing,
// if ctx ends first.
func (t *Table) Lock(ctx context.Context, path string) (Owner, error) {
	for {
		t.mu.Lock()
		e, busy := t.held[path]
		if !busy {
			o := Owner(nextOwner.Add(1))
			t.held[path] = &entry{owner: o, acquired: t.clock(), released: make(chan struct{})}
			t.mu.Unlock()
			return o, nil
		}
		t.mu.Unlock()
		select {
		case <-e.released:
		case <-ctx.Done():
			return 0, fmt.Errorf("lock was cancelled: %w", ctx.Err())
		}
	}
}

// Unlock releases path if owner still holds it and reports whether it did.
// An owner whose lock was force-released by the GC, and possibly taken by
// someone else since, releases nothing.
func (t *Table) Unlock(path string, owner Owner) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.held[path]
	if !ok || e.owner != owner {
		return false
	}
	delete(t.held, path)
	close(e.released)
	return true
}

// Holds reports whether owner still holds path: false once it unlocked or
// the GC released it.
func (t *Table) Holds(path string, owner Owner) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.held[path]
	return ok && e.owner == owner
}

// BeginUnlock tells the table that owner is about to release path and
// reports whether it still holds it. From then on the GC leaves the entry
// alone, so that until Unlock nobody else can take path: the owner may act
// on what it holds (delete its etcd key) without re-checking ownership.
func (t *Table) BeginUnlock(path string, owner Owner) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.held[path]
	if !ok || e.owner != owner {
		return false
	}
	e.releasing = true
	return true
}

// Held returns the number of held paths.
func (t *Table) Held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.held)
}

// Stale describes a lock the GC released.
type Stale struct {
	Path string
	Age  time.Duration
}

// GC force-releases every path held longer than timeout and returns them,
// sorted by path.
func (t *Table) GC(timeout time.Duration) []Stale {
	now := t.clock()
	var out []Stale
	t.mu.Lock()
	for p, e := range t.held {
		if age := now.Sub(e.acquired); age > timeout && !e.releasing {
			delete(t.held, p)
			close(e.released)
			out = append(out, Stale{Path: p, Age: age})
		}
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Close unregisters the table from RunGC.
func (t *Table) Close() { unregister(t) }

// SetClock replaces the clock; for tests of the GC.
func (t *Table) SetClock(now func() time.Time) {
	t.mu.Lock()
	t.clock = now
	t.mu.Unlock()
}
