package cells

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/internal/logfallback"
	"github.com/hivekv/kvstore/internal/modhealth"
	"github.com/hivekv/kvstore/promise"
)

// Client provides the --kvstore* flags (config.Config) and a
// promise.Promise[kvstore.BackendOperations].
//
// Lifecycle:
//   - Populate fails if the configuration is invalid (config.Config.Validate
//     names the flag at fault).
//   - Without --kvstore the promise is rejected with kvstore.ErrNotConfigured
//     at once, no hook is registered and nothing connects.
//   - On start, the connection is made in the background (start never
//     blocks): a job of the module's job.Group when the graph has a
//     job.Registry, a goroutine otherwise. Success resolves the promise. Failure (unreachable store past
//     --kvstore-connectivity-timeout, refused credentials, ...) rejects it
//     with "failed connecting to kvstore: <cause>", logs it, and shuts the
//     hive down with that error: a program that needs the kvstore cannot do
//     its job without it, and a restart is the operator's best signal.
//   - On stop, a pending connection is cancelled (the promise, if still
//     pending, is rejected with kvstore.ErrClientClosed), the client is
//     closed and its goroutines have exited when the hook returns.
//
// With a cell.Health in the graph the module reports in the
// "kvstore-client" scope: Degraded while connecting (with the early
// warning's cause), OK with the status line once connected, Degraded when a
// status check fails (lost quorum, --kvstore-max-consecutive-quorum-errors
// reached, stale heartbeat) or the lock session is lost, Stopped once
// closed (docs/health.md). It logs through the graph's logger: the hive's
// *slog.Logger unless a logrus.FieldLogger is provided (LogrusCell).
//
// Why stop closes the client (Cilium v1.16 did not): Close does not revoke
// leases, so keys written with lease=true outlive the process until their TTL
// (--kvstore-lease-ttl) runs out, exactly as if the process had crashed, and
// a restarted process finds them still there. What Close does end are the
// keepalives, watches and background checks, which would otherwise leak past
// the hive's lifetime (a problem for tests that run many hives per process).
// After stop, operations on the client fail with kvstore.ErrClientClosed.
//
// A configuration error fails the hive's start with the client's own
// invoke (checkClientConfig), whose error names the flag and lists the
// valid values. ClientWithDefaults gives the flags other defaults.
var Client = ClientWithDefaults(config.DefaultConfig)

// clientModuleID is the Client cell's module ID, which also names its
// health scope.
const clientModuleID = "kvstore-client"

// clientParams are the inputs of the Client cell. The optional ones are
// taken when the consumer's graph provides them.
type clientParams struct {
	cell.In
	// Lifecycle, job registry, health provider and loggers of the graph
	// (all but the lifecycle optional; see internal/background).
	background.Params

	Shutdowner hive.Shutdowner
	Config     config.Config

	// Extra is the base of the client options; flags win over it (see
	// config.Config.ExtraOptions).
	Extra *kvstore.ExtraOptions `optional:"true"`
	// Registerer, when provided and Extra.Metrics is unset, receives the
	// client's metrics.
	Registerer prometheus.Registerer `optional:"true"`
}

func newClientPromise(p clientParams) (promise.Promise[kvstore.BackendOperations], error) {
	if err := p.Config.Validate(); err != nil {
		return nil, fmt.Errorf("kvstore client configuration: %w", err)
	}
	base := logfallback.FromHive(p.Logrus, p.Slog)
	log := base.WithField("subsys", "kvstore-client")

	resolver, prom := promise.New[kvstore.BackendOperations]()
	if !p.Config.Enabled() {
		log.Info("Skipping connection to kvstore, as not configured")
		resolver.Reject(kvstore.ErrNotConfigured)
		return prom, nil
	}
	g := background.NewGroup(p.Params, clientModuleID)

	extra := p.Config.ExtraOptions(p.Extra)
	if extra.Logger == nil {
		extra.Logger = base
	}
	if extra.Metrics == nil && p.Registerer != nil {
		extra.Metrics = p.Registerer
	}
	c := &connector{
		backend:    p.Config.KVStore,
		opts:       p.Config.KVStoreOpt,
		extra:      extra,
		log:        log.WithField("backend", p.Config.KVStore),
		shutdowner: p.Shutdowner,
		resolver:   resolver,
		health:     g.Health().Part("connection"),
	}
	g.Add("connection", c.run)
	return prom, nil
}

// connector connects the client, reports its health while it lives, and
// closes it at stop.
type connector struct {
	backend    string
	opts       map[string]string
	extra      *kvstore.ExtraOptions
	log        logrus.FieldLogger
	shutdowner hive.Shutdowner
	resolver   promise.Resolver[kvstore.BackendOperations]
	health     *modhealth.Part
}

// run is the cell's one piece of work, from start to stop. Start never
// waits for it: the connection can take up to --kvstore-connectivity-timeout,
// and hive's start timeout would otherwise decide how long we may wait for
// the store. The client lives until stop, connected or not: run closes it
// once ctx ends.
func (c *connector) run(ctx context.Context) {
	cl, err := c.connect(ctx)
	if cl != nil {
		defer func() {
			cl.Close()
			c.health.Stopped("kvstore client closed")
		}()
	}
	if c.settle(ctx, cl, err) {
		watchHealth(ctx, cl, c.health, c.pollInterval())
	}
	<-ctx.Done()
}

// connect starts the client and waits for its first connection, reporting
// Degraded("connecting") meanwhile, with the client's early warning (a
// cause found by probing the endpoints) as the error once there is one.
func (c *connector) connect(ctx context.Context) (kvstore.BackendOperations, error) {
	c.log.Info("Establishing connection to kvstore")
	c.health.Degraded("connecting to kvstore", nil)
	cl, errCh := client.NewClient(ctx, c.backend, c.opts, c.extra)
	var err error
	poll := time.NewTicker(c.pollInterval())
	defer poll.Stop()
wait:
	for {
		select {
		case err = <-errCh:
			break wait
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-poll.C:
			if cl != nil {
				if st := cl.Status(); st.State != kvstore.StateOK && strings.Contains(st.Msg, ": ") {
					// The early warning names a cause after the
					// initial message.
					c.health.Degraded("connecting to kvstore", errors.New(st.Msg))
				}
			}
		}
	}
	return cl, err
}

// pollInterval is how often the client's Status() is read for the health.
func (c *connector) pollInterval() time.Duration {
	return min(maxStatusPoll, c.extra.StatusCheckInterval(true))
}

// settle settles the promise with the outcome of connect; true when
// connected.
func (c *connector) settle(ctx context.Context, cl kvstore.BackendOperations, err error) bool {
	if err == nil {
		c.log.Info("Connection to kvstore successfully established")
		c.resolver.Resolve(cl)
		return true
	}
	if ctx.Err() != nil {
		// Stopping: not a failure of the store, so no shutdown.
		c.resolver.Reject(fmt.Errorf("kvstore client stopped before it connected: %w", kvstore.ErrClientClosed))
		return false
	}
	err = fmt.Errorf("failed connecting to kvstore: %w", err)
	c.log.WithError(err).Error("Failed to establish connection to kvstore")
	c.health.Degraded("failed connecting to kvstore", err)
	c.resolver.Reject(err)
	c.shutdowner.Shutdown(hive.ShutdownWithError(err))
	return false
}
