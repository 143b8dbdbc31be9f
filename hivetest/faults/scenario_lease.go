package faults

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseTTL is the data lease of the client that the lease-expiry
// scenario cuts off: short, so that it runs out within the run.
const leaseTTL = 2 * time.Second

// earliestExpiry is how long after a client is cut off its lease may run
// out at the earliest, as far as this scenario can tell. In theory the
// TTL less one keepalive interval (clientv3 renews every TTL/3, polled
// every 500 ms: 0.83 s for 2 s); measured, etcd removed the keys 0.56 to
// 0.93 s after the cut, so the bound is the cut itself: keys of the lease
// must not vanish while the client still reaches the cluster.
const earliestExpiry = 0

func init() {
	Register(Scenario{Name: "lease-expiry", Run: leaseExpiry})
}

// leaseExpiry runs two KV workers (plain writes) and a third whose every
// write attaches the key to its client's data lease (TTL 2 s) on the same
// keys, then cuts that client alone off (its own proxies blackhole), as a
// crashed process: its lease runs out and etcd deletes every key still on
// it, keys that no recorded operation deleted. The expiry is recorded as a
// LeaseExpire of that client, from the cut (earliestExpiry) to the moment
// the lease is seen gone; porcupine must place it there.
func leaseExpiry(ctx context.Context, r *Run) error {
	clients, err := r.NewClients(ctx, 2)
	if err != nil {
		return err
	}
	r.Watch(ctx, clients[0].BackendOperations, 16)
	extra := ExtraOptions()
	extra.LeaseTTL = leaseTTL
	b, proxies, err := r.Kit.NewIsolatableClient(ctx, extra)
	if err != nil {
		return fmt.Errorf("faults: victim client: %w", err)
	}
	victim := r.Rec.Wrap(2, b)
	defer func() {
		for _, p := range proxies {
			p.SetMode(Pass)
		}
		victim.Close()
		for _, p := range proxies {
			_ = p.Close()
		}
	}()
	// The victim's lease, learnt from a key of its own.
	marker := r.Prefix + "victim"
	if err := victim.Update(ctx, marker, []byte("v"), true); err != nil {
		return fmt.Errorf("faults: victim marker: %w", err)
	}
	raw, err := r.Kit.Raw()
	if err != nil {
		return err
	}
	resp, err := raw.Get(ctx, marker)
	if err != nil || len(resp.Kvs) == 0 || resp.Kvs[0].Lease == 0 {
		return fmt.Errorf("faults: the victim's marker has no lease (%v)", err)
	}
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)

	wctx, cancel := context.WithCancel(ctx)
	var g group
	for i, c := range clients {
		g.Go(func() { KVWorker(wctx, r.Seed, i, r.Keys, func() *Client { return c }) })
	}
	vctx, vcancel := context.WithCancel(ctx)
	var vg group
	vg.Go(func() { leasedWorker(vctx, r.Seed, 2, r.Keys, victim) })
	defer func() { vcancel(); vg.Wait(); cancel(); g.Wait() }()

	r.Wait(ctx, r.Between(300*time.Millisecond, 600*time.Millisecond))
	for _, p := range proxies {
		p.SetMode(Blackhole)
	}
	cut := r.Rec.now()
	// Wait (bounded) for etcd to expire the lease: TTL plus the leader's
	// expiry sweep, on a loaded machine.
	deadline := time.Now().Add(leaseTTL + 10*time.Second)
	for {
		lctx, lcancel := context.WithTimeout(ctx, opTimeout)
		ttl, err := raw.TimeToLive(lctx, lease)
		lcancel()
		if err == nil && ttl.TTL <= 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("faults: the victim's lease %x never expired (%v)", int64(lease), err)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
	r.Rec.add(Op{Worker: NemesisWorker, Input: Input{Kind: KindLeaseExpire, Client: victim.rb.id}, Call: cut + int64(earliestExpiry), Return: max(r.Rec.now(), cut+int64(earliestExpiry))})
	vcancel()
	vg.Wait()
	r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	return nil
}

// leasedWorker writes keys with lease=true (Update, CreateOnly,
// UpdateIfDifferent) until ctx ends.
func leasedWorker(ctx context.Context, seed int64, worker int, keys []string, c *Client) {
	rng := workerRand(seed, worker)
	for n := 0; ctx.Err() == nil; n++ {
		key := keys[rng.IntN(len(keys))]
		value := []byte(fmt.Sprintf("w%d-%d", worker, n))
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		switch rng.IntN(3) {
		case 0:
			_ = c.Update(octx, key, value, true)
		case 1:
			_, _ = c.CreateOnly(octx, key, value, true)
		default:
			_, _ = c.UpdateIfDifferent(octx, key, value, true)
		}
		cancel()
		sleepCtx(ctx, thinkTime(rng))
	}
}
