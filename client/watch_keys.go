package client

// keySet is what a watcher remembers about the consumer's view: the keys it
// reported and not deleted since. It decides Create versus Modify and, after
// a resync, which keys vanished while the watch was down.
//
// Each entry carries the generation of the last list that saw the key, so a
// resync needs no second set: keys whose generation is older than the
// current list vanished. One map entry per key (the key string is shared
// with the event handed to the consumer) keeps 100k keys at a few MB.
type keySet struct {
	gen  uint32
	keys map[string]uint32
	// stale counts the keys the current list has not seen yet; when it is
	// zero a sweep has nothing to find and skips walking the set.
	stale int
}

func newKeySet() keySet { return keySet{keys: make(map[string]uint32)} }

// startList begins a new list generation. A list attempt that fails half
// way simply leaves its keys at a generation the next attempt supersedes.
func (s *keySet) startList() {
	s.gen++
	s.stale = len(s.keys)
}

// reserve makes room for n keys before a list fills an empty set, so that
// 100k keys do not grow the map through every power of two, each growth
// copying the table and leaving the old one to the collector.
func (s *keySet) reserve(n int) {
	if len(s.keys) == 0 && n > 0 {
		s.keys = make(map[string]uint32, n)
	}
}

// see records key as known in the current generation and reports whether
// the consumer knew it already (then the event is a Modify).
func (s *keySet) see(key string) (known bool) {
	g, known := s.keys[key]
	if known && g != s.gen {
		s.stale--
	}
	s.keys[key] = s.gen
	return known
}

// remove forgets key and reports whether the consumer knew it.
func (s *keySet) remove(key string) (known bool) {
	g, known := s.keys[key]
	if known {
		delete(s.keys, key)
		if g != s.gen {
			s.stale--
		}
	}
	return known
}

// sweep forgets every key the current list generation did not see and calls
// fn with each of them. It stops early, returning false, when fn does.
func (s *keySet) sweep(fn func(key string) bool) bool {
	if s.stale == 0 {
		return true
	}
	s.stale = 0
	for k, g := range s.keys {
		if g == s.gen {
			continue
		}
		delete(s.keys, k)
		if !fn(k) {
			return false
		}
	}
	return true
}

// len returns the number of known keys.
func (s *keySet) len() int { return len(s.keys) }
