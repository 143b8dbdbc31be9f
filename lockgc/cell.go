package lockgc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/internal/modhealth"
	"github.com/hivekv/kvstore/promise"
)

// Cell runs the local lock GC and, when prefixes are configured, the
// distributed lock sweep on the hive lifecycle.
var Cell = cell.Module(
	moduleID,
	"Releases stale kvstore locks",

	cell.Config(DefaultConfig),
	cell.Invoke(register),
)

// moduleID is the cell's module ID, which also names its health scope.
const moduleID = "kvstore-lock-gc"

type params struct {
	cell.In
	// Lifecycle, job registry, health provider and loggers of the graph
	// (all but the lifecycle optional; see internal/background).
	background.Params

	Config Config
	// Client is only awaited when the sweep is on.
	Client promise.Promise[kvstore.BackendOperations] `optional:"true"`
}

func register(p params) error {
	if err := p.Config.Validate(); err != nil {
		return err
	}
	prefixes := p.Config.sweepPrefixes()
	if len(prefixes) > 0 && p.Client == nil {
		return fmt.Errorf("%w: --%s is set but the hive has no kvstore client "+
			"(promise.Promise[kvstore.BackendOperations]) to sweep with", kvstore.ErrInvalidConfig, FlagLockSweepPrefixes)
	}
	g := background.NewGroup(p.Params, moduleID)
	j := &jobs{
		cfg:      p.Config,
		log:      g.Log().WithField("subsys", "lockgc"),
		client:   p.Client,
		prefixes: prefixes,
	}
	local := g.Health().Part("local")
	g.Add("local", func(ctx context.Context) {
		local.OK(fmt.Sprintf("releasing local locks held over %s", p.Config.KVStoreStaleLockTimeout))
		j.runGC(ctx)
	})
	if len(prefixes) > 0 {
		j.sweepHealth = g.Health().Part("sweep")
		g.Add("sweep", j.runSweep)
	}
	return nil
}

// jobs owns the two loops: the local lock GC and, when prefixes are
// configured, the distributed lock sweep.
type jobs struct {
	cfg         Config
	log         logrus.FieldLogger
	client      promise.Promise[kvstore.BackendOperations]
	prefixes    []string
	sweepHealth *modhealth.Part
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
			j.sweepHealth.Degraded("lock sweep disabled: the kvstore client is unavailable", err)
		}
		return
	}
	interval := j.cfg.KVStoreLockSweepInterval
	sweeper, err := kvstore.NewLockSweeper(backend, j.prefixes, interval, j.log)
	if err != nil {
		j.log.WithError(err).Error("Lock sweep disabled")
		j.sweepHealth.Degraded("lock sweep disabled", err)
		return
	}
	j.sweepHealth.OK(fmt.Sprintf("sweeping %s every %s", strings.Join(j.prefixes, ","), interval))
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
			switch {
			case ctx.Err() != nil:
			case err != nil:
				j.log.WithError(err).Warning("Lock sweep failed, retrying at the next interval")
				j.sweepHealth.Degraded("lock sweep failed, retrying at the next interval", err)
			default:
				j.sweepHealth.OK(fmt.Sprintf("sweeping %s every %s", strings.Join(j.prefixes, ","), interval))
			}
		}
	}
}
