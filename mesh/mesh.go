package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hivekv/kvstore"
)

// LeaderLockPath is the lock the replicas of the mesh of local cluster
// contend for on the local kvstore.
func LeaderLockPath(local string) string {
	return path.Join(kvstore.BaseKeyPrefix, ".kvstoremesh", local, "leader")
}

// StatusKey is where the leader publishes its Status (JSON, on its lease),
// for kvstorectl and other processes.
func StatusKey(local string) string {
	return path.Join(kvstore.BaseKeyPrefix, ".kvstoremesh", local, "status")
}

// Mesh mirrors every remote cluster of a config directory into the local
// kvstore (KVStoreMesh). Create it with New and run it with Run; Status is
// safe to call at any time, from any goroutine.
type Mesh struct {
	cfg  Config
	opts Options

	local     kvstore.BackendOperations // set by Run
	health    *meshHealth               // see meshHealth for who calls it
	running   atomic.Bool
	leader    atomic.Bool
	elections atomic.Int64

	mu      sync.Mutex
	remotes map[string]*remote
	drains  map[string]*drain
	dirErr  error
}

// New validates cfg and prepares a mesh.
func New(cfg Config, opts Options) (*Mesh, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Mesh{
		cfg: cfg, opts: opts.withDefaults(), health: newMeshHealth(opts),
		remotes: map[string]*remote{}, drains: map[string]*drain{},
	}, nil
}

// Run mirrors until ctx ends, through local. With leader election (the
// default) it first waits to hold LeaderLockPath, mirrors while it holds it,
// and contends again when the lock's session is lost; a replica that stops
// leading stops its mirrors without draining them (the next leader takes
// the copies over). Run returns once every mirror and drain stopped. A
// second concurrent Run fails.
func (m *Mesh) Run(ctx context.Context, local kvstore.BackendOperations) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("kvstoremesh: already running")
	}
	defer m.running.Store(false)
	defer m.health.stopped()
	m.local = local
	if !m.cfg.KVStoremeshLeaderElection {
		m.lead(ctx)
		return nil
	}
	b := m.newBackoff()
	lockPath := LeaderLockPath(m.cfg.ClusterName)
	for ctx.Err() == nil {
		m.health.standby(lockPath)
		// The session watched is the one the lock is taken under:
		// taken before LockPath, a session lost in between only
		// costs a new election.
		lost := local.Disconnected()
		lock, err := local.LockPath(ctx, lockPath)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			m.opts.Log.WithError(err).Debug("Not the kvstoremesh leader yet")
			_ = b.Wait(ctx)
			continue
		}
		b.Reset()
		select {
		case <-lost:
			// The session watched ended before the lock was taken (the
			// lock belongs to the next one): watch that one instead of
			// starting every mirror only to stop them at once.
			m.unlock(lock)
			continue
		default:
		}
		m.opts.Log.WithField("lock", lockPath).Info("Leading kvstoremesh")
		lctx, cancel := context.WithCancel(ctx)
		stop := make(chan struct{})
		go func() {
			select {
			case <-lost:
				m.opts.Log.Warn("Lost the kvstoremesh leader lock's session; stopping the mirrors")
			case <-stop:
			}
			cancel()
		}()
		m.lead(lctx)
		close(stop)
		cancel()
		m.unlock(lock)
	}
	return nil
}

// unlock releases the leader lock, bounded: a lock whose session is gone
// has nothing left to release.
func (m *Mesh) unlock(lock kvstore.KVLocker) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lock.Unlock(ctx); err != nil {
		m.opts.Log.WithError(err).Debug("Releasing the kvstoremesh leader lock")
	}
}

