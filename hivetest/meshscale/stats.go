package meshscale

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// latencies collects event latencies.
type latencies struct {
	// on: record (during the churn phase only: the events of a fault's
	// downtime measure the downtime).
	on atomic.Bool
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Percentiles of a latency sample.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func (l *latencies) percentiles() Percentiles {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{N: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

// logCounter counts a logger's warnings and errors, and the watch relists
// ("Watcher resynchronised after its watch broke") it reports.
type logCounter struct {
	warnings atomic.Int64
	relists  atomic.Int64
	mu       sync.Mutex
	samples  []string // the first few warnings, for the report
}

func (c *logCounter) Levels() []logrus.Level { return logrus.AllLevels }

func (c *logCounter) Fire(e *logrus.Entry) error {
	if e.Message == "Watcher resynchronised after its watch broke" {
		c.relists.Add(1)
	}
	if e.Level <= logrus.WarnLevel {
		c.warnings.Add(1)
		c.mu.Lock()
		if len(c.samples) < 5 {
			msg := e.Message
			if err, ok := e.Data[logrus.ErrorKey].(error); ok {
				msg += ": " + err.Error()
			}
			c.samples = append(c.samples, msg)
		}
		c.mu.Unlock()
	}
	return nil
}
