package allocator

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/internal/logfallback"
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
// cell closes the client), also one created while Stop was running; a
// pending promise is rejected with ErrClosed. GC rounds run only with
// --allocator-gc-interval (agents: leave it 0, the operator runs them).
var Cell = cell.Module(
	"allocator",
	"kvstore ID allocator",

	cell.Config(DefaultConfig),
	cell.Provide(newAllocatorPromise),
)

type cellParams struct {
	cell.In

	Lifecycle cell.Lifecycle
	Config    Config
	Client    promise.Promise[kvstore.BackendOperations]

	// KVStore supplies --kvstore-periodic-sync when present.
	KVStore    config.Config         `optional:"true"`
	Log        logrus.FieldLogger    `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
}

func newAllocatorPromise(p cellParams) (promise.Promise[*Allocator], error) {
	if err := p.Config.Validate(); err != nil {
		return nil, err
	}
	log := logfallback.Or(p.Log)
	opts := []Option{
		WithMin(ID(p.Config.AllocatorMinID)), WithMax(ID(p.Config.AllocatorMaxID)),
		WithGCInterval(p.Config.AllocatorGCInterval), WithReleaseDelay(p.Config.AllocatorReleaseDelay),
		WithLogger(log),
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
	p.Lifecycle.Append(&starter{
		cfg: p.Config, opts: opts, client: p.Client, resolver: resolver,
		log: log.WithField("subsys", "allocator"),
	})
	return prom, nil
}

// starter is the cell's lifecycle hook.
type starter struct {
	cfg      Config
	opts     []Option
	client   promise.Promise[kvstore.BackendOperations]
	resolver promise.Resolver[*Allocator]
	log      logrus.FieldLogger

	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	alloc   *Allocator // created by run, closed by Stop
	stopped bool       // Stop has run: run closes what it creates after

	newAllocator func(Backend, ...Option) (*Allocator, error) // tests; nil: NewAllocator
}

// Start implements cell.HookInterface.
func (s *starter) Start(cell.HookContext) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.run(ctx)
	return nil
}

func (s *starter) run(ctx context.Context) {
	defer close(s.done)
	c, err := s.client.Await(ctx)
	if err != nil {
		s.resolver.Reject(fmt.Errorf("allocator: kvstore client unavailable: %w", err))
		return
	}
	b, err := NewKVStoreBackend(KVStoreBackendConfig{BasePath: s.cfg.AllocatorBasePath, Suffix: s.cfg.AllocatorNodeName, Backend: c, Log: s.log})
	if err != nil {
		s.resolver.Reject(err)
		return
	}
	newAlloc := NewAllocator
	if s.newAllocator != nil {
		newAlloc = s.newAllocator
	}
	a, err := newAlloc(b, s.opts...)
	if err != nil {
		s.resolver.Reject(err)
		return
	}
	s.mu.Lock()
	if s.stopped {
		// Stop gave up waiting for this goroutine: nobody else will
		// close a.
		s.mu.Unlock()
		a.Close()
		s.resolver.Reject(ErrClosed)
		return
	}
	s.alloc = a
	s.mu.Unlock()
	if err := a.WaitForInitialSync(ctx); err != nil {
		s.resolver.Reject(fmt.Errorf("allocator: initial sync: %w", err))
		return
	}
	s.log.WithFields(logrus.Fields{"base": s.cfg.AllocatorBasePath, "node": s.cfg.AllocatorNodeName}).Info("Allocator ready")
	s.resolver.Resolve(a)
}

// Stop implements cell.HookInterface.
func (s *starter) Stop(ctx cell.HookContext) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.resolver.Reject(ErrClosed) // ignored once resolved
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		// run is still waiting for the client (it ends with s.cancel)
		// or creating the Allocator: it closes what it creates after
		// this, and whatever it created before is closed here.
		err = fmt.Errorf("stopping the allocator: %w", ctx.Err())
	}
	s.mu.Lock()
	s.stopped = true
	a := s.alloc
	s.mu.Unlock()
	if a != nil {
		a.Close()
	}
	return err
}