// lead reconciles the directory with the running mirrors until ctx ends,
// then stops them all (without draining) and waits.
func (m *Mesh) lead(ctx context.Context) {
	m.elections.Add(1)
	m.leader.Store(true)
	m.opts.Metrics.setLeader(true)
	defer func() {
		m.mu.Lock()
		var waits []chan struct{}
		for name, r := range m.remotes {
			r.cancel()
			waits = append(waits, r.done)
			m.opts.Metrics.forget(name)
		}
		for _, d := range m.drains {
			waits = append(waits, d.done)
		}
		m.remotes = map[string]*remote{}
		m.drains = map[string]*drain{}
		m.mu.Unlock()
		for _, w := range waits {
			<-w
		}
		m.leader.Store(false)
		m.opts.Metrics.setLeader(false)
	}()
	tick := time.NewTicker(m.cfg.ClustermeshConfigPollInterval)
	defer tick.Stop()
	var lastPublish time.Time
	orphansChecked := !m.cfg.KVStoremeshDrainOrphans
	for {
		m.reconcile(ctx)
		if !orphansChecked {
			orphansChecked = m.drainOrphans(ctx)
		}
		st := m.Status() // also refreshes the readiness metrics
		m.health.report(st)
		if m.opts.StatusInterval > 0 && time.Since(lastPublish) >= m.opts.StatusInterval {
			m.publish(ctx, st)
			lastPublish = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reconcile starts, restarts and removes mirrors to match the directory.
func (m *Mesh) reconcile(ctx context.Context) {
	files, err := readConfigDir(m.cfg.ClustermeshConfig, m.cfg.ClusterName)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if m.dirErr == nil || m.dirErr.Error() != err.Error() {
			m.opts.Log.WithError(err).Warn("Keeping the clusters mirrored so far")
		}
		m.dirErr = err
		return
	}
	m.dirErr = nil
	for name, d := range m.drains {
		select {
		case <-d.done:
			delete(m.drains, name)
		default:
		}
	}
	for name, r := range m.remotes {
		f, ok := files[name]
		switch {
		case !ok:
			r.cancel()
			delete(m.remotes, name)
			m.opts.Metrics.forget(name)
			d := newDrain(name)
			m.drains[name] = d
			go d.run(ctx, m, r.done)
		case f.sum != r.file.sum || errText(f.err) != errText(r.file.err):
			m.opts.Log.WithField("cluster", name).Info("Cluster config changed: reconnecting")
			r.cancel()
			m.start(ctx, f, r.done)
		}
	}
	for name, f := range files {
		if _, ok := m.remotes[name]; ok {
			continue
		}
		var after <-chan struct{}
		if d, ok := m.drains[name]; ok {
			close(d.abort)
			delete(m.drains, name)
			after = d.done
		}
		m.start(ctx, f, after)
	}
	m.opts.Metrics.setClusters(len(m.remotes))
}

// start runs a remote for f once after is closed. m.mu is held.
func (m *Mesh) start(ctx context.Context, f configFile, after <-chan struct{}) {
	r := newRemote(m, f)
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	m.remotes[f.name] = r
	go r.run(rctx, after)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Status returns the state of every configured cluster and of every cluster
// being drained, sorted by name.
func (m *Mesh) Status() Status {
	m.mu.Lock()
	st := Status{Leader: m.leader.Load(), Elections: int(m.elections.Load()), LocalCluster: m.cfg.ClusterName}
	if m.dirErr != nil {
		st.Error = m.dirErr.Error()
	}
	remotes := make([]*remote, 0, len(m.remotes))
	for _, r := range m.remotes {
		remotes = append(remotes, r)
	}
	for name, d := range m.drains {
		if _, ok := m.remotes[name]; !ok {
			st.Clusters = append(st.Clusters, ClusterStatus{Name: name, Draining: true, Since: d.start})
		}
	}
	m.mu.Unlock()
	for _, r := range remotes {
		cs := r.status()
		m.opts.Metrics.setReady(cs.Name, cs.Connected && cs.Synced)
		st.Clusters = append(st.Clusters, cs)
	}
	st.sort()
	return st
}

// publish writes the status under StatusKey on the local client's lease.
func (m *Mesh) publish(ctx context.Context, st Status) {
	v, err := json.Marshal(st)
	if err == nil {
		_, err = m.local.UpdateIfDifferent(ctx, StatusKey(m.cfg.ClusterName), v, true)
	}
	if err != nil && ctx.Err() == nil {
		m.opts.Log.WithError(fmt.Errorf("publishing the kvstoremesh status: %w", err)).Debug("Status not published")
	}
}
