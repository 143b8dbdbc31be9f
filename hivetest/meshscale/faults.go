package meshscale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/internal/backoff"
)

// FaultResult is how one fault went.
type FaultResult struct {
	Name string
	// Converge is from the fault's start (downtime included) until every
	// agent's view equals the truth again.
	Converge time.Duration
	// Relists are the watch relists (mesh and agents) the fault caused;
	// Elections the times the mesh took the leader lock again (each
	// restarts every mirror: one full list per cluster and resource).
	Relists   int64
	Elections int
	// SyncErrors and Warnings are the mesh's failed writes and the
	// warnings and errors logged during the fault and its recovery.
	SyncErrors float64
	Warnings   int64
	// Missing, Stale and Extra are the worst agent's difference from the
	// truth when the wait ended (all 0: converged).
	Missing, Stale, Extra int
	Example               string
	Err                   string
}

// downtime is how long a killed server stays down.
const downtime = 2 * time.Second

// faults runs the fault pass, with churn going on during each fault.
func (e *env) faults(ctx context.Context, res *Result) {
	res.Faults = append(res.Faults, e.fault(ctx, "kill+restart local etcd", func() error {
		if err := e.local.Kill(); err != nil {
			return err
		}
		_ = backoff.Sleep(ctx, downtime)
		return restartServer(ctx, e.local)
	}))
	res.Faults = append(res.Faults, e.fault(ctx, "kill+restart remote server 0", func() error {
		if err := e.remotes[0].Kill(); err != nil {
			return err
		}
		_ = backoff.Sleep(ctx, downtime)
		return restartServer(ctx, e.remotes[0])
	}))
	res.Faults = append(res.Faults, e.fault(ctx, "remove+re-add config of "+clusterName(0), func() error {
		file := filepath.Join(e.cfgDir, clusterName(0))
		e.setGone(clusterName(0), true)
		if err := os.Remove(file); err != nil {
			return err
		}
		// Drained: gone from every view (cluster config, grace period,
		// markers, data). Churn goes on elsewhere, so only the removed
		// cluster's keys are checked.
		if left := e.waitGone(ctx, clusterName(0)); left > 0 {
			return fmt.Errorf("not drained within %s: %d keys of %s left in an agent's view", e.cfg.ConvergeTimeout, left, clusterName(0))
		}
		e.progress("drained %s; adding it again", clusterName(0))
		e.setGone(clusterName(0), false)
		return hivetest.WriteClientConfigFileTo(file, hivetest.ClientFileOptions{Endpoints: e.remotes[0].Endpoints()})
	}))
}

func (e *env) setGone(cluster string, gone bool) {
	e.truth.mu.Lock()
	e.truth.gone[cluster] = gone
	e.truth.mu.Unlock()
}

func (e *env) fault(ctx context.Context, name string, do func() error) FaultResult {
	e.progress("fault: %s", name)
	r := FaultResult{Name: name}
	relists := e.meshLog.relists.Load() + e.agentLog.relists.Load()
	syncErrs := e.gauge("kvstore_sync_errors_total", false)
	elections := e.mesh.Status().Elections
	warns := e.meshLog.warnings.Load() + e.agentLog.warnings.Load()
	churnCtx, stopChurn := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.churn(churnCtx, time.Hour) })
	start := time.Now()
	err := do()
	stopChurn()
	wg.Wait()
	if err != nil {
		r.Err = err.Error()
	}
	_, r.Missing, r.Stale, r.Extra, r.Example = e.converge(ctx, e.cfg.ConvergeTimeout)
	r.Converge = time.Since(start)
	r.Relists = e.meshLog.relists.Load() + e.agentLog.relists.Load() - relists
	r.SyncErrors = e.gauge("kvstore_sync_errors_total", false) - syncErrs
	r.Elections = e.mesh.Status().Elections - elections
	r.Warnings = e.meshLog.warnings.Load() + e.agentLog.warnings.Load() - warns
	e.progress("fault %s: converged in %s, %d relists, %d missing/%d stale/%d extra", name, r.Converge.Round(time.Millisecond), r.Relists, r.Missing, r.Stale, r.Extra)
	return r
}

// waitGone waits until no agent's view holds a key of cluster; it returns
// how many are left when it gives up.
func (e *env) waitGone(ctx context.Context, cluster string) int {
	start := time.Now()
	for {
		left := 0
		for _, a := range e.agents {
			for k := range a.snapshot() {
				if clusterOfCacheKey(k) == cluster {
					left++
				}
			}
		}
		if left == 0 || time.Since(start) > e.cfg.ConvergeTimeout || ctx.Err() != nil {
			return left
		}
		_ = backoff.Sleep(ctx, 100*time.Millisecond)
	}
}
