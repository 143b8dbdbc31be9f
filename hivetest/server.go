package hivetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Server is one embedded etcd member. Its ports and data directory are fixed
// at creation so that Stop/Kill followed by Restart behaves like a real
// process restart. The methods are safe for concurrent use.
type Server struct {
	cfg            serverConfig
	name           string
	dataDir        string
	ownsDataDir    bool // NewServer made the directory, Close removes it
	clientPort     int
	peerPort       int
	advertisePeer  string // host:port peers dial (WithPeerProxy); "" = the peer port
	initialCluster string
	clusterToken   string
	joinExisting   bool        // a member added to a running cluster (ReplaceMember)
	clientTLS      *tls.Config // template for clients; nil without TLS
	logger         *zap.Logger

	// opMu serialises Stop, Kill, Restart and Close, which can take seconds;
	// mu only guards the fields below so Running never waits for them.
	opMu     sync.Mutex
	mu       sync.Mutex
	etcd     *embed.Etcd
	calls    *callTracker
	memberID uint64
	closed   bool
}

var errClosed = errors.New("hivetest: server is closed")

// StartServer starts a single-member etcd on free loopback ports, waits until
// it serves clients and stops it when the test ends. It fails the test if the
// member is not ready within the start timeout (30 s by default).
func StartServer(tb testing.TB, opts ...ServerOption) *Server {
	tb.Helper()
	cfg := buildConfig(opts)
	if cfg.dataDir == "" {
		// A child of TempDir, so etcd creates it with the 0700 mode it wants.
		cfg.dataDir = filepath.Join(tb.TempDir(), "etcd")
	}
	ctx, cancel := context.WithTimeout(tb.Context(), cfg.startTimeout)
	defer cancel()
	s, err := startSingle(ctx, cfg, cfg.dataDir, false)
	if err != nil {
		tb.Fatalf("hivetest: start etcd: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("hivetest: close etcd: %v", err)
		}
	})
	return s
}

// NewServer is StartServer for code without a testing.TB, such as the demo
// binary or TestMain. An empty dataDir means WithDataDir, or else a temporary
// directory that Close removes. ctx bounds the start (the start timeout
// applies too). The caller must Close the server.
func NewServer(ctx context.Context, dataDir string, opts ...ServerOption) (*Server, error) {
	cfg := buildConfig(opts)
	if dataDir == "" {
		dataDir = cfg.dataDir
	}
	owns := false
	if dataDir == "" {
		parent, err := os.MkdirTemp("", "hivetest-etcd-")
		if err != nil {
			return nil, fmt.Errorf("hivetest: data dir: %w", err)
		}
		dataDir, owns = filepath.Join(parent, "etcd"), true
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.startTimeout)
	defer cancel()
	s, err := startSingle(ctx, cfg, dataDir, owns)
	if err != nil && owns {
		_ = os.RemoveAll(filepath.Dir(dataDir))
	}
	return s, err
}

// startSingle starts a one-member cluster, choosing new ports when another
// process took the chosen ones before etcd could bind them.
func startSingle(ctx context.Context, cfg serverConfig, dataDir string, ownsDir bool) (*Server, error) {
	cfg.tickMs, cfg.electionMs = cfg.timing(defaultTickMs, defaultElectionMs)
	name := "hivetest-" + randomHex(4)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		ports, err := reservePorts(2)
		if err != nil {
			return nil, err
		}
		s, err := newMember(cfg, name, dataDir, ports[0], ports[1])
		if err != nil {
			releasePorts(ports...)
			return nil, err
		}
		s.ownsDataDir = ownsDir
		pu := s.peerURL()
		s.initialCluster = name + "=" + pu.String()
		s.clusterToken = name
		if err = s.startLocked(ctx); err == nil {
			if err = s.afterFirstStart(ctx); err != nil {
				_ = s.Close()
				return nil, err
			}
			return s, nil
		}
		releasePorts(ports...)
		if !isAddrInUse(err) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("hivetest: no usable ports: %w", lastErr)
}

// newMember prepares a member without starting it.
func newMember(cfg serverConfig, name, dataDir string, clientPort, peerPort int) (*Server, error) {
	lg, err := newEtcdLogger(cfg.logLevel)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, name: name, dataDir: dataDir, clientPort: clientPort, peerPort: peerPort,
		logger: lg.Named(name)}
	if cfg.certs != nil {
		tlsCfg, err := cfg.certs.clientTLSConfig(cfg.certs.ClientCertFile, cfg.certs.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		s.clientTLS = tlsCfg
	}
	return s, nil
}

// afterFirstStart turns auth on and checks that a real client gets through,
// which ReadyNotify alone does not prove for TLS or auth setups.
func (s *Server) afterFirstStart(ctx context.Context) error {
	if s.cfg.auth {
		if err := s.enableAuth(ctx); err != nil {
			return err
		}
	}
	if s.cfg.auth || s.cfg.certs != nil {
		return s.probe(ctx)
	}
	return nil
}

func (s *Server) clientURL() url.URL {
	scheme := "http"
	if s.cfg.certs != nil {
		scheme = "https"
	}
	return url.URL{Scheme: scheme, Host: "127.0.0.1:" + strconv.Itoa(s.clientPort)}
}

func (s *Server) peerURL() url.URL {
	return url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(s.peerPort)}
}

// advertisedPeerURL is the URL peers use to reach s: its peer port, or the
// proxy WithPeerProxy put in front of it.
func (s *Server) advertisedPeerURL() url.URL {
	if s.advertisePeer != "" {
		return url.URL{Scheme: "http", Host: s.advertisePeer}
	}
	return s.peerURL()
}

