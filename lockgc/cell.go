package lockgc

import (
	"context"
	"fmt"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/internal/logfallback"
	"github.com/hivekv/kvstore/promise"
)

// Cell runs the local lock GC and, when prefixes are configured, the
// distributed lock sweep on the hive lifecycle.
var Cell = cell.Module(
	"kvstore-lock-gc",
	"Releases stale kvstore locks",

	cell.Config(DefaultConfig),
	cell.Invoke(register),
)

type params struct {
	cell.In

	Lifecycle cell.Lifecycle
	Config    Config
	// Log is the logger of the jobs; logrus' standard logger when absent.
	Log logrus.FieldLogger `optional:"true"`
	// Client is only awaited when the sweep is on.
	Client promise.Promise[kvstore.BackendOperations] `optional:"true"`
}

func register(p params) error {
	if err := p.Config.Validate(); err != nil {
		return err
	}
	log := logfallback.Or(p.Log)
	j := &jobs{
		cfg:      p.Config,
		log:      log.WithField("subsys", "lockgc"),
		client:   p.Client,
		prefixes: p.Config.sweepPrefixes(),
	}
	if len(j.prefixes) > 0 && j.client == nil {
		return fmt.Errorf("%w: --%s is set but the hive has no kvstore client "+
			"(promise.Promise[kvstore.BackendOperations]) to sweep with", kvstore.ErrInvalidConfig, FlagLockSweepPrefixes)
	}
	p.Lifecycle.Append(j)
	return nil
}

// jobs owns the two loops. Start launches them on a context of their own
// (the start context ends when Start returns); Stop cancels it and waits
// for both to return.
type jobs struct {
	cfg      Config
	log      logrus.FieldLogger
	client   promise.Promise[kvstore.BackendOperations]
	prefixes []string

	bg background.Jobs
}

// Start implements cell.HookInterface.
func (j *jobs) Start(cell.HookContext) error {
	loops := []func(context.Context){j.runGC}
	if len(j.prefixes) > 0 {
		loops = append(loops, j.runSweep)
	}
	j.bg.Start(loops...)
	return nil
}

// Stop implements cell.HookInterface.
func (j *jobs) Stop(ctx cell.HookContext) error {
	return j.bg.Stop(ctx, "the lock GC")
}

// runGC releases stale local locks every GC interval until ctx ends.
func (j *jobs) runGC(ctx context.Context) {
	t := time.NewTicker(j.cfg.KVStoreLockGCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			client.RunLockGCWithTimeout(j.cfg.KVStoreStaleLockTimeout, j.log)
		}
	}
}

// runSweep waits for the kvstore client, then sweeps every sweep interval
// until ctx ends. A sweep that fails is logged and the next one tries again:
// the marks of unreachable prefixes are kept.
func (j *jobs) runSweep(ctx context.Context) {
	backend, err := j.client.Await(ctx)
	if err != nil {
		if ctx.Err() == nil {
			j.log.WithError(err).Error("Lock sweep disabled: the kvstore client is unavailable")
		}
		return
	}
	interval := j.cfg.KVStoreLockSweepInterval
	sweeper, err := etcd.NewLockSweeper(backend, j.prefixes, interval, j.log)
	if err != nil {
		j.log.WithError(err).Error("Lock sweep disabled")
		return
	}
	j.log.WithFields(logrus.Fields{"prefixes": j.prefixes, "interval": interval}).Info("Sweeping stale kvstore locks")
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, interval)
			_, err := sweeper.Sweep(sctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				j.log.WithError(err).Warning("Lock sweep failed, retrying at the next interval")
			}
		}
	}
}
