package etcd

import (
	"slices"
	"strings"
)

// keySet is what a watcher remembers about the consumer's view: the keys it
// reported and not deleted since. It decides Create versus Modify and, after
// a resync, which keys vanished while the watch was down.
//
// A map of strings costs ~50-60 bytes per key, which for a large prefix
// doubles the heap of an initial sync. Listed keys are therefore packed in
// a sorted keyArena (key bytes back to back plus a 4-byte offset), exploiting
// that a list returns keys in ascending order, and without the watched
// prefix every key shares: ~len(key)-len(prefix)+4 bytes per key. Keys that
// cannot be appended in order (watch Creates in the middle of the range, a
// list out of order, keys outside the prefix) go to small overflow maps.
//
// Outside a list the view is known ∪ extra (disjoint). A list attempt
// (startList, see..., sweep) builds the next view in next ∪ nextExtra
// (disjoint) while lookups still consult the previous one; sweep reports the
// previous keys the list did not see and installs the next view. A list
// attempt that fails (startList again without sweep) folds both views
// together: the consumer saw the keys the failed attempt emitted.
//
// Methods are not safe for concurrent use; the watcher goroutine owns it.
type keySet struct {
	// pfx is stripped from the keys stored in the arenas; keys without
	// it live in the maps only.
	pfx   string
	known keyArena
	extra map[string]struct{} // full keys

	listing   bool
	next      keyArena
	nextExtra map[string]struct{} // full keys
	// cursor is the index in known of the first key not smaller than the
	// last key appended to next: keys of a list arrive in ascending order,
	// so lookups in known walk forward instead of searching from scratch.
	cursor int
	// stale counts the keys of the previous view the current list has not
	// seen (and no event removed): the keys sweep will report. When it is
	// zero sweep skips the walk; when it reaches zero during the walk the
	// walk stops.
	stale int
	// compactMin is the overflow size (and deleted-key count) below which
	// the watch phase never rebuilds the arena; a field so tests can
	// exercise compaction with a few keys. compactLeft is what the last
	// compaction could not move (keys outside pfx): the next one waits
	// until the overflow doubled.
	compactMin, compactLeft int
	buf                     []byte // scratch to rebuild full keys
}

func newKeySet() keySet { return keySet{compactMin: 1024} }

// usePrefix declares that keys usually start with p, so the arenas need not
// store it. It only takes effect while the arenas are empty (before the
// first list), since their keys are stored without the previous prefix.
func (s *keySet) usePrefix(p string) {
	if s.known.len() == 0 && s.next.len() == 0 {
		s.pfx = p
	}
}

// startList begins a list attempt. If the previous attempt did not reach
// sweep, the keys it saw join the known view first.
func (s *keySet) startList() {
	if s.listing {
		s.fold()
	}
	s.listing = true
	s.next = keyArena{}
	s.nextExtra = nil
	s.cursor = 0
	s.stale = s.known.live() + len(s.extra)
}

// reserve announces that the current list will return about n keys, so the
// arena is allocated once at its final size instead of growing through every
// doubling, each growth leaving the old array to the collector.
func (s *keySet) reserve(n int) {
	if s.listing && s.next.len() == 0 && n > 0 {
		s.next.ends = make([]uint32, 0, n)
		s.next.hint = n
	}
}

// see records key as known (and, during a list, as seen by it) and reports
// whether the consumer knew it already (then the event is a Modify).
func (s *keySet) see(key string) (known bool) {
	if !s.listing {
		return s.seeWatch(key)
	}
	if len(s.nextExtra) > 0 {
		if _, ok := s.nextExtra[key]; ok {
			return true
		}
	}
	sfx, inArena := strings.CutPrefix(key, s.pfx)
	if !inArena {
		_, known = s.extra[key]
		if known {
			s.stale--
		}
		s.addNextExtra(key)
		return known
	}
	n := s.next.len()
	if n == 0 || string(s.next.key(n-1)) < sfx {
		// The hot path: keys arrive in ascending order, so key is not
		// in next yet.
		cursor := s.cursor
		known = s.inPrevious(key, sfx)
		if known {
			s.stale--
		}
		if !s.next.push(sfx) {
			// The cursor must stay below every key next may still
			// append.
			s.cursor = cursor
			s.addNextExtra(key)
		}
		return known
	}
	i, found := s.next.search(sfx, 0)
	if found && !s.next.isDead(i) {
		return true
	}
	known = s.inPreviousSearch(key, sfx)
	if known {
		s.stale--
	}
	if found {
		s.next.revive(i)
	} else {
		s.addNextExtra(key)
	}
	return known
}

