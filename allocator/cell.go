package allocator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/promise"
)

// Flag names. Each matches its Config field once the dashes are removed.
const (
	FlagBasePath     = "allocator-base-path"
	FlagNodeName     = "allocator-node-name"
	FlagMinID        = "allocator-min-id"
	FlagMaxID        = "allocator-max-id"
	FlagGCInterval   = "allocator-gc-interval"
	FlagReleaseDelay = "allocator-release-delay"
)

// DefaultBasePath is the base path of Cilium's security identities.
const DefaultBasePath = "cilium/state/identities/v1"

// Config configures Cell. Every field has exactly one flag.
type Config struct {
	// AllocatorBasePath is B of the key layout.
	AllocatorBasePath string
	// AllocatorNodeName names this node's slave keys (default: the host
	// name); it must not contain "/".
	AllocatorNodeName string
	// AllocatorMinID and AllocatorMaxID bound the IDs.
	AllocatorMinID, AllocatorMaxID uint64
	// AllocatorGCInterval is the period of GC rounds run by this process;
	// 0 runs none (agents: the operator runs them).
	AllocatorGCInterval time.Duration
	// AllocatorReleaseDelay is how long the slave key of a key this node
	// has just created outlives its release (see WithReleaseDelay).
	AllocatorReleaseDelay time.Duration
}

// DefaultConfig is the configuration without flags.
var DefaultConfig = Config{
	AllocatorBasePath: DefaultBasePath,
	AllocatorNodeName: hostName(),
	AllocatorMinID:    uint64(DefaultMinID),
	AllocatorMaxID:    uint64(DefaultMaxID),

	AllocatorReleaseDelay: DefaultReleaseDelay,
}

func hostName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(h, "/", "_")
}

// Flags registers the flags of the cell.
func (def Config) Flags(flags *pflag.FlagSet) {
	flags.String(FlagBasePath, def.AllocatorBasePath, "Base path B of the allocator's keys (B/id/, B/value/, B/locks/)")
	flags.String(FlagNodeName, def.AllocatorNodeName, "Name of this node in its slave keys B/value/<key>/<node>, no '/'")
	flags.Uint64(FlagMinID, def.AllocatorMinID, "Smallest ID the allocator gives out (at least 1)")
	flags.Uint64(FlagMaxID, def.AllocatorMaxID, "Largest ID the allocator gives out")
	flags.Duration(FlagGCInterval, def.AllocatorGCInterval, "Period of the GC rounds of unused IDs and stale locks run by this process (0: none; agents leave it 0, one operator runs them)")
	flags.Duration(FlagReleaseDelay, def.AllocatorReleaseDelay, "How long the slave key of a key this node has just created outlives its release, so that Cilium allocators sharing the store see its ID first (0: none)")
}

// Validate reports the first setting that cannot work, naming its flag.
func (c Config) Validate() error {
	switch {
	case strings.Trim(c.AllocatorBasePath, "/") == "":
		return fmt.Errorf("%w: --%s is empty", ErrInvalidConfig, FlagBasePath)
	case c.AllocatorNodeName == "":
		return fmt.Errorf("%w: --%s is empty and the host name is unknown: set it", ErrInvalidConfig, FlagNodeName)
	case strings.Contains(c.AllocatorNodeName, "/"):
		return fmt.Errorf("%w: --%s=%q contains a '/'", ErrInvalidConfig, FlagNodeName, c.AllocatorNodeName)
	case c.AllocatorMinID == 0:
		return fmt.Errorf("%w: --%s must be at least 1 (0 is NoID)", ErrInvalidConfig, FlagMinID)
	case c.AllocatorMinID > c.AllocatorMaxID:
		return fmt.Errorf("%w: --%s=%d > --%s=%d: the range is empty", ErrInvalidConfig, FlagMinID, c.AllocatorMinID, FlagMaxID, c.AllocatorMaxID)
	case c.AllocatorGCInterval < 0:
		return fmt.Errorf("%w: --%s must not be negative, got %s", ErrInvalidConfig, FlagGCInterval, c.AllocatorGCInterval)
	case c.AllocatorReleaseDelay < 0:
		return fmt.Errorf("%w: --%s must not be negative, got %s", ErrInvalidConfig, FlagReleaseDelay, c.AllocatorReleaseDelay)
	}
	return nil
}

// Cell provides promise.Promise[*Allocator]: once the kvstore client
// promise (cells.Client) resolves, an Allocator on it, resolved after its
// initial sync. With a prometheus.Registerer in the graph it registers the
// allocator's metrics. The periodic sync follows --kvstore-periodic-sync.
//
// Lifecycle: start never blocks; a client that fails rejects the promise
// with the client's error. Stop closes the Allocator (before the client
// cell closes the client), also one created while stop was running; a
// pending promise is rejected with ErrClosed. GC rounds run only with
// --allocator-gc-interval (agents: leave it 0, the operator runs them).
//
// In a hive with a job.Registry the work runs as a job; with a cell.Health
// the "allocator" scope reports the initial sync (Degraded while pending),
// the GC rounds (Degraded after a failed round) and this node's keys
// (Degraded while keys lost with their lease are re-created, or after a
// re-creation failed). It logs through the graph's logger.
var Cell = cell.Module(
	"allocator",
	"kvstore ID allocator",

	cell.Config(DefaultConfig),
	cell.Provide(newAllocatorPromise),
)

