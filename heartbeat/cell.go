package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/internal/modhealth"
	"github.com/hivekv/kvstore/promise"
)

// FlagInterval is the flag of Config.KVStoreHeartbeatInterval.
const FlagInterval = "kvstore-heartbeat-interval"

// Config is the heartbeat cell's configuration.
type Config struct {
	// KVStoreHeartbeatInterval is how often the heartbeat is written
	// (--kvstore-heartbeat-interval). Readers expect the default
	// (kvstore.HeartbeatWriteInterval) unless told otherwise through
	// ExtraOptions.HeartbeatInterval; shorter values are for tests.
	KVStoreHeartbeatInterval time.Duration
}

// DefaultConfig writes the heartbeat every kvstore.HeartbeatWriteInterval.
var DefaultConfig = Config{KVStoreHeartbeatInterval: kvstore.HeartbeatWriteInterval}

// Flags implements cell.Flagger.
func (def Config) Flags(fs *pflag.FlagSet) {
	fs.Duration(FlagInterval, def.KVStoreHeartbeatInterval,
		"How often the kvstore heartbeat key is written; clients report a heartbeat older than twice this as a failure")
}

// Cell writes the heartbeat through the kvstore client of the graph.
//
// It needs a promise.Promise[kvstore.BackendOperations] (cells.Client
// provides one). It logs through the graph's logger, runs as a job when the
// graph has a job.Registry and reports its health (scope
// "kvstore-heartbeat-updater": OK while writes succeed, Degraded with the
// error of a failed write) when it has a cell.Health; a bare hive works.
//
// Lifecycle: start does not wait for the client; the work awaits the
// promise and then writes until stop; a rejected promise (kvstore not
// configured, connection failed) is logged and the work ends. Stop cancels
// the work and returns once it has exited (or the stop ctx ends). The
// heartbeat key is left in place: it goes with the client's lease.
var Cell = cell.Module(
	moduleID,
	"Writes the kvstore heartbeat",

	cell.Config(DefaultConfig),
	cell.Invoke(registerUpdater),
)

type params struct {
	cell.In
	// Lifecycle, job registry, health provider and loggers of the graph
	// (all but the lifecycle optional; see internal/background).
	background.Params

	Config Config
	Client promise.Promise[kvstore.BackendOperations]
}

// moduleID is the cell's module ID, which also names its health scope.
const moduleID = "kvstore-heartbeat-updater"

func registerUpdater(p params) error {
	interval := p.Config.KVStoreHeartbeatInterval
	if interval <= 0 {
		return fmt.Errorf("--%s must be positive, got %s", FlagInterval, interval)
	}
	g := background.NewGroup(p.Params, moduleID)
	u := &updater{
		client:   p.Client,
		interval: interval,
		log:      g.Log().WithField("subsys", "kvstore-heartbeat"),
		health:   g.Health().Part("heartbeat"),
	}
	g.Add("writer", u.run)
	return nil
}

// updater writes the heartbeat once the client is there.
type updater struct {
	client   promise.Promise[kvstore.BackendOperations]
	interval time.Duration
	log      logrus.FieldLogger
	health   *modhealth.Part
}

func (u *updater) run(ctx context.Context) {
	backend, err := u.client.Await(ctx)
	switch {
	case err == nil:
		heartbeat(ctx, backend, u.interval, u.log, u.health)
	case ctx.Err() != nil:
	case errors.Is(err, kvstore.ErrNotConfigured):
		u.log.Info("Not writing the heartbeat: kvstore not configured")
		u.health.Stopped("not writing the heartbeat: kvstore not configured")
	default:
		u.log.WithError(err).Warning("Not writing the heartbeat: no kvstore client")
		u.health.Degraded("not writing the heartbeat: no kvstore client", err)
	}
}
