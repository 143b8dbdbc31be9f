package faults

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hivekv/kvstore"
)

// StoreEvent is one change of the store as etcd's own watch reports it:
// the truth a kvstore watcher's events are checked against.
type StoreEvent struct {
	Rev    int64
	Key    string
	Delete bool
	Value  string
}

// WatchEvent is one event a kvstore watcher delivered.
type WatchEvent struct {
	Typ   kvstore.EventType
	Key   string
	Value string
}

func (e WatchEvent) String() string {
	if e.Typ == kvstore.EventTypeDelete || e.Typ == kvstore.EventTypeListDone {
		return fmt.Sprintf("%s(%s)", e.Typ, e.Key)
	}
	return fmt.Sprintf("%s(%s=%q)", e.Typ, e.Key, e.Value)
}

// WatchHistory is what CheckWatch needs: the store's state under the
// prefix when the watcher started, every change after it in revision
// order, and the watcher's events in delivery order.
type WatchHistory struct {
	Initial map[string]string
	Store   []StoreEvent
	Events  []WatchEvent
	// ListDone: the watcher announces the end of its initial list
	// (ListAndWatch); a WatchStore's observer calls do not.
	ListDone bool
	// MayStopAnywhere: the watcher was stopped at some moment, not after
	// converging, so it may end in the middle of a list.
	MayStopAnywhere bool
}

// CheckWatch checks a watcher's events, one by one, against the store's
// changes, as the kvstore.Watcher contract allows them:
//
//   - streaming: each event is the next change of the store, in revision
//     order — none skipped, none twice, none out of order, one
//     transaction's changes together — as Create for a key the watcher
//     has not reported, Modify for one it has, Delete;
//   - listing (the initial list and every resync): the watcher may start
//     a list at any moment (a broken watch); a list attempt reports keys
//     in key order with values the store held at some revision since the
//     watcher's position, and may fail part way and start again; the list
//     that completes reports every key of one revision in key order, then
//     deletes exactly the keys the watcher knew that this revision does not
//     hold, and leaves the watcher's view equal to the store at that
//     revision; streaming resumes after it;
//   - ListDone: exactly once, right after the initial list completed
//     (only when h.ListDone).
//
// A repeated value is allowed only inside such a list. The watcher may end
// anywhere in the store's history (it may lag), but not half way through a
// list that no complete list follows.
func CheckWatch(h WatchHistory) error {
	c := newWatchChecker(h)
	return c.run()
}

type watchChecker struct {
	h WatchHistory
	// from is the earliest store position the watcher may be at, for
	// failure reports.
	from int
	// states[q] is the store after the first q changes; boundary[q]
	// reports whether q falls between revisions (a position a list may
	// reflect).
	states   []map[string]string
	sorted   [][]string
	boundary []bool
}

func newWatchChecker(h WatchHistory) *watchChecker {
	c := &watchChecker{h: h}
	cur := maps.Clone(h.Initial)
	if cur == nil {
		cur = map[string]string{}
	}
	c.states = append(c.states, cur)
	for _, e := range h.Store {
		cur = maps.Clone(cur)
		if e.Delete {
			delete(cur, e.Key)
		} else {
			cur[e.Key] = e.Value
		}
		c.states = append(c.states, cur)
	}
	for q, s := range c.states {
		c.sorted = append(c.sorted, slices.Sorted(maps.Keys(s)))
		c.boundary = append(c.boundary, q == 0 || q == len(h.Store) || h.Store[q-1].Rev != h.Store[q].Rev)
	}
	return c
}

// plausible reports whether key held value (or, for a delete, was absent)
// at some position from start on.
func (c *watchChecker) plausible(from int, key, value string, del bool) bool {
	for q := from; q < len(c.states); q++ {
		v, ok := c.states[q][key]
		if (del && !ok) || (!del && ok && v == value) {
			return true
		}
	}
	return false
}

// listEnds returns the positions q ≥ from at which a list can have
// completed with event i: the view equals the store at q, and the events
// before i are a complete attempt at q (every key of q in key order) then
// the deletes of the keys it did not hold.
func (c *watchChecker) listEnds(from, i int, view map[string]string) []int {
	var ends []int
	for q := from; q < len(c.states); q++ {
		if !c.boundary[q] || !maps.Equal(c.states[q], view) {
			continue
		}
		if c.completeAttemptBefore(q, i) {
			ends = append(ends, q)
		}
	}
	return ends
}

func (c *watchChecker) completeAttemptBefore(q, i int) bool {
	ev := c.h.Events
	keys := c.sorted[q]
	// d trailing deletes (the sweep), and before them one put per key of
	// q, in key order, with q's values.
	for d := 0; ; d++ {
		last := i - d
		if first := last + 1 - len(keys); first >= 0 && c.putsMatch(q, first) {
			return true
		}
		if last < 0 || ev[last].Typ != kvstore.EventTypeDelete {
			return false
		}
	}
}

