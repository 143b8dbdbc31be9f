package fleet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Fleet is a set of running agents. Its methods are safe for concurrent use
// once Start returned.
type Fleet struct {
	cfg    Config
	Agents []*Agent
	// want holds, per agent index, the latest seq the agent published:
	// what every agent must end up seeing.
	want []atomic.Uint32
}

// convergePoll is how often convergence is checked.
const convergePoll = 20 * time.Millisecond

// Start connects cfg.Agents agents (at most cfg.StartConcurrency at once),
// each publishing its node key (update 1) and watching every node's. It
// returns once every agent started; Converged tells when they all see each
// other. On error the agents started so far are closed.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	f := &Fleet{cfg: cfg, Agents: make([]*Agent, cfg.Agents), want: make([]atomic.Uint32, cfg.Agents)}
	for i := range f.want {
		f.want[i].Store(1)
	}
	sem := make(chan struct{}, cfg.StartConcurrency)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := range cfg.Agents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := f.startAgent(ctx, i)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			f.Agents[i] = a
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Config returns the fleet's configuration, defaults applied.
func (f *Fleet) Config() Config { return f.cfg }

// Missing is the number of (agent, node) pairs where the agent has not seen
// the node's latest value: 0 once the fleet has converged.
func (f *Fleet) Missing() int {
	n := 0
	for _, a := range f.Agents {
		if a != nil {
			n += a.missing()
		}
	}
	return n
}

// Converged reports whether every agent's WatchStore listed and every agent
// has seen every node's latest value.
func (f *Fleet) Converged() bool {
	for _, a := range f.Agents {
		if a == nil || !a.Watch.Synced() || a.missing() > 0 {
			return false
		}
	}
	return true
}

// WaitConverged waits until Converged or ctx ends, and returns how long it
// took.
func (f *Fleet) WaitConverged(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := waitFor(ctx, convergePoll, f.Converged)
	return time.Since(start), err
}

// Update publishes the next value of agent i's node key.
func (f *Fleet) Update(ctx context.Context, i int) error {
	f.want[i].Add(1)
	return f.Agents[i].publish(ctx)
}

// Close stops every agent, in parallel.
func (f *Fleet) Close() {
	var wg sync.WaitGroup
	for _, a := range f.Agents {
		if a != nil {
			wg.Go(a.Close)
		}
	}
	wg.Wait()
}
