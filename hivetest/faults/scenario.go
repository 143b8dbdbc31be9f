package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hivekv/kvstore"
)

// Scenario is a seeded run of a workload under a fault schedule.
//
// Run sets the run up (clients, watchers, workers through the Run's
// helpers), injects its faults and returns once its workers have stopped;
// it need not heal, the runner does. After Run the runner heals the
// cluster, reads every key of Run.Keys once more (the final reads) and
// checks the default invariants (DefaultInvariants) and then the
// scenario's own Invariants, while the run's clients are still open.
type Scenario struct {
	// Name is the subtest name and the -run selector, e.g. "leader-kill".
	Name string
	// Run drives the workload and the faults. An error is a broken run
	// (e.g. no client could connect), not a violation.
	Run func(ctx context.Context, r *Run) error
	// Invariants are checked after the default ones.
	Invariants []Invariant
}

// Invariant is a property every run of a scenario must have. Check returns
// an error wrapping ErrViolation when the run broke it.
type Invariant struct {
	Name  string
	Check func(ctx context.Context, r *Run) error
}

var registry struct {
	sync.Mutex
	scenarios []Scenario
}

// Register adds a scenario to the suite; TestFaults runs every registered
// scenario. Packages add theirs from an init function of a file built into
// the test binary. Names must be unique.
func Register(s Scenario) {
	registry.Lock()
	defer registry.Unlock()
	for _, old := range registry.scenarios {
		if old.Name == s.Name {
			panic(fmt.Sprintf("faults: scenario %q registered twice", s.Name))
		}
	}
	registry.scenarios = append(registry.scenarios, s)
}

// Scenarios returns the registered scenarios in registration order.
func Scenarios() []Scenario {
	registry.Lock()
	defer registry.Unlock()
	return slices.Clone(registry.scenarios)
}

// Run is the state of one run of a scenario.
type Run struct {
	Scenario string
	Seed     int64
	// Rand drives the fault schedule; workers have their own generators
	// derived from Seed.
	Rand *rand.Rand
	Kit  *Kit
	Rec  *Recorder
	// Prefix is the run's key prefix; Keys are the keys the workers use
	// and the final reads check.
	Prefix string
	Keys   []string

	mu       sync.Mutex
	clients  []*Client
	watchers []*WatchView
	nextID   int
	// storeLog is etcd's own account of every change under Prefix,
	// started before the scenario; logErr is why it could not start.
	storeLog *StoreLog
	logErr   error
	// watchEvents counts the watch events checked.
	watchEvents int
	// outDir receives the histories of failed watch checks.
	outDir string
}

// Worker ids above every workload's: the final reads and the fault kit.
const (
	FinalWorker   = 100
	NemesisWorker = 101
)

// NewClient connects a new recorded client for worker; the runner closes it.
func (r *Run) NewClient(ctx context.Context, worker int) (*Client, error) {
	b, err := r.Kit.NewClient(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("faults: client for worker %d: %w", worker, err)
	}
	c := r.Rec.Wrap(worker, b)
	r.mu.Lock()
	r.clients = append(r.clients, c)
	r.mu.Unlock()
	return c, nil
}

// NewClients connects one client per worker 0..n-1, in parallel.
func (r *Run) NewClients(ctx context.Context, n int) ([]*Client, error) {
	cs := make([]*Client, n)
	errs := make([]error, n)
	var g group
	for i := range n {
		g.Go(func() { cs[i], errs[i] = r.NewClient(ctx, i) })
	}
	g.Wait()
	return cs, errors.Join(errs...)
}

// Watch starts a WatchView of the run's prefix on b; the runner checks that
// it converges on ListPrefix, stops it, and checks its events one by one
// (CheckWatch) against etcd's own watch of the prefix (StoreLog, started
// before the scenario).
func (r *Run) Watch(ctx context.Context, b kvstore.BackendOperations, chanSize int) *WatchView {
	v := NewWatchView(ctx, b, r.Prefix, chanSize)
	r.mu.Lock()
	r.watchers = append(r.watchers, v)
	r.mu.Unlock()
	return v
}

// Between returns a random duration in [lo, hi) from the run's schedule.
func (r *Run) Between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Rand.Int64N(int64(hi-lo)))
}

// Wait sleeps d unless ctx ends first.
func (r *Run) Wait(ctx context.Context, d time.Duration) { sleepCtx(ctx, d) }

// KillLeader kills the leader once or twice (the run's schedule decides),
// each time restarting it after 0.3–0.9 s and letting the cluster settle for
// 0.1–0.4 s: the fault of every leader-kill scenario.
func (r *Run) KillLeader(ctx context.Context) error {
	for range 1 + r.Rand.IntN(2) {
		leader, err := r.Kit.Leader(ctx)
		if err != nil {
			return err
		}
		if err := r.Kit.Kill(leader); err != nil {
			return err
		}
		r.Wait(ctx, r.Between(300*time.Millisecond, 900*time.Millisecond))
		if err := r.Kit.Restart(ctx, leader); err != nil {
			return err
		}
		r.Wait(ctx, r.Between(100*time.Millisecond, 400*time.Millisecond))
	}
	return nil
}

// StartKV starts a KVWorker per client and returns the function that stops
// and waits for them.
func (r *Run) StartKV(ctx context.Context, clients []*Client) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var g group
	for i, c := range clients {
		g.Go(func() { KVWorker(ctx, r.Seed, i, r.Keys, func() *Client { return c }) })
	}
	return func() { cancel(); g.Wait() }
}

