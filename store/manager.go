package store

import (
	"context"
	"path"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// manager is the common part of both WatchStoreManagers: the registered
// functions and the goroutines running them.
type manager struct {
	log     logrus.FieldLogger
	running atomic.Bool

	mu      sync.Mutex
	started bool
	fns     map[string]func(context.Context)
	wg      sync.WaitGroup
	ctx     context.Context
}

func newManager(log logrus.FieldLogger, cluster string) *manager {
	return &manager{
		log: logfallback.Or(log).WithFields(logrus.Fields{"subsys": "kvstore-watch-store-manager", "cluster": cluster}),
		fns: map[string]func(context.Context){},
	}
}

// Register implements WatchStoreManager.
func (m *manager) Register(prefix string, fn func(context.Context)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		m.log.WithError(ErrManagerStarted).WithField("prefix", prefix).Error("Cannot register a prefix: register before Run")
		return
	}
	m.fns[prefix] = fn
}

// begin marks the manager started; false if it already was.
func (m *manager) begin(ctx context.Context) bool {
	if !m.running.CompareAndSwap(false, true) {
		m.log.WithError(ErrAlreadyRunning).Error("Cannot start the watch store manager twice")
		return false
	}
	m.mu.Lock()
	m.started = true
	m.ctx = ctx
	m.mu.Unlock()
	return true
}

// start runs the function registered for prefix, unless it already ran or
// none is registered. It reports whether it started one.
func (m *manager) start(prefix string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn, ok := m.fns[prefix]
	if !ok || fn == nil {
		return false
	}
	// Each function runs at most once: forget it.
	m.fns[prefix] = nil
	m.log.WithField("prefix", prefix).Info("Starting the watch of a synced prefix")
	ctx := m.ctx
	m.wg.Go(func() { fn(ctx) })
	return true
}

// wait returns once every started function returned.
func (m *manager) wait() { m.wg.Wait() }

// syncedManager starts a prefix's function when the writer's synced marker
// cilium/synced/<cluster>/<prefix> appears.
type syncedManager struct {
	*manager
	backend WatchStoreBackend
	cluster string
	f       *factory
}

func newSyncedManager(f *factory, backend WatchStoreBackend, cluster string) *syncedManager {
	return &syncedManager{manager: newManager(f.log, cluster), backend: backend, cluster: cluster, f: f}
}

// Run implements WatchStoreManager.
func (m *syncedManager) Run(ctx context.Context) {
	if m.backend == nil {
		m.log.WithError(ErrNoBackend).Error("Not running a watch store manager without backend")
		return
	}
	if err := ValidateClusterName(m.cluster); err != nil {
		// The name is a segment of the markers' prefix: ".." would watch
		// every cluster's markers.
		m.log.WithError(err).Error("Not running a watch store manager with an invalid cluster name")
		return
	}
	if !m.begin(ctx) {
		return
	}
	markers := newWatchStore(m.cluster, KVPairCreator, markerObserver{m.manager},
		watchStoreOpts{log: m.f.log}, nil)
	markers.Watch(ctx, m.backend, path.Join(kvstore.SyncedPrefix, m.cluster))
	m.wait()
}

// markerObserver starts the function of every marker that appears.
type markerObserver struct{ m *manager }

func (o markerObserver) OnUpdate(k Key) {
	if !o.m.start(k.GetKeyName()) {
		o.m.log.WithField("prefix", k.GetKeyName()).Debug("Received sync event for unregistered prefix")
	}
}

func (markerObserver) OnDelete(NamedKey) {}

// immediateManager starts every function at once.
type immediateManager struct{ *manager }

// NewWatchStoreManagerImmediate returns a WatchStoreManager that starts
// every registered function as soon as Run is called, for remote clusters
// whose writers do not write synced markers.
func NewWatchStoreManagerImmediate(clusterName string) WatchStoreManager {
	return &immediateManager{newManager(logfallback.Or(nil), clusterName)}
}

// Run implements WatchStoreManager.
func (m *immediateManager) Run(ctx context.Context) {
	if !m.begin(ctx) {
		return
	}
	m.mu.Lock()
	prefixes := make([]string, 0, len(m.fns))
	for p := range m.fns {
		prefixes = append(prefixes, p)
	}
	m.mu.Unlock()
	for _, p := range prefixes {
		m.start(p)
	}
	<-ctx.Done()
	m.wait()
}
