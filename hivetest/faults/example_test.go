package faults_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hivekv/kvstore/hivetest/faults"
)

// A stale read: the second write was acknowledged before the read began,
// yet the read returned the first value.
func ExampleCheckLinearizable() {
	ops := []faults.Op{
		{Worker: 0, Input: faults.Input{Kind: faults.KindUpdate, Key: "k", Value: "a"}, Call: 0, Return: 10},
		{Worker: 0, Input: faults.Input{Kind: faults.KindUpdate, Key: "k", Value: "b"}, Call: 20, Return: 30},
		{Worker: 1, Input: faults.Input{Kind: faults.KindGet, Key: "k"}, Output: faults.Output{Value: "a", Found: true}, Call: 40, Return: 50},
	}
	err := faults.CheckLinearizable(ops, time.Second, "")
	fmt.Println(errors.Is(err, faults.ErrViolation))
	// Output: true
}

// How another package adds a scenario with its own invariant: register it
// from an init function of a file in the faults test binary (or of its own
// test package, with its own TestFaults-like loop over faults.Scenarios).
func ExampleRegister() {
	faults.Register(faults.Scenario{
		Name: "example-writes-under-leader-kill",
		Run: func(ctx context.Context, r *faults.Run) error {
			clients, err := r.NewClients(ctx, 2)
			if err != nil {
				return err
			}
			stop := r.StartKV(ctx, clients)
			defer stop()
			leader, err := r.Kit.Leader(ctx)
			if err != nil {
				return err
			}
			if err := r.Kit.Kill(leader); err != nil {
				return err
			}
			r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
			return nil // the runner heals the cluster
		},
		Invariants: []faults.Invariant{{
			Name: "every key was read at the end",
			Check: func(ctx context.Context, r *faults.Run) error {
				reads := 0
				for _, op := range r.Rec.Ops() {
					if op.Worker == faults.FinalWorker && op.Input.Kind == faults.KindGet && op.Output.Outcome == faults.OK {
						reads++
					}
				}
				if reads < len(r.Keys) {
					return fmt.Errorf("%w: %d final reads for %d keys", faults.ErrViolation, reads, len(r.Keys))
				}
				return nil
			},
		}},
	})
}
