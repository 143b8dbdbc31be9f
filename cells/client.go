package cells

import (
	"context"
	"fmt"
	"sync"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/internal/background"
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
//   - On start, a goroutine connects in the background (the start hook never
//     blocks). Success resolves the promise. Failure (unreachable store past
//     --kvstore-connectivity-timeout, refused credentials, ...) rejects it
//     with "failed connecting to kvstore: <cause>", logs it, and shuts the
//     hive down with that error: a program that needs the kvstore cannot do
//     its job without it, and a restart is the operator's best signal.
//   - On stop, a pending connection is cancelled (the promise, if still
//     pending, is rejected with kvstore.ErrClientClosed), the client is
//     closed and its goroutines have exited when the hook returns.
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

// clientParams are the inputs of the Client cell. The optional ones are
// taken when the consumer's graph provides them.
type clientParams struct {
	cell.In

	Lifecycle  cell.Lifecycle
	Shutdowner hive.Shutdowner
	Config     config.Config

	// Extra is the base of the client options; flags win over it (see
	// config.Config.ExtraOptions).
	Extra *kvstore.ExtraOptions `optional:"true"`
	// Log is the logger of the cell and, unless Extra names one, of the
	// client. Default: logrus' standard logger.
	Log logrus.FieldLogger `optional:"true"`
	// Registerer, when provided and Extra.Metrics is unset, receives the
	// client's metrics.
	Registerer prometheus.Registerer `optional:"true"`
}

func newClientPromise(p clientParams) (promise.Promise[kvstore.BackendOperations], error) {
	if err := p.Config.Validate(); err != nil {
		return nil, fmt.Errorf("kvstore client configuration: %w", err)
	}
	base := p.Log
	if base == nil {
		base = logrus.StandardLogger()
	}
	log := base.WithField("subsys", "kvstore-client")

	resolver, prom := promise.New[kvstore.BackendOperations]()
	if !p.Config.Enabled() {
		log.Info("Skipping connection to kvstore, as not configured")
		resolver.Reject(kvstore.ErrNotConfigured)
		return prom, nil
	}

	extra := p.Config.ExtraOptions(p.Extra)
	if extra.Logger == nil {
		extra.Logger = base
	}
	if extra.Metrics == nil && p.Registerer != nil {
		extra.Metrics = p.Registerer
	}
	p.Lifecycle.Append(&connector{
		backend:    p.Config.KVStore,
		opts:       p.Config.KVStoreOpt,
		extra:      extra,
		log:        log.WithField("backend", p.Config.KVStore),
		shutdowner: p.Shutdowner,
		resolver:   resolver,
	})
	return prom, nil
}

// connector is the Client cell's lifecycle hook.
type connector struct {
	backend    string
	opts       map[string]string
	extra      *kvstore.ExtraOptions
	log        logrus.FieldLogger
	shutdowner hive.Shutdowner
	resolver   promise.Resolver[kvstore.BackendOperations]

	jobs background.Jobs // runs connect until Stop

	mu     sync.Mutex
	client kvstore.BackendOperations // set once NewClient returned one
}

// Start implements cell.HookInterface. It must not block: the connection
// can take up to --kvstore-connectivity-timeout, and hive's start timeout
// would otherwise decide how long we may wait for the store.
func (c *connector) Start(cell.HookContext) error {
	c.jobs.Start(func(ctx context.Context) {
		c.run(ctx)
		// The client lives until Stop, connected or not: Stop closes it
		// once run is done with it.
		<-ctx.Done()
		c.mu.Lock()
		cl := c.client
		c.mu.Unlock()
		if cl != nil {
			cl.Close()
		}
	})
	return nil
}

func (c *connector) run(ctx context.Context) {
	c.log.Info("Establishing connection to kvstore")
	cl, errCh := client.NewClient(ctx, c.backend, c.opts, c.extra)
	if cl != nil {
		c.mu.Lock()
		c.client = cl
		c.mu.Unlock()
	}
	var err error
	select {
	case err = <-errCh:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		c.log.Info("Connection to kvstore successfully established")
		c.resolver.Resolve(cl)
		return
	}
	if ctx.Err() != nil {
		// Stopping: not a failure of the store, so no shutdown.
		c.resolver.Reject(fmt.Errorf("kvstore client stopped before it connected: %w", kvstore.ErrClientClosed))
		return
	}
	err = fmt.Errorf("failed connecting to kvstore: %w", err)
	c.log.WithError(err).Error("Failed to establish connection to kvstore")
	c.resolver.Reject(err)
	c.shutdowner.Shutdown(hive.ShutdownWithError(err))
}

// Stop implements cell.HookInterface.
func (c *connector) Stop(ctx cell.HookContext) error {
	return c.jobs.Stop(ctx, "the kvstore client")
}
