package meshscale

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/internal/backoff"
	"github.com/hivekv/kvstore/mesh"
	"github.com/hivekv/kvstore/store"
)

// localCluster is the name of the cluster the mesh runs in.
const localCluster = "local"

// env is one run's moving parts.
type env struct {
	cfg      Config
	dir      string
	cfgDir   string
	remotes  []*hivetest.Server
	local    *hivetest.Server
	writers  []*writer
	agents   []*agent
	truth    *truth
	lat      latencies
	meshLog  *logCounter
	agentLog *logCounter
	mesh     *mesh.Mesh
	reg      *prometheus.Registry
	clients  []kvstore.BackendOperations

	bg     sync.WaitGroup // writers, agents, mesh, sampler
	peakMu sync.Mutex
	peak   struct {
		queue float64
		heap  uint64
	}
}

// Run builds the clustermesh, runs the scenario and returns its figures. An
// error means the run could not be carried out (a server did not start);
// a run whose views differ from the truth returns a Result whose OK is
// false.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, truth: &truth{keys: map[string]string{}, gone: map[string]bool{}},
		meshLog: &logCounter{}, agentLog: &logCounter{}}
	var err error
	if e.dir = cfg.Dir; e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "meshscale-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(e.dir)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer e.teardown(stop)
	res := &Result{Config: cfg}
	startCPU, startWall := cpuTime(), time.Now()
	if err := e.start(runCtx); err != nil {
		return nil, err
	}
	if !cfg.NoBaseline {
		e.progress("raw clientv3 copy (baseline)")
		d, n, err := e.rawCopy(runCtx)
		if err != nil {
			return nil, err
		}
		res.RawCopy, res.RawKeysPerSec = d, float64(n)/d.Seconds()
	}
	if err := e.bootstrap(runCtx, res); err != nil {
		return res, err
	}
	e.progress("churn for %s", cfg.Churn)
	e.lat.on.Store(true)
	e.churn(runCtx, cfg.Churn)
	e.lat.on.Store(false)
	e.collect(res)
	if cfg.Faults {
		e.faults(runCtx, res)
	}
	e.progress("final check")
	d, m, s, x, ex := e.converge(runCtx, cfg.ConvergeTimeout)
	res.FinalConverge, res.Missing, res.Stale, res.Extra, res.Example = d, m, s, x, ex
	res.Latency = e.lat.percentiles()
	e.peakMu.Lock()
	res.PeakHeap = e.peak.heap
	e.peakMu.Unlock()
	res.CPU, res.Wall = cpuTime()-startCPU, time.Since(startWall)
	return res, nil
}

