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
}

func newKeySet() keySet { return keySet{keys: make(map[string]uint32)} }

// startList begins a new list generation. A list attempt that fails half
// way simply leaves its keys at a generation the next attempt supersedes.
func (s *keySet) startList() { s.gen++ }

// see records key as known in the current generation and reports whether
// the consumer knew it already (then the event is a Modify).
func (s *keySet) see(key string) (known bool) {
	_, known = s.keys[key]
	s.keys[key] = s.gen
	return known
}

// remove forgets key and reports whether the consumer knew it.
func (s *keySet) remove(key string) (known bool) {
	if _, known = s.keys[key]; known {
		delete(s.keys, key)
	}
	return known
}

// sweep forgets every key the current list generation did not see and calls
// fn with each of them. It stops early, returning false, when fn does.
func (s *keySet) sweep(fn func(key string) bool) bool {
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