// inPrevious reports whether key (sfx without the prefix) is in the previous
// view, for keys arriving in ascending order: it advances the cursor,
// usually by zero or one key.
func (s *keySet) inPrevious(key, sfx string) bool {
	if s.known.live() == 0 {
		if len(s.extra) == 0 {
			return false // first list: nothing to look up
		}
	} else {
		n, i := s.known.len(), s.cursor
		if i < n && string(s.known.key(i)) < sfx {
			i++
			if i < n && string(s.known.key(i)) < sfx {
				i, _ = s.known.search(sfx, i+1)
			}
		}
		s.cursor = i
		if i < n && string(s.known.key(i)) == sfx && !s.known.isDead(i) {
			return true
		}
	}
	_, ok := s.extra[key]
	return ok
}

// inPreviousSearch reports whether key is in the previous view, for a key
// out of order; it leaves the cursor alone.
func (s *keySet) inPreviousSearch(key, sfx string) bool {
	if i, found := s.known.search(sfx, 0); found && !s.known.isDead(i) {
		return true
	}
	_, ok := s.extra[key]
	return ok
}

func (s *keySet) addNextExtra(key string) {
	if s.nextExtra == nil {
		s.nextExtra = make(map[string]struct{})
	}
	s.nextExtra[key] = struct{}{}
}

// seeWatch is see outside a list.
func (s *keySet) seeWatch(key string) bool {
	if _, ok := s.extra[key]; ok {
		return true
	}
	if sfx, inArena := strings.CutPrefix(key, s.pfx); inArena {
		n := s.known.len()
		if n == 0 || string(s.known.key(n-1)) < sfx {
			// New keys often sort last (increasing ids): append.
			if s.known.push(sfx) {
				return false
			}
		} else if i, found := s.known.search(sfx, 0); found {
			if !s.known.isDead(i) {
				return true
			}
			s.known.revive(i)
			return false
		}
	}
	if s.extra == nil {
		s.extra = make(map[string]struct{})
	}
	s.extra[key] = struct{}{}
	if n := len(s.extra); n >= s.compactMin && n >= s.known.live()/4 && n >= 2*s.compactLeft {
		s.compact()
	}
	return false
}

// remove forgets key and reports whether the consumer knew it.
func (s *keySet) remove(key string) (known bool) {
	sfx, inArena := strings.CutPrefix(key, s.pfx)
	inPrev := false
	if i, found := s.known.search(sfx, 0); inArena && found && !s.known.isDead(i) {
		s.known.kill(i)
		inPrev = true
	}
	if _, ok := s.extra[key]; ok {
		delete(s.extra, key)
		inPrev = true
	}
	if !s.listing {
		if s.known.ndead >= s.compactMin && s.known.ndead >= s.known.len()/2 {
			s.compact()
		}
		return inPrev
	}
	inNext := false
	if i, found := s.next.search(sfx, 0); inArena && found && !s.next.isDead(i) {
		s.next.kill(i)
		inNext = true
	}
	if _, ok := s.nextExtra[key]; ok {
		delete(s.nextExtra, key)
		inNext = true
	}
	if inPrev && !inNext {
		s.stale--
	}
	return inPrev || inNext
}

// sweep ends the list: it forgets every key of the previous view the list
// did not see, calling fn with each of them in ascending order (arena keys
// first, then overflow keys in no order). It stops calling fn, returning
// false, when fn does; the keys it did not report then stay known.
func (s *keySet) sweep(fn func(key string) bool) bool {
	if !s.listing {
		return true
	}
	ok := true
	if s.stale > 0 {
		ok = s.reportVanished(fn)
	}
	s.known, s.extra = s.next, s.nextExtra
	s.known.trim()
	s.listing = false
	s.next, s.nextExtra, s.cursor, s.stale = keyArena{}, nil, 0, 0
	return ok
}