func (e *env) progress(format string, args ...any) {
	if e.cfg.Progress != nil {
		fmt.Fprintf(e.cfg.Progress, "%s meshscale: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
}

func newLogger(h logrus.Hook) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(discard{})
	l.SetLevel(logrus.InfoLevel)
	l.AddHook(h)
	return l
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (e *env) connect(ctx context.Context, endpoint string, qps int, log logrus.FieldLogger) (kvstore.BackendOperations, error) {
	c, errCh := client.NewClient(ctx, kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption:      endpoint,
		kvstore.EtcdRateLimitOption: strconv.Itoa(qps),
	}, &kvstore.ExtraOptions{Logger: log})
	if c == nil {
		return nil, <-errCh
	}
	e.clients = append(e.clients, c)
	if err := <-errCh; err != nil {
		return nil, err
	}
	return c, nil
}

// start starts the servers and the writers, and publishes every cluster's
// initial state with its synced markers.
func (e *env) start(ctx context.Context) error {
	e.progress("starting %d remote etcd servers and the local one", e.cfg.Servers)
	for i := range e.cfg.Servers {
		s, err := startServer(ctx, filepath.Join(e.dir, fmt.Sprintf("remote-%d", i), "etcd"))
		if err != nil {
			return fmt.Errorf("starting remote server %d: %w", i, err)
		}
		e.remotes = append(e.remotes, s)
	}
	var err error
	if e.local, err = startServer(ctx, filepath.Join(e.dir, "local", "etcd")); err != nil {
		return fmt.Errorf("starting the local server: %w", err)
	}
	e.cfgDir = filepath.Join(e.dir, "clustermesh")
	if err := os.MkdirAll(e.cfgDir, 0o755); err != nil {
		return err
	}

	e.progress("publishing %d clusters × (%d nodes, %d identities, %d endpoints)", e.cfg.Clusters, e.cfg.Nodes, e.cfg.Identities, e.cfg.Endpoints)
	wlog := newLogger(&logCounter{})
	wf := store.NewFactory(store.WithLogger(wlog))
	synced := make(chan struct{}, e.cfg.Clusters*3)
	for i := range e.cfg.Clusters {
		name := clusterName(i)
		srv := e.remotes[i%len(e.remotes)]
		b, err := e.connect(ctx, srv.Endpoint(), 100000, wlog)
		if err != nil {
			return fmt.Errorf("connecting the writer of %s: %w", name, err)
		}
		w := newWriter(name, b, wf, e.truth)
		e.writers = append(e.writers, w)
		labelled(ctx, "writers", func(ctx context.Context) { w.run(ctx, &e.bg) })
		if err := w.publishClusterConfig(ctx, i+1); err != nil {
			return fmt.Errorf("cluster config of %s: %w", name, err)
		}
		for prefix, n := range map[string]int{nodesPrefix: e.cfg.Nodes, idsPrefix: e.cfg.Identities, ipPrefix: e.cfg.Endpoints} {
			for j := range n {
				w.upsert(ctx, prefix, j, false)
			}
			_ = w.stores[prefix].Synced(ctx, func(context.Context) { synced <- struct{}{} })
		}
	}
	for range e.cfg.Clusters * 3 {
		select {
		case <-synced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// bootstrap starts the mesh and the agents and measures until every
// cluster is synced and every agent's view equals the truth.
func (e *env) bootstrap(ctx context.Context, res *Result) error {
	for i := range e.cfg.Clusters {
		srv := e.remotes[i%len(e.remotes)]
		if err := hivetest.WriteClientConfigFileTo(filepath.Join(e.cfgDir, clusterName(i)), hivetest.ClientFileOptions{Endpoints: srv.Endpoints()}); err != nil {
			return err
		}
	}
	mlog := newLogger(e.meshLog)
	e.reg = prometheus.NewRegistry()
	sm, err := store.NewMetrics(e.reg)
	if err != nil {
		return err
	}
	local, err := e.connect(ctx, e.local.Endpoint(), e.cfg.LocalQPS, mlog)
	if err != nil {
		return fmt.Errorf("connecting the mesh to the local etcd: %w", err)
	}
	mcfg := mesh.DefaultConfig
	mcfg.ClustermeshConfig = e.cfgDir
	mcfg.ClusterName = localCluster
	mcfg.ClustermeshDrainGracePeriod = e.cfg.DrainGracePeriod
	mcfg.ClustermeshConfigPollInterval = 500 * time.Millisecond
	e.mesh, err = mesh.New(mcfg, mesh.Options{
		Log:         mlog,
		Factory:     store.NewFactory(store.WithLogger(mlog), store.WithMetrics(sm)),
		Resources:   Resources,
		RemoteExtra: &kvstore.ExtraOptions{Logger: mlog},
		RetryMin:    200 * time.Millisecond,
		RetryMax:    5 * time.Second,
	})
	if err != nil {
		return err
	}
	alog := newLogger(e.agentLog)
	af := store.NewFactory(store.WithLogger(alog))
	per := e.cfg.ClustersPerAgentClient
	for range e.cfg.Agents {
		// Unthrottled clients, each for ClustersPerAgentClient
		// clusters: a Cilium agent has one client (with its own
		// limiter) per remote cluster.
		var clients []kvstore.BackendOperations
		for range (e.cfg.Clusters + per - 1) / per {
			c, err := e.connect(ctx, e.local.Endpoint(), 100000, alog)
			if err != nil {
				return fmt.Errorf("connecting an agent: %w", err)
			}
			clients = append(clients, c)
		}
		e.agents = append(e.agents, newAgent(clients, per, &e.lat))
	}
	e.bg.Go(func() { labelled(ctx, "harness", e.sample) })

	e.progress("bootstrap: starting the mesh and %d agents", e.cfg.Agents)
	start := time.Now()
	e.bg.Go(func() { labelled(ctx, "mesh", func(ctx context.Context) { _ = e.mesh.Run(ctx, local) }) })
	for _, a := range e.agents {
		for i := range e.cfg.Clusters {
			labelled(ctx, "agents", func(ctx context.Context) { a.follow(ctx, af, i, &e.bg) })
		}
	}
	for {
		st := e.mesh.Status()
		if len(st.Clusters) == e.cfg.Clusters && st.Ready() {
			break
		}
		if time.Since(start) > e.cfg.ConvergeTimeout {
			return fmt.Errorf("meshscale: the mesh did not sync every cluster within %s", e.cfg.ConvergeTimeout)
		}
		if err := backoff.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	res.Bootstrap = time.Since(start)
	res.Keys = len(e.truth.expected())
	res.KeysPerSec = float64(res.Keys) / res.Bootstrap.Seconds()
	e.progress("mesh synced %d keys in %s", res.Keys, res.Bootstrap.Round(time.Millisecond))
	d, m, s, x, ex := e.converge(ctx, e.cfg.ConvergeTimeout)
	if m+s+x > 0 {
		return fmt.Errorf("meshscale: agents did not converge after bootstrap: %d missing, %d stale, %d extra (%s)", m, s, x, ex)
	}
	res.AgentsBootstrap = res.Bootstrap + d
	e.progress("agents converged at %s", res.AgentsBootstrap.Round(time.Millisecond))
	return nil
}

// churn runs the per-cluster churn for d.
func (e *env) churn(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for prefix, spec := range map[string]struct {
		n   int
		qps float64
	}{nodesPrefix: {e.cfg.Nodes, e.cfg.NodeQPS}, idsPrefix: {e.cfg.Identities, e.cfg.IdentityQPS}, ipPrefix: {e.cfg.Endpoints, e.cfg.EndpointQPS}} {
		rate := spec.qps * float64(len(e.writers))
		if rate <= 0 {
			continue
		}
		wg.Go(func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					e.writers[rand.IntN(len(e.writers))].upsert(ctx, prefix, rand.IntN(spec.n), true)
				}
			}
		})
	}
	wg.Wait()
}

// converge waits until every agent's view equals the truth, or timeout; it
// returns how long it took and the worst agent's difference.
func (e *env) converge(ctx context.Context, timeout time.Duration) (time.Duration, int, int, int, string) {
	start, lastReport := time.Now(), time.Now()
	for {
		want := e.truth.expected()
		var m, s, x, worst int
		var ex string
		for i, a := range e.agents {
			am, as, ax, aex := diff(want, a.snapshot())
			if am+as+ax > m+s+x {
				m, s, x, ex, worst = am, as, ax, aex, i
			}
		}
		if m+s+x == 0 || time.Since(start) > timeout || ctx.Err() != nil {
			return time.Since(start), m, s, x, ex
		}
		if time.Since(lastReport) > 5*time.Second {
			lastReport = time.Now()
			e.progress("converging for %s: %d missing, %d stale, %d extra; e.g. %s", time.Since(start).Round(time.Second), m, s, x, e.explain(ctx, exampleKey(ex), worst))
		}
		_ = backoff.Sleep(ctx, e.convergePoll())
	}
}

// convergePoll is how often views are compared with the truth: each
// comparison copies and walks every key of every agent, so large runs
// compare less often (250ms per 50,000 keys) to keep the harness's CPU out
// of the figures.
func (e *env) convergePoll() time.Duration {
	keys := e.cfg.Clusters * (e.cfg.Nodes + e.cfg.Identities + e.cfg.Endpoints)
	return 250 * time.Millisecond * time.Duration(max(1, keys/50000))
}

// sample records the peaks of the sync queues and of the heap.
func (e *env) sample(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q := e.gauge("kvstore_sync_queue_size", true)
		runtime.ReadMemStats(&ms)
		e.peakMu.Lock()
		e.peak.queue = max(e.peak.queue, q)
		e.peak.heap = max(e.peak.heap, ms.HeapInuse)
		e.peakMu.Unlock()
	}
}

// gauge returns the max (or the sum) over the series of a metric.
func (e *env) gauge(name string, maxOf bool) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		return 0
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var x float64
			if g := m.GetGauge(); g != nil {
				x = g.GetValue()
			} else if c := m.GetCounter(); c != nil {
				x = c.GetValue()
			}
			if maxOf {
				v = max(v, x)
			} else {
				v += x
			}
		}
	}
	return v
}

