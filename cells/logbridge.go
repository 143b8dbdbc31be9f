package cells

import (
	"context"
	"log/slog"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
)

// Hive logs through log/slog, the kvstore cells and client through logrus.
// The bridge below lets a program have one logger and one format: hive's own
// records (hooks, invokes, errors) and every module's *slog.Logger are
// forwarded to a logrus logger, and the same logrus logger is provided to the
// cells, scoped per module the way hive scopes slog. Usage:
//
//	root := logrus.New()
//	h := hive.NewWithOptions(cells.LogrusOptions(), cells.LogrusCell(root), cells.All, ...)
//	err := h.Run(cells.NewSlogLogger(root))
//
// Records are filtered by the logrus level (Enabled consults it), so a
// program sets its level in one place. slog levels map to the nearest logrus
// level at or below them; nothing maps to Fatal or Panic, so a hive record
// never exits or panics the process.

// NewSlogLogger returns a *slog.Logger that writes every record to l.
func NewSlogLogger(l logrus.FieldLogger) *slog.Logger {
	return slog.New(&slogHandler{entry: l.WithFields(nil)})
}

// LogrusCell provides root as the graph's logrus.FieldLogger. Combined with
// LogrusOptions, each module receives it with a "module" field.
func LogrusCell(root logrus.FieldLogger) cell.Cell {
	return cell.Provide(func() logrus.FieldLogger { return root })
}

// LogrusOptions returns hive.DefaultOptions with a module decorator that adds
// the module's full id to the logrus.FieldLogger of every module.
func LogrusOptions() hive.Options {
	opts := hive.DefaultOptions() // not hive.Options{}: its zero timeouts fail every start
	opts.ModuleDecorators = append(opts.ModuleDecorators,
		func(l logrus.FieldLogger, id cell.FullModuleID) logrus.FieldLogger {
			return l.WithField("module", id.String())
		})
	return opts
}

// slogHandler is a slog.Handler writing to a logrus entry. Groups become a
// dotted prefix of the field names ("grp.key").
type slogHandler struct {
	entry  *logrus.Entry
	prefix string
}

func logrusLevel(l slog.Level) logrus.Level {
	switch {
	case l >= slog.LevelError:
		return logrus.ErrorLevel
	case l >= slog.LevelWarn:
		return logrus.WarnLevel
	case l >= slog.LevelInfo:
		return logrus.InfoLevel
	case l >= slog.LevelDebug:
		return logrus.DebugLevel
	default:
		return logrus.TraceLevel
	}
}

func (h *slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.entry.Logger.IsLevelEnabled(logrusLevel(l))
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make(logrus.Fields, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		addAttr(fields, h.prefix, a)
		return true
	})
	e := h.entry.WithFields(fields)
	if !r.Time.IsZero() {
		e = e.WithTime(r.Time)
	}
	e.Log(logrusLevel(r.Level), r.Message)
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := logrus.Fields{}
	for _, a := range attrs {
		addAttr(fields, h.prefix, a)
	}
	return &slogHandler{entry: h.entry.WithFields(fields), prefix: h.prefix}
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &slogHandler{entry: h.entry, prefix: h.prefix + name + "."}
}

// addAttr flattens a into fields, following slog's rules: empty attributes
// are dropped, groups are inlined (with their key as a prefix unless empty).
func addAttr(fields logrus.Fields, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			addAttr(fields, p, ga)
		}
		return
	}
	fields[prefix+a.Key] = a.Value.Any()
}
