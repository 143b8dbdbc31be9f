package store

import (
	"log/slog"

	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/internal/logfallback"
	"github.com/hivekv/kvstore/internal/modhealth"
)

// Cell provides a Factory. Its stores log through the graph's logger
// (logrus.FieldLogger when provided, else the hive's *slog.Logger), record
// Metrics in the graph's prometheus.Registerer when there is one, and with
// a cell.Health in the graph report each SyncStore and WatchStore in the
// "kvstore-store" scope (see storesHealth). SyncStores resync every
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
	Slog       *slog.Logger          `optional:"true"`
	Health     cell.Health           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Config     config.Config         `optional:"true"`
}

func newCellFactory(p factoryParams) (Factory, error) {
	opts := []FactoryOpt{WithLogger(logfallback.FromHive(p.Log, p.Slog))}
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
	if p.Health != nil {
		opts = append(opts, withHealth(modhealth.New(p.Health, "kvstore-store")))
	}
	return NewFactory(opts...), nil
}
