package etcd

import (
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietZapLogger returns the logger handed to the etcd client: errors only,
// or the level named by ETCD_CLIENT_DEBUG (debug, info, warn, error).
func quietZapLogger() *zap.Logger {
	level := zapcore.ErrorLevel
	if v := os.Getenv("ETCD_CLIENT_DEBUG"); v != "" {
		if l, err := zapcore.ParseLevel(v); err == nil {
			level = l
		}
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.Sampling = nil
	l, err := cfg.Build()
	if err != nil {
		return zap.NewNop()
	}
	return l
}
