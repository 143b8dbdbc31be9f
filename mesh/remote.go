package mesh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/internal/backoff"
	"github.com/hivekv/kvstore/store"
)

// remote mirrors one remote cluster from start until its ctx ends: it
// connects with the cluster's config file, publishes the cluster's config in
// the local kvstore and runs a store.Mirror. Failures are retried with
// backoff and only ever recorded in this cluster's status.
type remote struct {
	name   string
	file   configFile
	m      *Mesh
	log    logrus.FieldLogger
	cancel context.CancelFunc
	// done is closed once run returned: the mirror's stores stopped and
	// the client is closed.
	done chan struct{}

	mu       sync.Mutex
	client   kvstore.BackendOperations
	mirror   *store.Mirror
	lastErr  error
	failures int
	since    time.Time
}

func newRemote(m *Mesh, f configFile) *remote {
	return &remote{
		name: f.name, file: f, m: m,
		log:   m.opts.Log.WithField("cluster", f.name),
		done:  make(chan struct{}),
		since: time.Now(),
	}
}

// run works until ctx ends; after, if not nil, closed first.
func (r *remote) run(ctx context.Context, after <-chan struct{}) {
	defer close(r.done)
	if after != nil {
		select {
		case <-after:
		case <-ctx.Done():
			return
		}
	}
	if r.file.err != nil {
		// Nothing to retry until the file changes, which replaces
		// this remote.
		r.fail(r.file.err)
		<-ctx.Done()
		return
	}
	b := r.m.newBackoff()
	for {
		err := r.once(ctx)
		if ctx.Err() != nil {
			return
		}
		r.fail(err)
		if b.Wait(ctx) != nil {
			return
		}
	}
}

func (r *remote) fail(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.failures++
	r.mu.Unlock()
	r.m.opts.Metrics.failure(r.name)
	r.log.WithError(err).Warn("Remote cluster failed; retrying with backoff")
}

// once connects and mirrors until ctx ends or the connection cannot be
// established; it returns why it stopped.
func (r *remote) once(ctx context.Context) error {
	opts := maps.Clone(r.m.opts.RemoteOptions)
	if opts == nil {
		opts = map[string]string{}
	}
	opts[kvstore.EtcdOptionConfig] = r.file.path
	var extra kvstore.ExtraOptions
	if r.m.opts.RemoteExtra != nil {
		extra = *r.m.opts.RemoteExtra
	}
	extra.ClusterName = r.name
	extra.Logger = r.log
	cl, errCh := client.NewClient(ctx, kvstore.EtcdBackendName, opts, &extra)
	if cl == nil {
		return fmt.Errorf("%w: cluster %q (%s): %w", ErrRemoteConfig, r.name, r.file.path, <-errCh)
	}
	defer cl.Close()
	select {
	case err := <-errCh:
		switch {
		case errors.Is(err, kvstore.ErrInvalidConfig):
			return fmt.Errorf("%w: cluster %q: %w", ErrRemoteConfig, r.name, err)
		case err != nil:
			return fmt.Errorf("%w: cluster %q: %w", ErrRemoteUnreachable, r.name, err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	r.client = cl
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.client = nil
		r.mu.Unlock()
	}()

	src, err := readRemoteConfig(ctx, cl, r.name)
	if err != nil {
		return fmt.Errorf("cluster %q: reading its cluster config: %w", r.name, err)
	}
	if err := writeLocalConfig(ctx, r.m.local, r.name, src); err != nil {
		return fmt.Errorf("cluster %q: writing its cluster config to the local kvstore: %w", r.name, err)
	}
	res := r.m.opts.Resources(r.name)
	if src.Capabilities.Cached {
		res = cachedResources(res, r.name)
	}
	mirror, err := store.NewMirror(store.MirrorConfig{
		Cluster:        r.name,
		Remote:         cl,
		Local:          r.m.local,
		Resources:      res,
		SyncedCanaries: src.Capabilities.SyncedCanaries,
		Factory:        r.m.opts.Factory,
	})
	if err != nil {
		return fmt.Errorf("cluster %q: %w", r.name, err)
	}
	r.mu.Lock()
	r.mirror = mirror
	r.lastErr = nil
	r.mu.Unlock()
	r.log.Info("Mirroring remote cluster")

	var wg sync.WaitGroup
	wg.Go(func() { r.watchErrors(ctx, cl) })
	err = mirror.Run(ctx)
	wg.Wait()
	if err == nil {
		return ctx.Err()
	}
	return fmt.Errorf("cluster %q: mirroring: %w", r.name, err)
}

// watchErrors records the remote client's failing status checks as the
// cluster's last error; a later passing check does not clear it, the
// status's Connected says whether the cluster is healthy now.
func (r *remote) watchErrors(ctx context.Context, cl kvstore.BackendOperations) {
	errs := cl.StatusCheckErrors()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-errs:
			if !ok {
				return
			}
			r.mu.Lock()
			r.lastErr = fmt.Errorf("cluster %q: %w", r.name, err)
			r.mu.Unlock()
		}
	}
}

func (r *remote) status() ClusterStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := ClusterStatus{Name: r.name, Failures: r.failures, Since: r.since}
	if r.client != nil {
		cs := r.client.Status()
		st.Connected = cs != nil && cs.State != kvstore.StateFailure
		if !st.Connected && cs != nil && r.lastErr == nil {
			st.LastError = fmt.Sprintf("cluster %q: %s", r.name, cs.Msg)
		}
	}
	if r.mirror != nil {
		st.Synced = r.mirror.Synced()
		st.Keys = r.mirror.Keys()
	}
	if r.lastErr != nil {
		st.LastError = r.lastErr.Error()
		st.err = r.lastErr
	}
	return st
}

// newBackoff is the retry schedule of a failing cluster, election or drain
// write: jittered, so that meshes retrying together drift apart.
func (m *Mesh) newBackoff() backoff.Backoff {
	return backoff.Backoff{Min: m.opts.RetryMin, Max: m.opts.RetryMax}
}
