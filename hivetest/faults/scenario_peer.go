package faults

import (
	"context"
	"time"
)

// Faults between the members, on the proxies in front of their peer
// ports (Kit.PeerProxy); the clients' own proxies pass throughout.
func init() {
	Register(Scenario{Name: "peer-blackhole", Run: func(ctx context.Context, r *Run) error {
		return withKV(ctx, r, func() error { return peerBlackhole(ctx, r) })
	}})
	Register(Scenario{Name: "peer-delay", Run: withTxn(peerDelay)})
	Register(Scenario{Name: "peer-drop", Run: func(ctx context.Context, r *Run) error {
		return withKV(ctx, r, func() error { return peerDrop(ctx, r) })
	}})
	Register(Scenario{Name: "member-replace", Run: withTxn(memberReplace)})
}

// memberReplace replaces a member (the leader half the time) with a fresh
// one — killed, removed, a new member with an empty data directory added
// at its addresses — while the transaction workload runs.
func memberReplace(ctx context.Context, r *Run) error {
	member := r.Rand.IntN(r.Kit.Size())
	if r.Rand.IntN(2) == 0 {
		leader, err := r.Kit.Leader(ctx)
		if err != nil {
			return err
		}
		member = leader
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return r.Kit.Cluster.ReplaceMember(rctx, member)
}

// peerBlackhole cuts one member (the leader half the time) off from what
// its peers send it for 1–2 s, once or twice, while clients still reach
// it: an isolated leader keeps its clients until it notices it lost its
// quorum and steps down, an isolated follower serves them nothing
// linearizable.
func peerBlackhole(ctx context.Context, r *Run) error {
	for range 1 + r.Rand.IntN(2) {
		member := r.Rand.IntN(r.Kit.Size())
		if r.Rand.IntN(2) == 0 {
			leader, err := r.Kit.Leader(ctx)
			if err != nil {
				return err
			}
			member = leader
		}
		r.Kit.PeerProxy(member).SetMode(Blackhole)
		r.Wait(ctx, r.Between(time.Second, 2*time.Second))
		r.Kit.PeerProxy(member).SetMode(Pass)
		r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	}
	return nil
}

// peerDelay slows all peer traffic by 75 ± 50 ms per chunk for 1–2 s.
func peerDelay(ctx context.Context, r *Run) error {
	for i := range r.Kit.Size() {
		r.Kit.PeerProxy(i).SetJitteredDelay(75*time.Millisecond, 50*time.Millisecond)
	}
	r.Wait(ctx, r.Between(time.Second, 2*time.Second))
	for i := range r.Kit.Size() {
		r.Kit.PeerProxy(i).SetMode(Pass)
	}
	return nil
}

// peerDrop loses half of all peer traffic for 1–2 s.
func peerDrop(ctx context.Context, r *Run) error {
	for i := range r.Kit.Size() {
		r.Kit.PeerProxy(i).SetDrop(0.5)
	}
	r.Wait(ctx, r.Between(time.Second, 2*time.Second))
	for i := range r.Kit.Size() {
		r.Kit.PeerProxy(i).SetMode(Pass)
	}
	return nil
}
