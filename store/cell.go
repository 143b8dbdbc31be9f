package store

import (
	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/config"
)

// Cell provides a Factory. Its stores log to the graph's logrus.FieldLogger
// (optional; default logrus' standard logger) and record Metrics in the
// graph's prometheus.Registerer when there is one. SyncStores resync every
// --kvstore-periodic-sync when the graph has the client's config.Config.
//
// The factory creates stores; it runs none: whoever creates a store runs it
// (Run, Watch) with a ctx of its own, typically from a hive job.
var Cell = cell.Module(
	"kvstore-store",
	"KVStore shared store",

	cell.Provide(newCellFactory),
)

type factoryParams struct {
	cell.In

	Log        logrus.FieldLogger    `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Config     config.Config         `optional:"true"`
}

func newCellFactory(p factoryParams) (Factory, error) {
	opts := []FactoryOpt{}
	if p.Log != nil {
		opts = append(opts, WithLogger(p.Log))
	}
	if p.Registerer != nil {
		m, err := NewMetrics(p.Registerer)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithMetrics(m))
	}
	if p.Config.KVStorePeriodicSync > 0 {
		opts = append(opts, WithResyncInterval(p.Config.KVStorePeriodicSync))
	}
	return NewFactory(opts...), nil
}