func (c *watchChecker) putsMatch(q, first int) bool {
	for n, k := range c.sorted[q] {
		e := c.h.Events[first+n]
		if (e.Typ != kvstore.EventTypeCreate && e.Typ != kvstore.EventTypeModify) || e.Key != k || e.Value != c.states[q][k] {
			return false
		}
	}
	return true
}

func (c *watchChecker) run() error {
	ev := c.h.Events
	view := map[string]string{}
	normal := map[int]bool{} // positions the watcher may be streaming from
	listing, listFrom := true, 0
	initial := true    // the initial list has not ended
	awaitDone := false // the initial list may have ended: ListDone may come
	var doneAt []int
	if !c.h.ListDone {
		initial = false
	}
	// Before any event the (initial or a later) list may be empty.
	endedEmpty := func(from int) []int {
		if len(view) != 0 {
			return nil
		}
		var out []int
		for q := from; q < len(c.states); q++ {
			if c.boundary[q] && len(c.states[q]) == 0 {
				out = append(out, q)
			}
		}
		return out
	}
	if c.h.ListDone {
		doneAt = endedEmpty(0)
		awaitDone = len(doneAt) > 0
	} else {
		for _, q := range endedEmpty(0) {
			normal[q] = true
		}
	}
	lastEnded := !c.h.ListDone && len(normal) > 0
	for i, e := range ev {
		c.from = listFrom
		if len(normal) > 0 {
			c.from = slices.Min(slices.Collect(maps.Keys(normal)))
		}
		_, known := view[e.Key]
		next := map[int]bool{}
		// Streaming: e is the next change.
		for p := range normal {
			if p < len(c.h.Store) && c.streams(c.h.Store[p], e, known) {
				next[p+1] = true
			}
		}
		if len(normal) > 0 && !listing {
			// A list may start here: from the earliest position the
			// watcher may be streaming from. While a list may already be
			// under way its start stays: events that also stream might
			// be that list's first items, so moving the start on with
			// the streaming position could reject the list's values.
			listFrom = slices.Min(slices.Collect(maps.Keys(normal)))
			listing = true
		}
		if e.Typ == kvstore.EventTypeListDone {
			if !initial || !awaitDone {
				return c.fail(i, "ListDone where no initial list just completed")
			}
			initial, awaitDone = false, false
			for _, q := range doneAt {
				next[q] = true
			}
			normal, listing = next, false
			lastEnded = true
			continue
		}
		// Listing: e is part of a list attempt (or its sweep).
		if listing {
			switch e.Typ {
			case kvstore.EventTypeCreate, kvstore.EventTypeModify:
				listing = (e.Typ == kvstore.EventTypeCreate) != known && c.plausible(listFrom, e.Key, e.Value, false)
			case kvstore.EventTypeDelete:
				listing = known && c.plausible(listFrom, e.Key, "", true)
			default:
				listing = false
			}
		}
		if len(next) == 0 && !listing {
			return c.fail(i, "neither the next change of the store nor part of a list")
		}
		switch e.Typ {
		case kvstore.EventTypeDelete:
			delete(view, e.Key)
		default:
			view[e.Key] = e.Value
		}
		lastEnded = len(next) > 0
		if listing {
			ends := c.listEnds(listFrom, i, view)
			if initial {
				doneAt, awaitDone = ends, len(ends) > 0
			} else {
				for _, q := range ends {
					next[q] = true
				}
				lastEnded = lastEnded || len(ends) > 0
			}
		}
		normal = next
	}
	if c.h.MayStopAnywhere {
		return nil
	}
	if initial && len(ev) > 0 {
		return c.fail(len(ev)-1, "the initial list never ended with ListDone")
	}
	if len(ev) > 0 && !lastEnded {
		return c.fail(len(ev)-1, "the watcher stopped in the middle of a list that no complete list followed")
	}
	return nil
}

// streams reports whether e is how a watcher reports change s.
func (c *watchChecker) streams(s StoreEvent, e WatchEvent, known bool) bool {
	if s.Key != e.Key {
		return false
	}
	if s.Delete {
		return e.Typ == kvstore.EventTypeDelete && known
	}
	want := kvstore.EventTypeModify
	if !known {
		want = kvstore.EventTypeCreate
	}
	return e.Typ == want && e.Value == s.Value
}

func (c *watchChecker) fail(i int, why string) error {
	ev := c.h.Events
	var b strings.Builder
	for j := max(0, i-6); j <= i && j < len(ev); j++ {
		fmt.Fprintf(&b, "\n  #%d %s", j, ev[j])
	}
	fmt.Fprintf(&b, "\n  store changes from position %d:", c.from)
	for q := c.from; q < len(c.h.Store) && q < c.from+8; q++ {
		s := c.h.Store[q]
		if s.Delete {
			fmt.Fprintf(&b, "\n  @%d delete(%s)", s.Rev, s.Key)
		} else {
			fmt.Fprintf(&b, "\n  @%d put(%s=%q)", s.Rev, s.Key, s.Value)
		}
	}
	return fmt.Errorf("%w: watch event #%d of %d, %s: %s; events up to it:%s", ErrViolation, i, len(ev), ev[i], why, b.String())
}