// embedConfig builds a fresh etcd configuration for every start, because
// embed.StartEtcd keeps state (the logger) in the Config it is given.
func (s *Server) embedConfig(calls *callTracker) *embed.Config {
	c := embed.NewConfig()
	c.Name = s.name
	c.Dir = s.dataDir
	c.UnsafeNoFsync = true
	c.TickMs, c.ElectionMs = s.cfg.tickMs, s.cfg.electionMs
	c.MaxRequestBytes = s.cfg.maxRequestBytes
	c.BcryptCost = 4 // bcrypt.MinCost: logins in tests need no brute-force resistance
	c.EnableGRPCGateway = false
	c.EnablePprof = false
	c.ListenMetricsUrls = nil

	cu, pu := s.clientURL(), s.peerURL()
	c.ListenClientUrls, c.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	c.ListenPeerUrls, c.AdvertisePeerUrls = []url.URL{pu}, []url.URL{s.advertisedPeerURL()}
	c.InitialCluster = s.initialCluster
	c.InitialClusterToken = s.clusterToken
	// Ignored by etcd once the data dir holds a member, so restarts rejoin.
	c.ClusterState = embed.ClusterStateFlagNew
	if s.joinExisting {
		c.ClusterState = embed.ClusterStateFlagExisting
	}

	c.Logger = "zap"
	c.LogOutputs = []string{"stderr"}
	c.LogLevel = "error"
	c.ZapLoggerBuilder = embed.NewZapLoggerBuilder(s.logger)
	if certs := s.cfg.certs; certs != nil {
		c.ClientTLSInfo = transport.TLSInfo{
			CertFile:       certs.ServerCertFile,
			KeyFile:        certs.ServerKeyFile,
			TrustedCAFile:  certs.CAFile,
			ClientCertAuth: true,
		}
	}
	c.GRPCAdditionalServerOptions = calls.serverOptions()
	return c
}

// startLocked launches etcd once and waits for it to serve. The caller holds
// opMu or owns s exclusively.
func (s *Server) startLocked(ctx context.Context) error {
	calls := newCallTracker()
	e, err := embed.StartEtcd(s.embedConfig(calls))
	if err != nil {
		return fmt.Errorf("hivetest: start %s: %w", s.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err = <-e.Err():
		err = fmt.Errorf("hivetest: %s failed while starting: %v", s.name, err)
	case <-e.Server.StopNotify():
		err = fmt.Errorf("hivetest: %s stopped while starting", s.name)
	case <-ctx.Done():
		err = fmt.Errorf("hivetest: %s not ready: %w", s.name, ctx.Err())
	}
	if err != nil {
		shutdown(e, calls, true)
		return err
	}
	s.mu.Lock()
	s.etcd, s.calls = e, calls
	s.memberID = uint64(e.Server.MemberID())
	s.mu.Unlock()
	return nil
}

// shutdown stops e. A hard stop skips leadership transfer; it is also the
// only safe way to close a member that never became ready, because
// embed.Etcd.Close waits for client serving to begin before stopping raft.
func shutdown(e *embed.Etcd, calls *callTracker, hard bool) {
	calls.stop()
	if hard {
		e.Server.HardStop()
	}
	e.Close()
}

// Endpoints returns the client URLs, e.g. "http://127.0.0.1:34567".
func (s *Server) Endpoints() []string {
	u := s.clientURL()
	return []string{u.String()}
}

// Endpoint returns the first client URL.
func (s *Server) Endpoint() string { return s.Endpoints()[0] }

// Name returns the etcd member name.
func (s *Server) Name() string { return s.name }

// DataDir returns the member's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// Running reports whether the member is currently serving.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etcd != nil
}

// Stop shuts the member down gracefully (a leader hands over leadership
// first) and keeps its data and ports for Restart. In-flight client calls end
// with Unavailable, as after a crash. Stopping a stopped member is a no-op.
func (s *Server) Stop() error { return s.halt(false) }

// Kill stops the member abruptly: raft stops without leadership transfer, so
// a cluster has to elect a new leader by timeout. Data and ports are kept.
func (s *Server) Kill() error { return s.halt(true) }

func (s *Server) halt(hard bool) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return s.haltLocked(hard)
}

// haltLocked stops the member; the caller holds opMu.
func (s *Server) haltLocked(hard bool) error {
	s.mu.Lock()
	e, calls := s.etcd, s.calls
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	shutdown(e, calls, hard)
	s.mu.Lock()
	s.etcd, s.calls = nil, nil
	s.mu.Unlock()
	return nil
}

// Restart starts a stopped member again on the same data directory and
// ports and waits until it serves (bounded by ctx and the start timeout).
func (s *Server) Restart(ctx context.Context) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	closed, running := s.closed, s.etcd != nil
	s.mu.Unlock()
	switch {
	case closed:
		return errClosed
	case running:
		return fmt.Errorf("hivetest: %s is already running", s.name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.startTimeout)
	defer cancel()
	for {
		err := s.startLocked(ctx)
		if err == nil {
			break
		}
		// The port may still be held briefly by a closing socket.
		if !isAddrInUse(err) || !sleepCtx(ctx, 100*time.Millisecond) {
			return err
		}
	}
	if s.cfg.auth || s.cfg.certs != nil {
		return s.probe(ctx)
	}
	return nil
}

// Close stops the member for good, frees its ports and removes a data
// directory that NewServer created. It is idempotent.
func (s *Server) Close() error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	err := s.haltLocked(false)
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return err
	}
	releasePorts(s.clientPort, s.peerPort)
	if s.ownsDataDir {
		err = errors.Join(err, os.RemoveAll(filepath.Dir(s.dataDir)))
	}
	return err
}

// sleepCtx waits d or until ctx ends; it reports whether the full wait passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// id returns the raft member ID, known after the first start.
func (s *Server) id() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memberID
}
