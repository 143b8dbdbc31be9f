package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/observers"
	"github.com/hivekv/kvstore/client/internal/ratelimit"
)

// configFileRetryInterval is how often a missing etcd config, CA or client
// certificate file is looked for again: in Kubernetes secrets are often
// mounted after the process starts.
var configFileRetryInterval = 5 * time.Second

// etcdClient is the etcd backend. Its state is split by concern: this file
// holds the connection and lifetime, ops.go the plain operations,
// locked.go the fenced ones, lock.go locks, watch.go
// ListAndWatch, status.go connectivity and health, users.go user
// management.
//
// Lifetime: newEtcdClient returns at once. A background goroutine builds the
// etcd client (waiting for missing files) and establishes the first lock
// session; the error channel handed to NewClient's caller is closed when
// that succeeds, or receives the error first. Close cancels everything and
// waits for the goroutines.
type etcdClient struct {
	opts  etcdOptions
	extra *kvstore.ExtraOptions
	log   logrus.FieldLogger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cli     atomic.Pointer[clientv3.Client] // set once the client is built
	cliSet  chan struct{}                   // closed when cli is set
	limiter *ratelimit.Limiter

	leases     *leaseManager // data keys written with lease=true
	lockLeases *leaseManager // locks and the connection session
	observers  observers.Set

	// maxRequestBytes is the server's request size limit we check writes
	// against before sending them.
	maxRequestBytes int

	// firstSession is closed once the first lock session was established
	// or failed for good (then sessionErr says why).
	firstSession chan struct{}
	sessionErr   error

	metrics *opMetrics // nil: metrics disabled

	lock   lockState   // lock.go
	status statusState // status.go

	watchStreams watchStreams // watch_liveness.go

	// spawnMu orders spawn against Close: once closing is set no goroutine
	// joins wg, so Close's wg.Wait cannot race a late wg.Add.
	spawnMu sync.Mutex
	closing bool

	closeOnce sync.Once
}

// defaultMaxRequestBytes is etcd's default --max-request-bytes.
const defaultMaxRequestBytes = 1536 * 1024

// New creates an etcd client configured by opts (the --kvstore-opt map) and
// extra (may be nil), with the contract of client.NewClient: it returns at
// once; the channel is closed without a value once the first lock session is
// established, or receives one error and is then closed. An invalid
// configuration gives a nil client and the error naming the culprit;
// otherwise the caller owns the client and must Close it, even after an
// error. The client also implements kvstore.BackendOperationsUserMgmt.
func New(ctx context.Context, opts map[string]string, extra *kvstore.ExtraOptions) (kvstore.BackendOperations, chan error) {
	if err := kvstore.ValidateBackendOptions(kvstore.EtcdBackendName, opts); err != nil {
		ch := make(chan error, 1)
		ch <- err
		close(ch)
		return nil, ch
	}
	c, errCh := newEtcdClient(ctx, opts, extra)
	if c == nil {
		return nil, errCh
	}
	return c, errCh
}

