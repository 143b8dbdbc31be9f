package etcd

import (
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

var tracing atomic.Bool

// EnableTracing makes every operation log its name, key, value size, lease
// flag and result at debug level through Trace. It is off by default: the
// check is one atomic load per operation.
func EnableTracing() { tracing.Store(true) }

// DisableTracing turns tracing off again.
func DisableTracing() { tracing.Store(false) }

// TracingEnabled reports whether EnableTracing is in force.
func TracingEnabled() bool { return tracing.Load() }

// traceLog is where Trace writes; tests may replace it.
var traceLog logrus.FieldLogger = logrus.StandardLogger().WithField("subsys", "kvstore")

// Trace logs msg with fields at debug level, only while tracing is enabled.
func Trace(msg string, err error, fields logrus.Fields) {
	if !tracing.Load() {
		return
	}
	e := traceLog.WithFields(fields)
	if err != nil {
		e = e.WithError(err)
	}
	e.Debug(msg)
}
