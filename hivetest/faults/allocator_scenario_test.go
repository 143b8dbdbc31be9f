package faults_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/hivetest/faults"
)

// The allocator scenarios: three allocators (one client and node name
// each, one base path) with a few goroutines each allocate and release
// keys of a small overlapping set while a GC round runs now and then and
// the cluster fails under them. They live in a test file so that the
// package's own code does not import the allocator.
//
// Each allocator's client is wrapped in the run's recorder
// (faults.Backend, which is kvstore.Transactional too), so every write and
// transaction of the allocator — the one-round-trip create and reference
// included — is in the history porcupine checks. The scenario also keeps
// its own history of Allocate and Release calls for the pairwise checks.
func init() {
	// The allocator's backend logs every fault at warning level on
	// logrus' standard logger; keep it as quiet as the clients' unless
	// their logs are asked for.
	if os.Getenv(faults.ClientLogEnv) == "" {
		logrus.SetOutput(io.Discard)
	}
	faults.Register(allocScenario("allocator-leader-kill", func(ctx context.Context, r *faults.Run) error { return r.KillLeader(ctx) }))
	faults.Register(allocScenario("allocator-partition", partitionOne))
}

// allocKeys overlap on purpose: keys that prefix each other (their slave
// key prefixes B/value/<key>/ nest) and keys holding "/".
var allocKeys = []string{"a;b;", "a;b;c;", "a;b;/c", "a;b;/c;d;", "x/y;", "x/", "app=1;", "app=2;"}

const (
	// allocWorkerBase is the recorder's worker id of node 0's client.
	allocWorkerBase = 10
	allocNodes      = 3
	allocGoroutines = 2
	// allocMaxID keeps the ID space small so that random picks of
	// different allocators collide and conflicts take the lock protocol,
	// yet large enough that the masters GC has not collected yet never
	// exhaust it.
	allocMaxID    = 200
	allocOpTimout = 2 * time.Second
)

// allocOp is one recorded Allocate or Release. Times are offsets from the
// run's start; an operation that failed has an unknown effect on the
// store (its reply may have been lost), but never counts as a hold.
type allocOp struct {
	node, worker int
	release      bool
	key          string
	call, ret    time.Duration
	id           allocator.ID // Allocate's result when err is nil
	err          error
	// store: the call reached the store (a first use or a last release,
	// or a failure), rather than only counting a local reference.
	store bool
}

// allocRun is what a run leaves for the invariants.
type allocRun struct {
	base  string
	ops   []allocOp
	holds []hold
	// final is the problems of the last store snapshot after heal (nil:
	// consistent), and snapshotErr a store that could not be read.
	final       []string
	snapshotErr error
	gcRounds    int
	phases      string // how long setup, workload, heal and convergence took
	log         func(format string, args ...any)
}

var allocRuns sync.Map // *faults.Run -> *allocRun

func allocScenario(name string, fault func(ctx context.Context, r *faults.Run) error) faults.Scenario {
	return faults.Scenario{
		Name: name,
		Run:  func(ctx context.Context, r *faults.Run) error { return runAlloc(ctx, r, fault) },
		Invariants: []faults.Invariant{
			{Name: "no key with two IDs", Check: func(_ context.Context, r *faults.Run) error { return checkAlloc(r, keyTwoIDs) }},
			{Name: "no ID with two keys", Check: func(_ context.Context, r *faults.Run) error { return checkAlloc(r, idTwoKeys) }},
			{Name: "allocator store consistent after heal", Check: func(_ context.Context, r *faults.Run) error {
				defer allocRuns.Delete(r)
				return checkAlloc(r, finalStore)
			}},
		},
	}
}

