package logfallback

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

func TestToSlogForwardsEntries(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("module", "m")
	l := ToSlog(sl)
	require.Equal(t, logrus.InfoLevel, l.GetLevel(), "the logrus level follows the handler's")

	l.WithFields(logrus.Fields{"subsys": "x", "b": 2}).WithError(errors.New("boom")).Warn("hello")
	l.Debug("not enabled")
	out := buf.String()
	require.Contains(t, out, `level=WARN msg=hello module=m b=2 error=boom subsys=x`)
	require.NotContains(t, out, "not enabled")
}

func TestToSlogLevels(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	l := ToSlog(sl)
	require.Equal(t, logrus.TraceLevel, l.GetLevel())
	l.Trace("t")
	l.Debug("d")
	l.Error("e")
	require.Contains(t, buf.String(), "level=DEBUG-4 msg=t")
	require.Contains(t, buf.String(), "level=DEBUG msg=d")
	require.Contains(t, buf.String(), "level=ERROR msg=e")
}

func TestFromHivePrefersTheGraphsLogrus(t *testing.T) {
	lr := logrus.New()
	require.Same(t, lr, FromHive(lr, slog.Default()))
	require.Same(t, logrus.StandardLogger(), FromHive(nil, nil))
	_, ok := FromHive(nil, slog.Default()).(*logrus.Logger)
	require.True(t, ok)
}
