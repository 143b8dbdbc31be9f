package pathlock

import (
	"sync"
	"time"
)

// Every live table is registered so that one process-wide GC pass (the
// client package's RunLockGC and the lockgc cell) covers every client.
var registry struct {
	sync.Mutex
	tables map[*Table]struct{}
}

func register(t *Table) {
	registry.Lock()
	defer registry.Unlock()
	if registry.tables == nil {
		registry.tables = make(map[*Table]struct{})
	}
	registry.tables[t] = struct{}{}
}

func unregister(t *Table) {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.tables, t)
}

// RunGC runs GC on every live table and returns what was released.
func RunGC(timeout time.Duration) []Stale {
	registry.Lock()
	tables := make([]*Table, 0, len(registry.tables))
	for t := range registry.tables {
		tables = append(tables, t)
	}
	registry.Unlock()
	var out []Stale
	for _, t := range tables {
		out = append(out, t.GC(timeout)...)
	}
	return out
}