type cellParams struct {
	cell.In
	// Lifecycle, job registry, health provider and loggers of the graph
	// (all but the lifecycle optional; see internal/background).
	background.Params

	Config Config
	Client promise.Promise[kvstore.BackendOperations]

	// KVStore supplies --kvstore-periodic-sync when present.
	KVStore    config.Config         `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
}

func newAllocatorPromise(p cellParams) (promise.Promise[*Allocator], error) {
	if err := p.Config.Validate(); err != nil {
		return nil, err
	}
	g := background.NewGroup(p.Params, "allocator")
	log := g.Log()
	health := newCellHealth(g.Health())
	opts := []Option{
		WithMin(ID(p.Config.AllocatorMinID)), WithMax(ID(p.Config.AllocatorMaxID)),
		WithGCInterval(p.Config.AllocatorGCInterval), WithReleaseDelay(p.Config.AllocatorReleaseDelay),
		WithLogger(log), withHealth(health),
	}
	if p.KVStore.KVStorePeriodicSync > 0 {
		opts = append(opts, WithSyncInterval(p.KVStore.KVStorePeriodicSync))
	}
	if p.Registerer != nil {
		m := NewMetrics()
		if err := m.Register(p.Registerer); err != nil {
			return nil, fmt.Errorf("registering the allocator metrics: %w", err)
		}
		opts = append(opts, WithMetrics(m))
	}
	resolver, prom := promise.New[*Allocator]()
	s := &starter{
		cfg: p.Config, opts: opts, client: p.Client, resolver: resolver,
		log: log.WithField("subsys", "allocator"), health: health,
	}
	g.Add("run", s.run)
	return prom, nil
}

// starter builds the Allocator once the client is there, and closes it at
// stop.
type starter struct {
	cfg      Config
	opts     []Option
	client   promise.Promise[kvstore.BackendOperations]
	resolver promise.Resolver[*Allocator]
	log      logrus.FieldLogger
	health   *cellHealth

	newAllocator func(Backend, ...Option) (*Allocator, error) // tests; nil: NewAllocator
}

// run is the cell's work from start to stop: start does not wait for it.
// At stop a pending promise is rejected with ErrClosed and the Allocator
// is closed (before the client cell closes the client, whose work started
// earlier and so stops later).
func (s *starter) run(ctx context.Context) {
	a := s.start(ctx)
	<-ctx.Done()
	s.resolver.Reject(ErrClosed) // ignored once settled
	if a != nil {
		a.Close()
	}
}

func (s *starter) start(ctx context.Context) *Allocator {
	s.health.sync.Degraded("waiting for the kvstore client", nil)
	c, err := s.client.Await(ctx)
	if err != nil && ctx.Err() != nil {
		return nil // stopping: run rejects the promise with ErrClosed
	}
	if err != nil {
		err = fmt.Errorf("allocator: kvstore client unavailable: %w", err)
		if errors.Is(err, kvstore.ErrNotConfigured) {
			s.health.sync.Stopped("kvstore not configured")
		} else if ctx.Err() == nil {
			s.health.sync.Degraded("no kvstore client", err)
		}
		s.resolver.Reject(err)
		return nil
	}
	b, err := NewKVStoreBackend(KVStoreBackendConfig{BasePath: s.cfg.AllocatorBasePath, Suffix: s.cfg.AllocatorNodeName, Backend: c, Log: s.log})
	if err != nil {
		s.health.sync.Degraded("no allocator", err)
		s.resolver.Reject(err)
		return nil
	}
	newAlloc := NewAllocator
	if s.newAllocator != nil {
		newAlloc = s.newAllocator
	}
	a, err := newAlloc(b, s.opts...)
	if err != nil {
		s.health.sync.Degraded("no allocator", err)
		s.resolver.Reject(err)
		return nil
	}
	s.health.sync.Degraded("initial sync pending", nil)
	if err := a.WaitForInitialSync(ctx); err != nil {
		if ctx.Err() != nil {
			return a // stopping: run rejects the promise with ErrClosed
		}
		s.health.sync.Degraded("initial sync failed", err)
		s.resolver.Reject(fmt.Errorf("allocator: initial sync: %w", err))
		return a
	}
	s.log.WithFields(logrus.Fields{"base": s.cfg.AllocatorBasePath, "node": s.cfg.AllocatorNodeName}).Info("Allocator ready")
	s.health.sync.OK(fmt.Sprintf("synced: base %s, node %s", s.cfg.AllocatorBasePath, s.cfg.AllocatorNodeName))
	s.resolver.Resolve(a)
	return a
}
