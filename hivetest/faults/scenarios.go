package faults

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// The built-in scenarios, in the order TestFaults runs them.
func init() {
	Register(Scenario{Name: "leader-kill", Run: leaderKill})
	Register(Scenario{Name: "minority-partition", Run: partition(false)})
	Register(Scenario{Name: "majority-partition", Run: partition(true)})
	Register(Scenario{Name: "quorum-loss", Run: quorumLoss})
	Register(Scenario{Name: "compaction-blocked-watcher", Run: compactionBlockedWatcher})
	Register(Scenario{Name: "lock-lease-revoked", Run: lockLeaseRevoked})
	Register(Scenario{Name: "client-restart", Run: clientRestart})
	Register(Scenario{Name: "txn-leader-kill", Run: withTxn(func(ctx context.Context, r *Run) error { return r.KillLeader(ctx) })})
	Register(Scenario{Name: "txn-partition", Run: withTxn(func(ctx context.Context, r *Run) error { return partitionFault(ctx, r, false) })})
}

// withTxn runs the transaction workload (TxnWorker, on keys of its own
// shape, which the final reads check) with a watcher, under fault.
func withTxn(fault func(ctx context.Context, r *Run) error) func(ctx context.Context, r *Run) error {
	return func(ctx context.Context, r *Run) error {
		r.Keys = txnKeys(r.Prefix)
		clients, err := r.NewClients(ctx, workers)
		if err != nil {
			return err
		}
		r.Watch(ctx, clients[0].BackendOperations, 16)
		wctx, cancel := context.WithCancel(ctx)
		var g group
		for i, c := range clients {
			g.Go(func() { TxnWorker(wctx, r.Seed, i, r.Prefix, r.Prefix+"lock", c) })
		}
		r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
		err = fault(ctx, r)
		r.Wait(ctx, r.Between(300*time.Millisecond, 600*time.Millisecond))
		cancel()
		g.Wait()
		return err
	}
}

// workers is how many workers (each with its own client) a scenario runs.
const workers = 3

// withKV connects the workers and a watcher, runs fault while the workers
// issue operations (with some traffic before and after it), and stops them.
func withKV(ctx context.Context, r *Run, fault func() error) error {
	clients, err := r.NewClients(ctx, workers)
	if err != nil {
		return err
	}
	r.Watch(ctx, clients[0].BackendOperations, 16)
	stop := r.StartKV(ctx, clients)
	r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	err = fault()
	r.Wait(ctx, r.Between(300*time.Millisecond, 600*time.Millisecond))
	stop()
	return err
}

// leaderKill kills the leader once or twice while the workers write, each
// time restarting it after a while.
func leaderKill(ctx context.Context, r *Run) error {
	return withKV(ctx, r, func() error { return r.KillLeader(ctx) })
}

// partition cuts the client off from one member (minority) or from all
// but one (majority), with a fault flavour picked by the seed: blackhole,
// cut, a slow link, or (minority only) a paused member.
func partition(majority bool) func(ctx context.Context, r *Run) error {
	return func(ctx context.Context, r *Run) error {
		return withKV(ctx, r, func() error { return partitionFault(ctx, r, majority) })
	}
}

func partitionFault(ctx context.Context, r *Run, majority bool) error {
	n := r.Kit.Size()
	first := r.Rand.IntN(n)
	members := []int{first}
	if majority {
		members = members[:0]
		for i := range n {
			if i != first { // first is the one member still reachable
				members = append(members, i)
			}
		}
	}
	flavours := 3
	if !majority {
		flavours = 4
	}
	flavour := r.Rand.IntN(flavours)
	switch flavour {
	case 0:
		r.Kit.Partition(Blackhole, members...)
	case 1:
		r.Kit.Partition(Cut, members...)
	case 2:
		for _, i := range members {
			r.Kit.Proxy(i).SetDelay(r.Between(20*time.Millisecond, 150*time.Millisecond))
		}
	case 3:
		if err := r.Kit.Pause(members[0]); err != nil {
			return err
		}
	}
	r.Wait(ctx, r.Between(500*time.Millisecond, 1500*time.Millisecond))
	if flavour == 3 {
		return r.Kit.Resume(ctx, members[0])
	}
	r.Kit.Partition(Pass, members...)
	return nil
}

// quorumLoss stops a majority of the members (killed or stopped), keeps
// them down for a while, and brings them back.
func quorumLoss(ctx context.Context, r *Run) error {
	return withKV(ctx, r, func() error {
		n := r.Kit.Size()
		keep := r.Rand.IntN(n)
		for i := range n {
			if i == keep {
				continue
			}
			var err error
			if r.Rand.IntN(2) == 0 {
				err = r.Kit.Kill(i)
			} else {
				err = r.Kit.Cluster.StopMember(i)
			}
			if err != nil {
				return err
			}
		}
		r.Wait(ctx, r.Between(500*time.Millisecond, 1200*time.Millisecond))
		return r.Kit.Heal(ctx)
	})
}

