package memory

import (
	"strings"
	"sync"
)

// observers holds the functions registered with
// RegisterLeaseExpiredObserver, one per prefix.
type observers struct {
	mu  sync.RWMutex
	fns map[string]func(key string)
}

func (o *observers) register(prefix string, fn func(key string)) {
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
// The calls happen without the lock so that observers may (un)register.
func (o *observers) notify(keys []string) {
	type call struct {
		fn  func(string)
		key string
	}
	var calls []call
	o.mu.RLock()
	for _, k := range keys {
		for prefix, fn := range o.fns {
			if strings.HasPrefix(k, prefix) {
				calls = append(calls, call{fn, k})
			}
		}
	}
	o.mu.RUnlock()
	for _, c := range calls {
		c.fn(c.key)
	}
}
