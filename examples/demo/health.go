package main

import (
	"context"
	"time"

	"github.com/cilium/hive/cell"
)

// healthScopes are the health scopes of the demo's cells (module IDs), in
// the order the demo prints them.
var healthScopes = []string{"kvstore-client", "kvstore-heartbeat-updater", "kvstore-lock-gc", "kvstore-users"}

// printHealth prints the health tree of the demo's cells once: each
// module's scope with its level, what it reports, and the error of a
// degraded one. It waits (up to a few seconds) for the scopes to leave
// their start-up state, as a module reports OK once it is working.
func (d *demo) printHealth(ctx context.Context, sh *cell.SimpleHealth) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for ctx.Err() == nil && !allOK(sh) {
		time.Sleep(20 * time.Millisecond)
	}
	first := true
	for _, name := range healthScopes {
		s := sh.GetChild(name)
		if s == nil {
			continue
		}
		s.Lock()
		level, status, err := s.Level, s.Status, s.Error
		s.Unlock()
		prefix := "         "
		if first {
			prefix, first = "health ", false
		}
		d.printf("%s%s: %s (%s)\n", prefix, name, level, status)
		if err != nil {
			d.printf("           error: %v\n", err)
		}
	}
}

// allOK reports whether every scope present is OK.
func allOK(sh *cell.SimpleHealth) bool {
	for _, name := range healthScopes {
		if s := sh.GetChild(name); s != nil {
			s.Lock()
			ok := s.Level == cell.StatusOK
			s.Unlock()
			if !ok {
				return false
			}
		}
	}
	return true
}