// compactionBlockedWatcher holds a watcher's consumer (buffer of one
// event) while the workers write and the store is compacted past what the
// watcher delivered, then lets it go: it must resynchronise and converge.
func compactionBlockedWatcher(ctx context.Context, r *Run) error {
	clients, err := r.NewClients(ctx, workers)
	if err != nil {
		return err
	}
	w := r.Watch(ctx, clients[0].BackendOperations, 1)
	stop := r.StartKV(ctx, clients)
	defer stop()
	r.Wait(ctx, r.Between(100*time.Millisecond, 300*time.Millisecond))
	w.Block()
	for range 1 + r.Rand.IntN(2) {
		r.Wait(ctx, r.Between(300*time.Millisecond, 700*time.Millisecond))
		if _, err := r.Kit.Compact(ctx); err != nil {
			return err
		}
	}
	// The server may have sent every event already (they sit in the
	// client's buffers, which compaction does not touch). Cutting the
	// connections makes the watch start again from the revision after the
	// last event the blocked consumer took, which is now compacted.
	all := make([]int, r.Kit.Size())
	for i := range all {
		all[i] = i
	}
	r.Kit.Partition(Cut, all...)
	r.Wait(ctx, r.Between(50*time.Millisecond, 200*time.Millisecond))
	r.Kit.Partition(Pass, all...)
	r.Wait(ctx, r.Between(100*time.Millisecond, 300*time.Millisecond))
	w.Unblock()
	r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	return nil
}

// lockLeaseRevoked runs lock workers that do fenced operations in their
// critical sections while the lease of the current holder is revoked
// again and again, in the middle of whatever it is doing.
func lockLeaseRevoked(ctx context.Context, r *Run) error {
	// Nothing but the recorded revocations ends a holding here: the
	// keepalives of the 3 s lock leases are never cut.
	r.Rec.LocksHold = true
	clients, err := r.NewClients(ctx, workers)
	if err != nil {
		return err
	}
	r.Watch(ctx, clients[0].BackendOperations, 16)
	path := r.Prefix + "lock"
	wctx, cancel := context.WithCancel(ctx)
	var g group
	for i, c := range clients {
		g.Go(func() { LockWorker(wctx, r.Seed, i, path, r.Keys, c) })
	}
	defer func() { cancel(); g.Wait() }()
	// Revoke a few times; a slow machine may leave the lock free when the
	// nemesis looks, so it keeps looking (for a while) until it revoked.
	want, revoked := 2+r.Rand.IntN(4), 0
	deadline := time.Now().Add(30 * time.Second)
	for revoked < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("faults: revoked %d of %d lock holders in 30s: the workers hardly ever held the lock", revoked, want)
		}
		r.Wait(ctx, r.Between(150*time.Millisecond, 400*time.Millisecond))
		rctx, rcancel := context.WithTimeout(ctx, opTimeout)
		ok, err := r.Kit.RevokeLockHolder(rctx, r.Rec, NemesisWorker, path)
		rcancel()
		if err != nil && ctx.Err() != nil {
			return err
		}
		if ok {
			revoked++
		}
	}
	r.Wait(ctx, r.Between(300*time.Millisecond, 600*time.Millisecond))
	return nil
}

// clientRestart closes workers' clients in the middle of their operations
// and gives them new ones, as a restarting process would.
func clientRestart(ctx context.Context, r *Run) error {
	clients, err := r.NewClients(ctx, workers)
	if err != nil {
		return err
	}
	watchClient, err := r.NewClient(ctx, FinalWorker)
	if err != nil {
		return err
	}
	r.Watch(ctx, watchClient.BackendOperations, 16)
	current := make([]atomic.Pointer[Client], workers)
	for i, c := range clients {
		current[i].Store(c)
	}
	wctx, cancel := context.WithCancel(ctx)
	var g group
	for i := range clients {
		g.Go(func() { KVWorker(wctx, r.Seed, i, r.Keys, current[i].Load) })
	}
	defer func() { cancel(); g.Wait() }()
	for range 2 + r.Rand.IntN(2) {
		r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
		i := r.Rand.IntN(workers)
		current[i].Load().Close()
		c, err := r.NewClient(ctx, i)
		if err != nil {
			return err
		}
		current[i].Store(c)
	}
	r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	return nil
}
