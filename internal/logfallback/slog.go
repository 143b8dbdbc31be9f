package logfallback

import (
	"context"
	"io"
	"log/slog"
	"slices"

	"github.com/sirupsen/logrus"
)

// FromHive is the logger rule of a cell: the graph's logrus.FieldLogger when
// the program provides one (cells.LogrusCell, the slog → logrus bridge);
// else a logrus logger that forwards every entry to the hive's *slog.Logger
// (the module's, with its module attribute), so that the cells log in the
// hive's one format; else, outside a hive, logrus' standard logger.
//
// logrus stays the cells' logging API either way: only the destination
// follows the graph.
func FromHive(lr logrus.FieldLogger, sl *slog.Logger) logrus.FieldLogger {
	switch {
	case lr != nil:
		return lr
	case sl != nil:
		return ToSlog(sl)
	default:
		return logrus.StandardLogger()
	}
}

// ToSlog returns a logrus logger whose entries are records of sl: the
// message, the level (Trace → slog.LevelDebug-4, Fatal and Panic → Error),
// the time and the fields as attributes (in key order). Nothing is written
// elsewhere. The logrus level is set from what sl's handler enables when
// ToSlog is called, and each entry is checked against the handler again, so
// a level raised later is respected; one lowered later is not seen.
func ToSlog(sl *slog.Logger) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetFormatter(discardFormatter{})
	l.SetNoLock() // the hook does the work; nothing is written to lock for
	l.SetLevel(logrusLevelFor(sl.Handler()))
	l.AddHook(&slogHook{h: sl.Handler()})
	return l
}

// slogHook forwards logrus entries to a slog.Handler.
type slogHook struct{ h slog.Handler }

func (*slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (s *slogHook) Fire(e *logrus.Entry) error {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	lvl := slogLevel(e.Level)
	if !s.h.Enabled(ctx, lvl) {
		return nil
	}
	r := slog.NewRecord(e.Time, lvl, e.Message, 0)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.AddAttrs(slog.Any(k, e.Data[k]))
	}
	return s.h.Handle(ctx, r)
}

// discardFormatter formats nothing: the hook already delivered the entry.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

func slogLevel(l logrus.Level) slog.Level {
	switch l {
	case logrus.TraceLevel:
		return slog.LevelDebug - 4
	case logrus.DebugLevel:
		return slog.LevelDebug
	case logrus.InfoLevel:
		return slog.LevelInfo
	case logrus.WarnLevel:
		return slog.LevelWarn
	default: // Error, Fatal, Panic
		return slog.LevelError
	}
}

// logrusLevelFor is the most verbose logrus level whose records h enables.
func logrusLevelFor(h slog.Handler) logrus.Level {
	for _, l := range []logrus.Level{logrus.TraceLevel, logrus.DebugLevel, logrus.InfoLevel, logrus.WarnLevel} {
		if h.Enabled(context.Background(), slogLevel(l)) {
			return l
		}
	}
	return logrus.ErrorLevel
}
