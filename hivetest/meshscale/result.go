package meshscale

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// Result are a run's figures.
type Result struct {
	Config Config
	// Keys is the number of remote keys (the truth).
	Keys int
	// RawCopy is how long plain clientv3 took to copy every key to the
	// local etcd in the same run (the floor; see rawCopy), RawKeysPerSec
	// its rate.
	RawCopy       time.Duration
	RawKeysPerSec float64
	// Bootstrap is from the mesh's start until every cluster is synced
	// (the CI's bootstrap time); AgentsBootstrap until every agent's view
	// equals the truth as well.
	Bootstrap, AgentsBootstrap time.Duration
	// KeysPerSec is Keys / Bootstrap.
	KeysPerSec float64
	// SyncQueueMax is the largest kvstore_sync_queue_size of any of the
	// mesh's stores; SyncErrors the sum of kvstore_sync_errors_total.
	// These, Reconnections, Relists and Warnings cover bootstrap and churn;
	// each fault reports its own.
	SyncQueueMax, SyncErrors float64
	// Reconnections are the mesh's failed attempts to connect to and
	// mirror a remote cluster; Relists the watch relists after a broken
	// watch (mesh and agents).
	Reconnections int
	Relists       int64
	// Warnings counts warnings and errors logged by the mesh and agents.
	Warnings       int64
	WarningSamples []string
	// Latency is remote write (UpsertKey at the writer) → agent observer,
	// over the events of every agent during the churn phase (not during
	// faults).
	Latency Percentiles
	// PeakHeap is the largest HeapInuse sampled; CPU the process's user
	// and system time over Wall (etcd servers included).
	PeakHeap  uint64
	CPU, Wall time.Duration
	// FinalConverge, Missing, Stale, Extra, Example: the final check.
	FinalConverge         time.Duration
	Missing, Stale, Extra int
	Example               string
	Faults                []FaultResult
}

// OK says every agent's final view equals the truth and every fault
// converged.
func (r *Result) OK() bool {
	if r.Missing+r.Stale+r.Extra > 0 {
		return false
	}
	for _, f := range r.Faults {
		if f.Missing+f.Stale+f.Extra > 0 || f.Err != "" {
			return false
		}
	}
	return true
}

// WriteTable prints the figures as a table like the CI's.
func (r *Result) WriteTable(w io.Writer) error {
	c := r.Config
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("shape", "%d clusters on %d etcd servers × (%d nodes, %d identities, %d endpoints), %d agents (a client per %d clusters), GOMAXPROCS=%d",
		c.Clusters, c.Servers, c.Nodes, c.Identities, c.Endpoints, c.Agents, c.ClustersPerAgentClient, runtime.GOMAXPROCS(0))
	row("churn per cluster", "%.1f / %.1f / %.1f qps (%.0f qps in all) for %s",
		c.NodeQPS, c.IdentityQPS, c.EndpointQPS, (c.NodeQPS+c.IdentityQPS+c.EndpointQPS)*float64(c.Clusters), c.Churn)
	row("keys", "%d", r.Keys)
	row("bootstrap (mesh synced)", "%s", r.Bootstrap.Round(time.Millisecond))
	row("bootstrap (agents equal)", "%s", r.AgentsBootstrap.Round(time.Millisecond))
	row("keys/s mirrored", "%.0f", r.KeysPerSec)
	if r.RawCopy > 0 {
		row("raw clientv3 copy (floor)", "%s, %.0f keys/s (same run, same servers)", r.RawCopy.Round(time.Millisecond), r.RawKeysPerSec)
	}
	row("sync queue max", "%.0f", r.SyncQueueMax)
	row("sync errors", "%.0f", r.SyncErrors)
	row("reconnections", "%d (relists after broken watches: %d)", r.Reconnections, r.Relists)
	row("warnings+errors", "%d", r.Warnings)
	for _, s := range r.WarningSamples {
		row("  e.g.", "%s", s)
	}
	row("event latency", "p50 %s  p90 %s  p99 %s  max %s  (n=%d)", r.Latency.P50.Round(time.Millisecond),
		r.Latency.P90.Round(time.Millisecond), r.Latency.P99.Round(time.Millisecond), r.Latency.Max.Round(time.Millisecond), r.Latency.N)
	row("peak heap", "%.0f MiB", float64(r.PeakHeap)/(1<<20))
	row("CPU", "%s over %s wall (%.2f cores; etcd servers included)", r.CPU.Round(time.Millisecond), r.Wall.Round(time.Millisecond), r.CPU.Seconds()/r.Wall.Seconds())
	for _, f := range r.Faults {
		status := "converged"
		if f.Missing+f.Stale+f.Extra > 0 || f.Err != "" {
			status = fmt.Sprintf("NOT converged: %d lost, %d stale, %d extra %s %s", f.Missing, f.Stale, f.Extra, f.Example, f.Err)
		}
		row("fault: "+f.Name, "%s in %s, %d relists, %d re-elections, %.0f sync errors, %d warnings+errors",
			status, f.Converge.Round(time.Millisecond), f.Relists, f.Elections, f.SyncErrors, f.Warnings)
	}
	final := "every agent's view equals the remote truth"
	if r.Missing+r.Stale+r.Extra > 0 {
		final = fmt.Sprintf("DIFFERS: %d lost, %d stale, %d extra (%s)", r.Missing, r.Stale, r.Extra, r.Example)
	}
	row("final view", "%s (converged %s after churn stopped)", final, r.FinalConverge.Round(time.Millisecond))
	return tw.Flush()
}
