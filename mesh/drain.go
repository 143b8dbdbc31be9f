package mesh

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hivekv/kvstore"
)

// drain removes a removed cluster's copy from the local kvstore in Cilium's
// order: the cluster config first (agents disconnect from the cluster), then,
// after the grace period (agents had time to notice), the synced markers,
// then the data. A cluster added again during the grace period aborts the
// drain; once deleting markers and data, the drain finishes first, so that no
// delete of it lands after the new mirror's writes.
type drain struct {
	name  string
	abort chan struct{} // closed to abort the grace period
	done  chan struct{} // closed once run returned
	start time.Time
}

func newDrain(name string) *drain {
	return &drain{name: name, abort: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
}

// run drains after `after` (the stopped mirror) is closed. ctx is the
// leadership's: a replica that stops leading leaves the rest of the drain
// to the leases of the copies.
func (d *drain) run(ctx context.Context, m *Mesh, after <-chan struct{}) {
	defer close(d.done)
	select {
	case <-after:
	case <-ctx.Done():
		return
	}
	log := m.opts.Log.WithField("cluster", d.name)
	log.Info("Draining removed cluster: deleting its cluster config")
	if !m.retry(ctx, func() error { return m.local.Delete(ctx, clusterConfigKey(d.name)) }) {
		return
	}
	t := time.NewTimer(m.cfg.ClustermeshDrainGracePeriod)
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.abort:
		log.Info("Cluster added again during its drain grace period: drain aborted")
		return
	case <-ctx.Done():
		return
	}
	log.Info("Draining removed cluster: deleting its synced markers and cached data")
	prefixes := []string{path.Join(kvstore.SyncedPrefix, d.name) + "/"}
	for _, r := range m.opts.Resources(d.name) {
		prefixes = append(prefixes, path.Join(kvstore.StateToCachePrefix(r.Prefix), d.name)+"/")
	}
	for _, p := range prefixes {
		if !m.retry(ctx, func() error { return m.local.DeletePrefix(ctx, p) }) {
			return
		}
	}
	log.Info("Removed cluster drained")
}

// retry runs op until it succeeds (true) or ctx ends (false), with backoff.
func (m *Mesh) retry(ctx context.Context, op func() error) bool {
	b := m.newBackoff()
	for {
		err := op()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		m.opts.Log.WithError(fmt.Errorf("draining: %w", err)).Warn("Local kvstore write failed; retrying")
		if b.Wait(ctx) != nil {
			return false
		}
	}
}

// drainOrphans drains the clusters whose config is in the local kvstore but
// whose file is not in the directory: removed while no replica led (or
// while the previous leader was draining them). It runs once per
// leadership, after the directory was read; it returns false when it could
// not look (directory or kvstore unreadable), to be tried again at the next
// poll. The local cluster's own config is never an orphan.
func (m *Mesh) drainOrphans(ctx context.Context) bool {
	m.mu.Lock()
	dirOK := m.dirErr == nil
	m.mu.Unlock()
	if !dirOK {
		return false
	}
	prefix := kvstore.ClusterConfigPrefix + "/"
	kvs, err := m.local.ListPrefix(ctx, prefix)
	if err != nil {
		if ctx.Err() == nil {
			m.opts.Log.WithError(err).Warn("Listing cluster configs to find removed clusters; retrying")
		}
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	done := make(chan struct{})
	close(done)
	for key := range kvs {
		name := strings.TrimPrefix(key, prefix)
		if name == m.cfg.ClusterName || validateClusterName(name) != nil {
			continue
		}
		if _, ok := m.remotes[name]; ok {
			continue
		}
		if _, ok := m.drains[name]; ok {
			continue
		}
		m.opts.Log.WithField("cluster", name).Info("Cluster config without a config file: draining the removed cluster")
		d := newDrain(name)
		m.drains[name] = d
		go d.run(ctx, m, done)
	}
	return true
}