func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// runAlloc runs the workload under fault, heals, waits (bounded) until the
// store is consistent and holds every final reference, and closes what it
// opened: nothing of the run outlives it.
func runAlloc(ctx context.Context, r *faults.Run, fault func(ctx context.Context, r *faults.Run) error) (err error) {
	ar := &allocRun{base: r.Prefix + "alloc"}
	allocRuns.Store(r, ar)
	start := time.Now()

	var clients []kvstore.BackendOperations
	var allocs []*allocator.Allocator
	defer func() {
		for _, a := range allocs {
			a.Close()
		}
		for _, c := range clients {
			c.Close()
		}
	}()
	for n := range allocNodes {
		c, err := r.Kit.NewClient(ctx, nil)
		if err != nil {
			return fmt.Errorf("allocator client n%d: %w", n, err)
		}
		clients = append(clients, c)
		rec := r.Rec.WrapBackend(allocWorkerBase+n, c)
		if _, ok := kvstore.BackendOperations(rec).(kvstore.Transactional); !ok {
			return fmt.Errorf("client of n%d is not kvstore.Transactional: the one-round-trip path would not be tested", n)
		}
		b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: ar.base, Suffix: fmt.Sprintf("n%d", n), Backend: rec})
		if err != nil {
			return err
		}
		a, err := allocator.NewAllocator(b, allocator.WithMin(1), allocator.WithMax(allocMaxID),
			allocator.WithSyncInterval(300*time.Millisecond), allocator.WithLogger(quietLogger()))
		if err != nil {
			return err
		}
		allocs = append(allocs, a)
		if err := a.WaitForInitialSync(ctx); err != nil {
			return fmt.Errorf("allocator n%d initial sync: %w", n, err)
		}
	}

	t0 := time.Now()
	wctx, stop := context.WithCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for n, a := range allocs {
		for g := range allocGoroutines {
			wg.Go(func() {
				ops := allocWorker(wctx, r.Seed, n, g, a, start)
				mu.Lock()
				ar.ops = append(ar.ops, ops...)
				mu.Unlock()
			})
		}
	}
	// GC, as the operator runs it, races the workload: a master key is
	// marked by one round and deleted by the next if still unused.
	wg.Go(func() {
		var stale map[string]uint64
		limiter := rate.NewLimiter(rate.Inf, 1)
		rnd := rand.New(rand.NewPCG(uint64(r.Seed), 999)) // r.Rand belongs to the fault
		for sleepCtx(wctx, 100*time.Millisecond+time.Duration(rnd.Int64N(int64(200*time.Millisecond)))) {
			gctx, cancel := context.WithTimeout(wctx, allocOpTimout)
			next, _, err := allocs[0].RunGC(gctx, limiter, stale)
			cancel()
			if err == nil {
				stale = next
				ar.gcRounds++
			}
		}
	})

	r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	err = fault(ctx, r)
	r.Wait(ctx, r.Between(300*time.Millisecond, 600*time.Millisecond))
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	ar.holds = holdsOf(ar.ops)
	t1 := time.Now()
	if err := r.Kit.Heal(ctx); err != nil {
		return err
	}
	t2 := time.Now()
	// The allocators' sync may still be repairing (a slave key of a
	// failed call it deletes, a key it re-creates): wait, bounded, for a
	// consistent snapshot rather than judging one taken mid-repair.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ar.final, ar.snapshotErr = allocSnapshotProblems(ctx, r, ar)
		if (ar.snapshotErr == nil && len(ar.final) == 0) || time.Now().After(deadline) || !sleepCtx(ctx, 50*time.Millisecond) {
			break
		}
	}
	ar.phases = phases(start, t0, t1, t2, time.Now())
	return nil
}

// allocWorker allocates and releases random keys until ctx ends, releasing
// only references it holds itself, and returns its history.
func allocWorker(ctx context.Context, seed int64, node, worker int, a *allocator.Allocator, start time.Time) []allocOp {
	rnd := rand.New(rand.NewPCG(uint64(seed), uint64(1000+node*16+worker)))
	held := map[string]bool{}
	var ops []allocOp
	for ctx.Err() == nil {
		key := allocKeys[rnd.IntN(len(allocKeys))]
		op := allocOp{node: node, worker: worker, key: key, release: held[key]}
		// The stop cancels the calls in flight: they fail, and count as
		// failed (outcome unknown) like any other.
		octx, cancel := context.WithTimeout(ctx, allocOpTimout)
		op.call = time.Since(start)
		if op.release {
			op.store, op.err = a.Release(octx, key)
			delete(held, key) // the reference is dropped even when the delete failed
		} else {
			op.id, _, op.store, op.err = a.Allocate(octx, key)
			if op.err == nil {
				held[key] = true
			}
		}
		op.ret = time.Since(start)
		op.store = op.store || op.err != nil
		cancel()
		ops = append(ops, op)
		// A short pause keeps the history (checked pairwise) small
		// without letting the goroutines fall into lockstep.
		pause := time.Duration(rnd.IntN(3)) * time.Millisecond
		if op.err != nil {
			pause = 20 * time.Millisecond
		}
		if !sleepCtx(ctx, pause) {
			break
		}
	}
	return ops
}

// partitionOne cuts the clients off from one member (blackholed or reset,
// by the seed) for a while; half the time that member is the leader.
func partitionOne(ctx context.Context, r *faults.Run) error {
	member := r.Rand.IntN(r.Kit.Size())
	if r.Rand.IntN(2) == 0 {
		leader, err := r.Kit.Leader(ctx)
		if err != nil {
			return err
		}
		member = leader
	}
	mode := faults.Blackhole
	if r.Rand.IntN(2) == 0 {
		mode = faults.Cut
	}
	r.Kit.Partition(mode, member)
	r.Wait(ctx, r.Between(500*time.Millisecond, 1500*time.Millisecond))
	r.Kit.Partition(faults.Pass, member)
	return nil
}

// sleepCtx sleeps d unless ctx ends first; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// phases says how long the setup, the workload under faults, the heal and
// the wait for convergence took.
func phases(start, workload, heal, converge, end time.Time) string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("setup %s, workload %s, heal %s, converged in %s",
		r(workload.Sub(start)), r(heal.Sub(workload)), r(converge.Sub(heal)), r(end.Sub(converge)))
}
