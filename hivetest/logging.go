package hivetest

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newEtcdLogger builds the logger handed to embedded etcd: human-readable,
// on stderr, at the given level ("none" or "off" for silence).
//
// etcd logs every normal shutdown at error level (its accept loops report
// "server closed"), which would put a stack trace into every test that stops
// a server; entries carrying such errors are dropped so that the remaining
// errors mean trouble.
func newEtcdLogger(level string) (*zap.Logger, error) {
	if level == "none" || level == "off" {
		return zap.NewNop(), nil
	}
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("hivetest: log level %q: %w", level, err)
	}
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	core := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), lvl)
	return zap.New(quietCore{core}), nil
}

// quietCore drops etcd's shutdown noise and passes everything else on.
type quietCore struct{ zapcore.Core }

func (c quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{c.Core.With(fields)}
}

func (c quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c quietCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if isShutdownNoise(e, fields) {
		return nil
	}
	return c.Core.Write(e, fields)
}

// shutdownErrors are the errors etcd's listeners and servers return when they
// are closed on purpose.
var shutdownErrors = []string{
	"use of closed network connection",
	"mux: server closed",
	"http: Server closed",
	"server is stopping",
	"the server has been stopped",
}

// isShutdownNoise reports entries whose error says a listener or server was
// closed; in a test kit that only happens because the member is stopping.
func isShutdownNoise(_ zapcore.Entry, fields []zapcore.Field) bool {
	for _, f := range fields {
		err, ok := f.Interface.(error)
		if f.Type != zapcore.ErrorType || !ok {
			continue
		}
		for _, s := range shutdownErrors {
			if strings.Contains(err.Error(), s) {
				return true
			}
		}
	}
	return false
}
