package background

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/job"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/internal/logfallback"
	"github.com/hivekv/kvstore/internal/modhealth"
)

// Params is what a cell takes from the graph for its background work, its
// health and its logger. Embed it in the cell's parameters (dig nests
// parameter objects). Everything but the lifecycle is optional: a bare hive
// works.
type Params struct {
	cell.In

	Lifecycle cell.Lifecycle
	// Jobs, when the graph has a job registry (job.Cell), runs the work
	// as jobs of a job.Group.
	Jobs job.Registry `optional:"true"`
	// Health, when the graph has a provider (cell.SimpleHealthCell,
	// Cilium's), receives the module's health (see internal/modhealth).
	Health cell.Health `optional:"true"`
	// Logrus is the program's logger when it provides one (the slog →
	// logrus bridge, cells.LogrusCell); Slog is the hive's module-scoped
	// logger, which the cells follow otherwise (logfallback.FromHive).
	Logrus logrus.FieldLogger `optional:"true"`
	Slog   *slog.Logger       `optional:"true"`
}

// Group is the long-lived work of one module, its health and its logger.
// It is the one place that decides how the work runs: as jobs of a
// job.Group when the graph has a job.Registry (so it shows with the
// program's other jobs, with their health and metrics), else on goroutines
// started and stopped by a lifecycle hook of its own (Jobs).
//
// Either way, work added before start starts with the hive, in the order
// of the lifecycle; its ctx ends at stop, and stop waits for it to return.
// When the work has stopped, every health part that reported is marked
// Stopped.
type Group struct {
	module string
	log    logrus.FieldLogger
	health *modhealth.Module

	jobs     job.Group // nil: fallback
	fallback *hook
}

// NewGroup returns the group of module, whose ID names its health scope and
// prefixes its job names. Call it from the module's constructor or invoke.
func NewGroup(p Params, module string) *Group {
	g := &Group{
		module: module,
		log:    logfallback.FromHive(p.Logrus, p.Slog),
		health: modhealth.New(p.Health, module),
	}
	// Appended before the work, so that it runs after the work stopped
	// (stop hooks run in reverse).
	p.Lifecycle.Append(cell.Hook{OnStop: func(cell.HookContext) error {
		g.health.StopAll("stopped")
		return nil
	}})
	if p.Jobs != nil {
		if p.Slog != nil {
			g.jobs = p.Jobs.NewGroup(g.health.Scope(), job.WithLogger(p.Slog))
		} else {
			g.jobs = p.Jobs.NewGroup(g.health.Scope())
		}
		return g
	}
	g.fallback = &hook{what: "the background work of " + module}
	p.Lifecycle.Append(g.fallback)
	return g
}

// Log returns the module's logger (logfallback.FromHive).
func (g *Group) Log() logrus.FieldLogger { return g.log }

// Health returns the module's health.
func (g *Group) Health() *modhealth.Module { return g.health }

// UsesJobs reports whether the work runs as jobs of a job.Group.
func (g *Group) UsesJobs() bool { return g.jobs != nil }

// Add runs fn until the hive stops: from start when added before it, at
// once when added after. fn must return once its ctx ends. name (unique in
// the module) names the job "<module>-<name>".
func (g *Group) Add(name string, fn func(ctx context.Context)) {
	if g.jobs != nil {
		g.jobs.Add(job.OneShot(g.module+"-"+name, func(ctx context.Context, _ cell.Health) error {
			fn(ctx)
			return nil
		}))
		return
	}
	g.fallback.add(fn)
}

// hook runs a group's work on goroutines when there is no job registry.
type hook struct {
	what string

	mu      sync.Mutex
	queued  []func(context.Context)
	ctx     context.Context // set by Start
	cancel  context.CancelFunc
	stopped bool
	wg      sync.WaitGroup
}

func (h *hook) add(fn func(context.Context)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.stopped:
	case h.ctx == nil:
		h.queued = append(h.queued, fn)
	default:
		h.goLocked(fn)
	}
}

func (h *hook) goLocked(fn func(context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn(h.ctx)
	}()
}

// Start implements cell.HookInterface. The work's ctx is not the hook's,
// which hive cancels as soon as Start returns.
func (h *hook) Start(cell.HookContext) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for _, fn := range h.queued {
		h.goLocked(fn)
	}
	h.queued = nil
	return nil
}

// Stop implements cell.HookInterface: it cancels the work and waits for it,
// bounded by ctx.
func (h *hook) Stop(ctx cell.HookContext) error {
	h.mu.Lock()
	h.stopped = true
	cancel := h.cancel
	h.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to stop: %w", h.what, ctx.Err())
	}
}