// Result is what one run found.
type Result struct {
	Scenario string
	Seed     int64
	// Ops is the number of operations checked for linearizability;
	// Unknown how many of them had an unknown outcome.
	Ops, Unknown int
	// Txns is how many of Ops are transactions.
	Txns int
	// WatchEvents is how many watch events were checked one by one.
	WatchEvents int
	// LockLost is how many fenced operations reported the lock lost.
	LockLost int
	// Violations are the invariants the run broke, each wrapping
	// ErrViolation (or ErrInconclusive).
	Violations []error
	// Err is a broken run: the scenario or the runner could not do its
	// work, so nothing was checked.
	Err error
}

// Options tune the runner.
type Options struct {
	// OutDir receives porcupine visualisations of failing histories.
	OutDir string
	// CheckTimeout bounds the linearizability check (default 1 min).
	CheckTimeout time.Duration
}

// runTimeout bounds one run, checks included.
const runTimeout = 3 * time.Minute

// RunOnce runs scenario s with seed on kit and checks every invariant.
func RunOnce(ctx context.Context, kit *Kit, s Scenario, seed int64, opts Options) Result {
	res := Result{Scenario: s.Name, Seed: seed}
	if opts.CheckTimeout == 0 {
		opts.CheckTimeout = time.Minute
	}
	// A run lasts seconds; this only stops a cluster that never heals
	// from hanging the whole suite.
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	snap := TakeLeakSnapshot()
	r := &Run{
		Scenario: s.Name,
		Seed:     seed,
		Rand:     rand.New(rand.NewPCG(uint64(seed), 0)),
		Kit:      kit,
		Rec:      NewRecorder(),
		Prefix:   fmt.Sprintf("faults/%s/%d/", s.Name, seed),
		outDir:   opts.OutDir,
	}
	for i := range 4 {
		r.Keys = append(r.Keys, fmt.Sprintf("%sk%d", r.Prefix, i))
	}
	r.storeLog, r.logErr = NewStoreLog(ctx, kit, r.Prefix)
	if err := s.Run(ctx, r); err != nil {
		res.Err = err
	}
	var final *Client
	if res.Err == nil {
		res.Err = kit.Heal(ctx)
	}
	if res.Err == nil {
		final, res.Err = r.NewClient(ctx, FinalWorker)
	}
	if res.Err == nil {
		res.Err = r.finalReads(ctx, final)
	}
	if res.Err == nil {
		res.Violations = append(res.Violations, r.watchersConverge(ctx, final)...)
		res.Violations = append(res.Violations, r.checkWatches(ctx)...)
		for _, inv := range s.Invariants {
			if err := inv.Check(ctx, r); err != nil {
				res.Violations = append(res.Violations, fmt.Errorf("%s: %w", inv.Name, err))
			}
		}
		r.mu.Lock()
		res.WatchEvents = r.watchEvents
		r.mu.Unlock()
	}
	r.closeAll()
	kit.CloseRaw()
	if res.Err != nil {
		return res
	}

	ops := r.Rec.Ops()
	for _, op := range porcupineHistory(ops) {
		res.Ops++
		if op.Input.(Input).Kind == KindTxn {
			res.Txns++
		}
		switch out := op.Output.(Output); {
		case out.Outcome == Unknown:
			res.Unknown++
		case out.LockLost:
			res.LockLost++
		}
	}
	html := filepath.Join(opts.OutDir, fmt.Sprintf("%s-seed%d.html", s.Name, seed))
	for _, err := range []error{
		CheckLinearizable(ops, opts.CheckTimeout, html),
		CheckNoLostWrites(ops, FinalWorker),
		CheckFencing(ops),
	} {
		if err != nil {
			res.Violations = append(res.Violations, err)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := snap.Check(lctx); err != nil {
		res.Violations = append(res.Violations, err)
	}
	return res
}

// finalReads reads every key once the cluster is healthy, retrying until
// a read succeeds: those reads are what CheckNoLostWrites compares with.
func (r *Run) finalReads(ctx context.Context, c *Client) error {
	for _, key := range r.Keys {
		for {
			rctx, cancel := context.WithTimeout(ctx, opTimeout)
			_, err := c.Get(rctx, key)
			cancel()
			if err == nil {
				break
			}
			if !sleepCtx(ctx, 50*time.Millisecond) {
				return fmt.Errorf("faults: final read of %q: %w", key, err)
			}
		}
	}
	return nil
}

// watchersConverge waits (up to 20 s) until every watcher's view equals
// ListPrefix of the run's prefix.
func (r *Run) watchersConverge(ctx context.Context, c *Client) []error {
	r.mu.Lock()
	watchers := slices.Clone(r.watchers)
	r.mu.Unlock()
	var errs []error
	for i, w := range watchers {
		w.Unblock()
		deadline := time.Now().Add(20 * time.Second)
		for {
			lctx, cancel := context.WithTimeout(ctx, opTimeout)
			pairs, err := c.BackendOperations.ListPrefix(lctx, r.Prefix) // unrecorded: it would join every key of the run into one part of the check
			cancel()
			if err == nil {
				if err = w.Converged(pairs); err == nil {
					break
				}
			}
			if time.Now().After(deadline) || !sleepCtx(ctx, 50*time.Millisecond) {
				errs = append(errs, fmt.Errorf("%w: watcher %d never converged on ListPrefix(%q): %v", ErrViolation, i, r.Prefix, err))
				break
			}
		}
	}
	return errs
}

// closeAll stops the watchers and closes every client of the run.
func (r *Run) closeAll() {
	r.mu.Lock()
	watchers, clients, log := r.watchers, r.clients, r.storeLog
	r.watchers, r.clients, r.storeLog = nil, nil, nil
	r.mu.Unlock()
	for _, w := range watchers {
		w.Stop()
	}
	for _, c := range clients {
		c.Close()
	}
	if log != nil {
		log.Close()
	}
}
