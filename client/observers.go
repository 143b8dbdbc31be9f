package client

import (
	"strings"
	"sync"
)

// leaseObservers holds the functions registered with
// RegisterLeaseExpiredObserver, one per prefix.
type leaseObservers struct {
	mu  sync.RWMutex
	fns map[string]func(key string)
}

func (o *leaseObservers) register(prefix string, fn func(key string)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if fn == nil {
		delete(o.fns, prefix)
		return
	}
	if o.fns == nil {
		o.fns = make(map[string]func(string))
	}
	o.fns[prefix] = fn
}

// notify calls, for every lost key, each observer whose prefix matches it.
// Observers run without the lock held, so they may register or unregister.
func (o *leaseObservers) notify(keys []string) {
	type match struct {
		fn  func(string)
		key string
	}
	var calls []match
	o.mu.RLock()
	for _, k := range keys {
		for prefix, fn := range o.fns {
			if strings.HasPrefix(k, prefix) {
				calls = append(calls, match{fn, k})
			}
		}
	}
	o.mu.RUnlock()
	for _, c := range calls {
		c.fn(c.key)
	}
}