func newEtcdClient(ctx context.Context, opts map[string]string, extra *kvstore.ExtraOptions) (*etcdClient, chan error) {
	errCh := make(chan error, 1)
	o, err := parseEtcdOptions(opts)
	if err != nil {
		errCh <- err
		close(errCh)
		return nil, errCh
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &etcdClient{
		opts:            o,
		extra:           extra,
		log:             extra.Log("kvstore").WithField("backend", kvstore.EtcdBackendName),
		ctx:             cctx,
		cancel:          cancel,
		cliSet:          make(chan struct{}),
		firstSession:    make(chan struct{}),
		maxRequestBytes: defaultMaxRequestBytes,
		metrics:         newOpMetrics(extra),
	}
	// Burst and the inflight bound follow etcd.qps even during bootstrap;
	// only the rate starts at etcd.bootstrapQps (SetQPS keeps the burst).
	c.limiter = ratelimit.New(o.qps, o.maxInflight)
	if o.bootstrapQPS > 0 && extra != nil && extra.BootstrapComplete != nil {
		c.limiter.SetQPS(o.bootstrapQPS)
	}
	c.initLock()
	c.initStatus()

	c.spawn(func() { c.connect(ctx, errCh) })
	c.startBootstrapSwitch()
	return c, errCh
}

// connect builds the etcd client and establishes the first lock session,
// bounded by the connectivity timeout, the caller's ctx and Close.
func (c *etcdClient) connect(ctx context.Context, errCh chan<- error) {
	defer close(errCh)
	timeout := c.extra.EffectiveConnectivityTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()

	warnCtx, stopWarning := context.WithCancel(ctx)
	warned := make(chan struct{})
	go func() {
		defer close(warned)
		c.warnWhileConnecting(warnCtx)
	}()
	// The attempt has the whole timeout; in its tail the endpoints are
	// probed alongside, so that a failure at the deadline names its cause
	// without waiting beyond it (status_connect.go).
	probeCtx, stopProbe := context.WithCancel(ctx)
	probed := make(chan string, 1)
	go func() { probed <- c.probeBeforeDeadline(probeCtx, timeout) }()
	probe := sync.OnceValue(func() string { return <-probed })
	defer func() {
		stopProbe()
		probe()
	}()

	err := c.dial(ctx)
	if err == nil {
		err = c.establishSession(ctx)
	}
	stopWarning()
	<-warned
	if err != nil {
		err = c.explainConnectError(err, timeout, probe)
		c.sessionErr = err
		close(c.firstSession)
		c.log.WithError(err).Error("Unable to connect to etcd")
		c.status.connectFailed(err)
		errCh <- err
		return
	}
	close(c.firstSession)
	c.log.WithField("endpoints", c.endpointsString()).Info("Connected to etcd")
	c.onConnected()
}

// dial builds the clientv3 client, waiting for configuration files that do
// not exist yet.
func (c *etcdClient) dial(ctx context.Context) error {
	for {
		cfg, err := buildClientConfig(c.opts)
		if err == nil {
			cfg.Context = c.ctx
			cfg.DialOptions = append(cfg.DialOptions, bufferPoolOptions()...)
			if c.extra != nil {
				cfg.DialOptions = append(cfg.DialOptions, c.extra.DialOption...)
			}
			boundDialTimeout(ctx, &cfg)
			cli, err := clientv3.New(cfg)
			if err != nil {
				retry, derr := c.dialFailed(ctx, cfg, err)
				if !retry {
					return derr
				}
				continue
			}
			// Leases first: an operation that sees the client must see
			// its lease managers too.
			c.initLeases(cli)
			c.cli.Store(cli)
			close(c.cliSet)
			return nil
		}
		if !fileNotReady(err) {
			return err
		}
		c.log.WithError(err).Info("Waiting for all etcd configuration files to be available")
		select {
		case <-time.After(configFileRetryInterval):
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w (%w)", err, ctx.Err())
		}
	}
}

func (c *etcdClient) initLeases(cli *clientv3.Client) {
	c.leases = newLeaseManager(c.ctx, cli, c.extra.EffectiveLeaseTTL(), kvstore.DefaultMaxKeysPerLease,
		c.log.WithField("leases", "data"), c.observers.Notify)
	c.lockLeases = newLeaseManager(c.ctx, cli, c.extra.EffectiveLockLeaseTTL(), kvstore.DefaultMaxKeysPerLease,
		c.log.WithField("leases", "lock"), nil)
	c.leases.confirm = true
	c.leases.onGranted = c.status.proveQuorum
	c.lockLeases.onGranted = c.status.proveQuorum
}

// establishSession grants the first data lease: it proves the server
// answers, that the credentials are accepted and that it can commit a write
// (a grant goes through raft). It is the data lease, not a lock lease,
// because that is the one almost every client needs (its leased keys go on
// it): a client that never locks never grants a lock lease nor keeps one
// alive (one keepalive every 8 s per client, a fleet's steady load). The
// lock lease is granted with the first lock.
func (c *etcdClient) establishSession(ctx context.Context) error {
	id, err := c.leases.Reserve(ctx)
	if err != nil {
		return fmt.Errorf("establishing the etcd session at %s: %w", c.endpointsString(), err)
	}
	c.log.WithField("lease", leaseHex(id)).Debug("Initial etcd session established")
	return nil
}

// startBootstrapSwitch raises the rate limit from etcd.bootstrapQps to
// etcd.qps once the consumer closes BootstrapComplete.
func (c *etcdClient) startBootstrapSwitch() {
	if c.opts.bootstrapQPS <= 0 || c.extra == nil || c.extra.BootstrapComplete == nil {
		return
	}
	c.log.WithField("qps", c.opts.bootstrapQPS).Info("Using the bootstrap rate limit")
	c.spawn(func() {
		select {
		case <-c.extra.BootstrapComplete:
			c.limiter.SetQPS(c.opts.qps)
			c.log.WithField("qps", c.opts.qps).Info("Bootstrap complete, using the regular rate limit")
		case <-c.ctx.Done():
		}
	})
}

// client returns the etcd client, waiting for it to be built.
func (c *etcdClient) client(ctx context.Context) (*clientv3.Client, error) {
	if cli := c.cli.Load(); cli != nil {
		if c.ctx.Err() != nil {
			return nil, kvstore.ErrClientClosed
		}
		return cli, nil
	}
	select {
	case <-c.cliSet:
		return c.client(ctx)
	case <-c.firstSession:
		if cli := c.cli.Load(); cli != nil {
			return c.client(ctx)
		}
		return nil, fmt.Errorf("not connected: %w", c.sessionErr)
	case <-c.ctx.Done():
		return nil, kvstore.ErrClientClosed
	case <-ctx.Done():
		return nil, kvstore.Hint(ctx.Err())
	}
}

// begin waits for the client and for a rate-limit slot. Only do (request.go)
// calls it, and do releases the slot: no other code pairs the two by hand.
func (c *etcdClient) begin(ctx context.Context) (*clientv3.Client, error) {
	cli, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.limiter.Acquire(ctx); err != nil {
		return nil, kvstore.Hint(err)
	}
	return cli, nil
}

func (c *etcdClient) endpointsString() string {
	if cli := c.cli.Load(); cli != nil {
		return strings.Join(cli.Endpoints(), ",")
	}
	if len(c.opts.address) > 0 {
		return strings.Join(c.opts.address, ",")
	}
	return "the endpoints of " + c.opts.configPath
}

// Close implements kvstore.BackendOperations.
func (c *etcdClient) Close() {
	c.closeOnce.Do(func() {
		c.spawnMu.Lock()
		c.closing = true
		c.spawnMu.Unlock()
		c.cancel()
		c.closeLock()
		c.wg.Wait()
		c.closeStatus()
		if c.lockLeases != nil {
			c.lockLeases.RevokeAll()
		}
		if cli := c.cli.Load(); cli != nil {
			if err := cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
				c.log.WithError(err).Warning("Failed to close etcd client")
			}
		}
		if c.leases != nil {
			c.leases.Wait()
			c.lockLeases.Wait()
		}
	})
}

// spawn runs every fn on its own goroutine tracked by c.wg, all or none: it
// reports false, starting nothing, once Close has begun.
func (c *etcdClient) spawn(fns ...func()) bool {
	c.spawnMu.Lock()
	defer c.spawnMu.Unlock()
	if c.closing {
		return false
	}
	c.wg.Add(len(fns))
	for _, fn := range fns {
		go func() {
			defer c.wg.Done()
			fn()
		}()
	}
	return true
}

func leaseHex(id clientv3.LeaseID) string { return fmt.Sprintf("%x", int64(id)) }
