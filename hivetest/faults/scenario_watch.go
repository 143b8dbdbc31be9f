package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// checkWatches stops the watchers (they have converged), lets the store
// log catch up with the store, and checks the events of every watcher —
// the run's WatchViews and every ListAndWatch through a recorded Backend
// (the allocator's, the shared store's) — against it.
func (r *Run) checkWatches(ctx context.Context) []error {
	r.mu.Lock()
	watchers, log, logErr := slices.Clone(r.watchers), r.storeLog, r.logErr
	r.mu.Unlock()
	recorded := r.Rec.Watches()
	if len(watchers)+len(recorded) == 0 {
		return nil
	}
	if logErr != nil {
		return []error{fmt.Errorf("%w: no store log to check the watchers against: %v", ErrInconclusive, logErr)}
	}
	for _, w := range watchers {
		w.Stop()
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := log.CatchUp(cctx); err != nil {
		return []error{err}
	}
	initial, changes, err := log.History()
	if err != nil {
		return []error{err}
	}
	var errs []error
	check := func(name, prefix string, events []WatchEvent, converged bool) {
		r.watchEvents += len(events)
		h := underPrefix(prefix, initial, changes)
		h.Events, h.ListDone, h.MayStopAnywhere = events, true, !converged
		if err := CheckWatch(h); err != nil {
			errs = append(errs, fmt.Errorf("%s of %q (%d events, %d store changes%s): %w", name, prefix, len(events), len(h.Store), r.saveWatch(name, h), err))
		}
	}
	for i, w := range watchers {
		check(fmt.Sprintf("watcher %d", i), r.Prefix, w.Events(), true)
	}
	for i, w := range recorded {
		check(fmt.Sprintf("recorded ListAndWatch %d", i), w.Prefix, w.Events(), false)
	}
	return errs
}

// CheckEvents checks events that stand for the watch events of prefix (an
// observer's calls, say) one by one against the store's changes under it,
// as CheckWatch does; listDone says whether the initial list ends with a
// ListDone among them. The run's store log must cover prefix (it covers
// Prefix); it catches up with the store first. Invariants may call it.
func (r *Run) CheckEvents(ctx context.Context, prefix string, events []WatchEvent, listDone bool) error {
	r.mu.Lock()
	log, logErr := r.storeLog, r.logErr
	r.mu.Unlock()
	if logErr != nil || log == nil {
		return fmt.Errorf("%w: no store log to check against: %v", ErrInconclusive, logErr)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := log.CatchUp(cctx); err != nil {
		return err
	}
	initial, changes, err := log.History()
	if err != nil {
		return err
	}
	h := underPrefix(prefix, initial, changes)
	h.Events, h.ListDone = events, listDone
	r.mu.Lock()
	r.watchEvents += len(events)
	r.mu.Unlock()
	if err := CheckWatch(h); err != nil {
		return fmt.Errorf("%d events, %d store changes%s: %w", len(events), len(h.Store), r.saveWatch("events of "+prefix, h), err)
	}
	return nil
}

// saveWatch writes a failed watch check's history as JSON to the run's
// output directory and says where, for the failure message.
func (r *Run) saveWatch(name string, h WatchHistory) string {
	if r.outDir == "" {
		return ""
	}
	data, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return ""
	}
	r.mu.Lock()
	r.nextID++
	n := r.nextID
	r.mu.Unlock()
	path := filepath.Join(r.outDir, fmt.Sprintf("%s-seed%d-watch%d.json", r.Scenario, r.Seed, n))
	if os.MkdirAll(r.outDir, 0o755) != nil || os.WriteFile(path, data, 0o644) != nil {
		return ""
	}
	return "; " + name + " saved to " + path
}

// underPrefix is the part of a store log under prefix.
func underPrefix(prefix string, initial map[string]string, changes []StoreEvent) WatchHistory {
	h := WatchHistory{Initial: map[string]string{}}
	for k, v := range initial {
		if strings.HasPrefix(k, prefix) {
			h.Initial[k] = v
		}
	}
	for _, c := range changes {
		if strings.HasPrefix(c.Key, prefix) {
			h.Store = append(h.Store, c)
		}
	}
	return h
}
