package mesh

import (
	"context"
	"fmt"

	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/promise"
	"github.com/hivekv/kvstore/store"
)

// Cell is KVStoreMesh as a hive module ("kvstoremesh"): the flags of Config
// and a *Mesh that mirrors every cluster of --clustermesh-config into the
// local kvstore of the graph's promise.Promise[kvstore.BackendOperations]
// (cells.Client).
//
// Optional inputs: cell.Health (the "kvstoremesh" scope: leader or
// standby, one part per remote cluster), store.Factory (store.Cell: stores
// with the graph's logger and the store metrics labelled source_cluster),
// logrus.FieldLogger, prometheus.Registerer (the mesh's own Metrics) and
// *Options (the non-flag settings; its Log, Factory, Metrics and Health are
// filled from the graph when unset).
//
// Lifecycle: populate fails when a flag is invalid. Start returns at once;
// a background job awaits the local client and runs the mesh (leader
// election first, unless --kvstoremesh-leader-election=false). If the local
// client is rejected the job logs it and the mesh stays idle (the client
// cell shuts the hive down). Stop stops the mirrors without draining them.
var Cell = cell.Module(
	"kvstoremesh",
	"KVStoreMesh mirrors remote clusters into the local kvstore",

	cell.Config(DefaultConfig),
	cell.Provide(newCellMesh),
	cell.Invoke(func(*Mesh) {}),
)

type cellParams struct {
	cell.In

	Lifecycle cell.Lifecycle
	Config    Config
	Client    promise.Promise[kvstore.BackendOperations]

	Options    *Options              `optional:"true"`
	Factory    store.Factory         `optional:"true"`
	Log        logrus.FieldLogger    `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Health     cell.Health           `optional:"true"`
}

func newCellMesh(p cellParams) (*Mesh, error) {
	var opts Options
	if p.Options != nil {
		opts = *p.Options
	}
	if opts.Log == nil && p.Log != nil {
		opts.Log = p.Log
	}
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	opts.Log = opts.Log.WithField("subsys", "kvstoremesh")
	if opts.Factory == nil {
		opts.Factory = p.Factory
	}
	if opts.Health == nil {
		opts.Health = p.Health
	}
	if opts.Metrics == nil && p.Registerer != nil {
		m, err := NewMetrics(p.Registerer)
		if err != nil {
			return nil, err
		}
		opts.Metrics = m
	}
	m, err := New(p.Config, opts)
	if err != nil {
		return nil, fmt.Errorf("kvstoremesh configuration: %w", err)
	}
	h := &meshHook{m: m, client: p.Client}
	p.Lifecycle.Append(h)
	return m, nil
}

type meshHook struct {
	m      *Mesh
	client promise.Promise[kvstore.BackendOperations]
	jobs   background.Jobs
}

// Start implements cell.HookInterface; it does not block.
func (h *meshHook) Start(cell.HookContext) error {
	h.jobs.Start(func(ctx context.Context) {
		local, err := h.client.Await(ctx)
		if err != nil {
			if ctx.Err() == nil {
				h.m.opts.Log.WithError(err).Error("kvstoremesh idle: no local kvstore")
				h.m.health.idle(err)
			}
			return
		}
		_ = h.m.Run(ctx, local)
	})
	return nil
}

// Stop implements cell.HookInterface.
func (h *meshHook) Stop(ctx cell.HookContext) error {
	err := h.jobs.Stop(ctx, "kvstoremesh")
	h.m.health.stopped() // also when idle: Run never ran to report it
	return err
}