func (e *env) collect(res *Result) {
	e.peakMu.Lock()
	res.SyncQueueMax, res.PeakHeap = e.peak.queue, e.peak.heap
	e.peakMu.Unlock()
	res.SyncErrors = e.gauge("kvstore_sync_errors_total", false)
	for _, c := range e.mesh.Status().Clusters {
		res.Reconnections += c.Failures
	}
	res.Warnings = e.meshLog.warnings.Load() + e.agentLog.warnings.Load()
	res.WarningSamples = append(append([]string{}, e.meshLog.samples...), e.agentLog.samples...)
	res.Relists = e.meshLog.relists.Load() + e.agentLog.relists.Load()
}

func (e *env) teardown(stop context.CancelFunc) {
	stop()
	e.bg.Wait()
	for _, c := range e.clients {
		c.Close()
	}
	var errs []error
	for _, s := range append(e.remotes, e.local) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		e.progress("closing servers: %v", err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// exampleKey is the key of a diff's example ("stale <key>").
func exampleKey(ex string) string {
	if i := strings.IndexByte(ex, ' '); i >= 0 {
		return ex[i+1:]
	}
	return ex
}

// labelled runs fn with the pprof label role=<role>, which the goroutines it
// starts inherit: a CPU profile of the run (-cpuprofile) splits by role with
// `go tool pprof -tags` or -tagfocus=role=etcd (etcd servers), mesh,
// agents, writers or harness. Goroutines started elsewhere (client
// connections dialled from the main goroutine) carry no label.
func labelled(ctx context.Context, role string, fn func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("role", role), fn)
}

// startServer starts an embedded etcd labelled role=etcd.
func startServer(ctx context.Context, dir string) (s *hivetest.Server, err error) {
	labelled(ctx, "etcd", func(ctx context.Context) { s, err = hivetest.NewServer(ctx, dir) })
	return s, err
}

// restartServer restarts s labelled role=etcd.
func restartServer(ctx context.Context, s *hivetest.Server) (err error) {
	labelled(ctx, "etcd", func(ctx context.Context) { err = s.Restart(ctx) })
	return err
}
