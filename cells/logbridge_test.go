package cells_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
	logrustest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/cells"
)

func TestCellLogBridgeSlogToLogrus(t *testing.T) {
	logger, hook := logrustest.NewNullLogger()
	logger.SetLevel(logrus.InfoLevel)
	log := cells.NewSlogLogger(logger)

	log.Debug("dropped: below the logrus level")
	log.With("a", 1).WithGroup("g").Warn("grouped", "b", "x", slog.Group("inner", "c", true))
	log.Error("failed", "err", "boom")

	entries := hook.AllEntries()
	require.Len(t, entries, 2)
	require.Equal(t, logrus.WarnLevel, entries[0].Level)
	require.Equal(t, "grouped", entries[0].Message)
	require.Equal(t, logrus.Fields{"a": int64(1), "g.b": "x", "g.inner.c": true}, entries[0].Data)
	require.Equal(t, logrus.ErrorLevel, entries[1].Level)
	require.Equal(t, "boom", entries[1].Data["err"])
}

// In a hive, hive's own records and the module-scoped logrus logger end up
// in the same logrus logger, the latter with the module id.
func TestCellLogBridgeHive(t *testing.T) {
	logger, hook := logrustest.NewNullLogger()
	h := hive.NewWithOptions(cells.LogrusOptions(),
		cells.LogrusCell(logger),
		cell.Module("outer", "Outer",
			cell.Module("inner", "Inner",
				cell.Invoke(func(l logrus.FieldLogger, sl *slog.Logger) {
					l.Info("from logrus")
					sl.Info("from slog")
				}))),
	)
	require.NoError(t, h.Start(cells.NewSlogLogger(logger), context.Background()))
	require.NoError(t, h.Stop(cells.NewSlogLogger(logger), context.Background()))

	byMsg := map[string]*logrus.Entry{}
	for _, e := range hook.AllEntries() {
		byMsg[e.Message] = e
	}
	require.Contains(t, byMsg, "from logrus")
	require.Equal(t, "outer.inner", byMsg["from logrus"].Data["module"])
	require.Contains(t, byMsg, "from slog")
	require.Equal(t, "outer.inner", byMsg["from slog"].Data["module"])
	require.Contains(t, byMsg, "Started hive", "hive's own records go through the bridge")
}