// full returns pfx+sfx in a scratch buffer, valid until the next call.
func (s *keySet) full(sfx []byte) []byte {
	s.buf = append(append(s.buf[:0], s.pfx...), sfx...)
	return s.buf
}

// reportVanished walks the previous view against the next one (both arenas
// sorted: one merge pass) and hands each vanished key to fn. After fn said
// stop, vanished keys join the next view instead.
func (s *keySet) reportVanished(fn func(key string) bool) bool {
	ok := true
	vanish := func(key string, nextIdx int) {
		s.stale--
		if ok {
			ok = fn(key)
			return
		}
		if nextIdx >= 0 {
			s.next.revive(nextIdx)
		} else {
			s.addNextExtra(key)
		}
	}
	prev, next := &s.known, &s.next
	j := 0
	for i := 0; i < prev.len() && s.stale > 0; i++ {
		if prev.isDead(i) {
			continue
		}
		k := prev.key(i)
		for j < next.len() && string(next.key(j)) < string(k) {
			j++
		}
		nextIdx := -1
		if j < next.len() && string(next.key(j)) == string(k) {
			if !next.isDead(j) {
				continue
			}
			nextIdx = j
		}
		if len(s.nextExtra) > 0 {
			if _, seen := s.nextExtra[string(s.full(k))]; seen {
				continue
			}
		}
		vanish(string(s.full(k)), nextIdx)
	}
	for k := range s.extra {
		if s.stale == 0 {
			break
		}
		if _, seen := s.nextExtra[k]; seen {
			continue
		}
		j := -1
		if sfx, inArena := strings.CutPrefix(k, s.pfx); inArena {
			if i, found := next.search(sfx, 0); found {
				if !next.isDead(i) {
					continue
				}
				j = i
			}
		}
		vanish(k, j)
	}
	return ok
}

// fold makes the view of a list attempt that failed part of the known view:
// the consumer was told about those keys.
func (s *keySet) fold() {
	if s.known.live() == 0 {
		// A first list failed: its arena becomes the view as it is.
		s.known = s.next
	} else if m, ok := mergeLive(&s.known, &s.next); ok {
		s.known = m
	} else {
		for i := range s.next.len() {
			if !s.next.isDead(i) {
				s.addNextExtra(string(s.full(s.next.key(i))))
			}
		}
	}
	s.known.trim()
	// Keep extra disjoint from the arena.
	for k := range s.extra {
		if s.reviveKnown(k) {
			delete(s.extra, k)
		}
	}
	for k := range s.nextExtra {
		if s.reviveKnown(k) {
			continue
		}
		if s.extra == nil {
			s.extra = make(map[string]struct{}, len(s.nextExtra))
		}
		s.extra[k] = struct{}{}
	}
	s.next, s.nextExtra = keyArena{}, nil
}

// reviveKnown reports whether the known arena holds key, making it live.
func (s *keySet) reviveKnown(key string) bool {
	sfx, inArena := strings.CutPrefix(key, s.pfx)
	if !inArena {
		return false
	}
	i, found := s.known.search(sfx, 0)
	if found && s.known.isDead(i) {
		s.known.revive(i)
	}
	return found
}

// compact rebuilds the arena from its live keys and the overflow, outside a
// list, so that a long watch with many creates and deletes does not drift
// back to a map per key or keep deleted keys' bytes.
func (s *keySet) compact() {
	sfxs := make([]string, 0, len(s.extra))
	for k := range s.extra {
		if sfx, inArena := strings.CutPrefix(k, s.pfx); inArena {
			sfxs = append(sfxs, sfx)
		}
	}
	slices.Sort(sfxs)
	var add keyArena
	for _, sfx := range sfxs {
		if !add.push(sfx) {
			return
		}
	}
	m, ok := mergeLive(&s.known, &add)
	if !ok {
		return
	}
	s.known = m
	for _, sfx := range sfxs {
		delete(s.extra, s.pfx+sfx)
	}
	s.compactLeft = len(s.extra)
}

// len returns the number of known keys.
func (s *keySet) len() int {
	n := s.known.live() + len(s.extra)
	if s.listing {
		// Previous keys the list saw are in both views.
		n = s.next.live() + len(s.nextExtra) + s.stale
	}
	return n
}
