package observers

import (
	"strings"
	"sync"
)

// Set maps key prefixes to the function called for every lost key under
// the prefix. The zero value is ready to use.
type Set struct {
	mu  sync.RWMutex
	fns map[string]func(key string)
}

// Register sets the observer of prefix; a nil fn removes it.
func (s *Set) Register(prefix string, fn func(key string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn == nil {
		delete(s.fns, prefix)
		return
	}
	if s.fns == nil {
		s.fns = make(map[string]func(string))
	}
	s.fns[prefix] = fn
}

// Notify calls, for every lost key, each observer whose prefix matches it.
// The calls happen without the lock held, so observers may register or
// unregister.
func (s *Set) Notify(keys []string) {
	type call struct {
		fn  func(string)
		key string
	}
	var calls []call
	s.mu.RLock()
	for _, k := range keys {
		for prefix, fn := range s.fns {
			if strings.HasPrefix(k, prefix) {
				calls = append(calls, call{fn, k})
			}
		}
	}
	s.mu.RUnlock()
	for _, c := range calls {
		c.fn(c.key)
	}
}
