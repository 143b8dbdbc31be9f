package etcd

import (
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/hivekv/kvstore"
)

// TraceHook captures what Trace logs. traceLog is replaced once, before any
// test runs, so that no test races with another on the variable; tests
// Reset the hook and filter entries by key.
var TraceHook *logtest.Hook

func init() {
	// Missing configuration files are looked for every 5 s in production;
	// tests wait for a file that appears after a fraction of that.
	configFileRetryInterval = 100 * time.Millisecond

	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	traceLog = logger.WithField("subsys", "kvstore")
	TraceHook = hook
}

// ConfigFileRetryInterval returns how often missing configuration files are
// looked for.
func ConfigFileRetryInterval() time.Duration { return configFileRetryInterval }

// StatusRounds returns how many status check rounds the etcd client b has
// completed.
func StatusRounds(b kvstore.BackendOperations) uint64 {
	return b.(*etcdClient).status.rounds.Load()
}
