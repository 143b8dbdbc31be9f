package observers

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Set holds the lease-expiry observers of one client. It has two kinds of
// registration, which never affect each other:
//
//   - per prefix (SetPrefix, the reference's RegisterLeaseExpiredObserver):
//     at most one function per prefix; setting it again replaces it, nil
//     removes it, whoever registered it;
//   - per instance (Add, ObserveLeaseExpired): any number per prefix, each
//     removed only by the stop function its registration returned, so that
//     a store or allocator that closes never silences the one that
//     replaced it on the same prefix.
//
// The zero value is ready to use.
type Set struct {
	mu       sync.RWMutex
	byPrefix map[string]func(key string)
	handles  map[*handle]struct{}
}

// handle is one per-instance registration.
type handle struct {
	prefix  string
	fn      func(key string)
	stopped atomic.Bool
}

// SetPrefix sets the per-prefix observer of prefix; a nil fn removes it.
func (s *Set) SetPrefix(prefix string, fn func(key string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn == nil {
		delete(s.byPrefix, prefix)
		return
	}
	if s.byPrefix == nil {
		s.byPrefix = make(map[string]func(string))
	}
	s.byPrefix[prefix] = fn
}

// Add registers fn for the keys under prefix and returns the function that
// removes exactly this registration. stop is idempotent and may be called
// from fn. Once stop has returned, fn is not called again, except for a
// call that had already begun when stop was called.
func (s *Set) Add(prefix string, fn func(key string)) (stop func()) {
	if fn == nil {
		return func() {}
	}
	h := &handle{prefix: prefix, fn: fn}
	s.mu.Lock()
	if s.handles == nil {
		s.handles = make(map[*handle]struct{})
	}
	s.handles[h] = struct{}{}
	s.mu.Unlock()
	return func() {
		if h.stopped.Swap(true) {
			return
		}
		s.mu.Lock()
		delete(s.handles, h)
		s.mu.Unlock()
	}
}

// Notify calls, for every lost key, each observer whose prefix matches it.
// The calls happen without the lock held, so observers may register or
// unregister; a registration stopped while Notify runs is skipped from then
// on.
func (s *Set) Notify(keys []string) {
	type call struct {
		fn  func(string)
		h   *handle // nil for a per-prefix observer
		key string
	}
	var calls []call
	s.mu.RLock()
	for _, k := range keys {
		for prefix, fn := range s.byPrefix {
			if strings.HasPrefix(k, prefix) {
				calls = append(calls, call{fn, nil, k})
			}
		}
		for h := range s.handles {
			if strings.HasPrefix(k, h.prefix) {
				calls = append(calls, call{h.fn, h, k})
			}
		}
	}
	s.mu.RUnlock()
	for _, c := range calls {
		if c.h != nil && c.h.stopped.Load() {
			continue
		}
		c.fn(c.key)
	}
}
