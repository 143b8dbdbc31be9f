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
	"github.com/hivekv/kvstore/internal/logfallback"
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
// provides one) and takes an optional logrus.FieldLogger. It uses neither
// the job registry nor health reporting, so it works in a bare hive.
//
// Lifecycle: the start hook only launches a goroutine, which awaits the
// promise and then writes until stop; a rejected promise (kvstore not
// configured, connection failed) is logged and the goroutine ends. The stop
// hook cancels the goroutine and returns once it has exited (or the stop ctx
// ends). The heartbeat key is left in place: it goes with the client's lease.
var Cell = cell.Module(
	"kvstore-heartbeat-updater",
	"Writes the kvstore heartbeat",

	cell.Config(DefaultConfig),
	cell.Invoke(registerUpdater),
)

type params struct {
	cell.In

	Lifecycle cell.Lifecycle
	Config    Config
	Client    promise.Promise[kvstore.BackendOperations]
	Log       logrus.FieldLogger `optional:"true"`
}

func registerUpdater(p params) error {
	interval := p.Config.KVStoreHeartbeatInterval
	if interval <= 0 {
		return fmt.Errorf("--%s must be positive, got %s", FlagInterval, interval)
	}
	u := &updater{client: p.Client, interval: interval, log: logfallback.Or(p.Log).WithField("subsys", "kvstore-heartbeat")}
	p.Lifecycle.Append(u)
	return nil
}

// updater is the cell's lifecycle hook.
type updater struct {
	client   promise.Promise[kvstore.BackendOperations]
	interval time.Duration
	log      logrus.FieldLogger

	jobs background.Jobs
}

// Start implements cell.HookInterface. It does not block: the client may
// take minutes to connect.
func (u *updater) Start(cell.HookContext) error {
	u.jobs.Start(u.run)
	return nil
}

func (u *updater) run(ctx context.Context) {
	backend, err := u.client.Await(ctx)
	switch {
	case err == nil:
		Heartbeat(ctx, backend, u.interval, u.log)
	case ctx.Err() != nil:
	case errors.Is(err, kvstore.ErrNotConfigured):
		u.log.Info("Not writing the heartbeat: kvstore not configured")
	default:
		u.log.WithError(err).Warning("Not writing the heartbeat: no kvstore client")
	}
}

// Stop implements cell.HookInterface.
func (u *updater) Stop(ctx cell.HookContext) error {
	return u.jobs.Stop(ctx, "the heartbeat writer")
}
