package hivetest

import (
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Defaults chosen for test speed; see the With* options to change them.
const (
	// defaultStartTimeout bounds how long a start or restart may take before
	// the caller gets an error. A healthy member is ready in well under a
	// second, so 30 s only trips on real trouble.
	defaultStartTimeout = 30 * time.Second

	// Single members keep etcd's own timing: there is no election to wait for.
	defaultTickMs     = 100
	defaultElectionMs = 1000

	// Clusters use a shorter election timeout so that losing the leader in a
	// fault test costs half a second rather than several.
	clusterTickMs     = 50
	clusterElectionMs = 500

	// logLevelEnv overrides the log level of every member, so that a failing
	// test can be rerun with etcd's logs without editing code.
	logLevelEnv = "HIVETEST_ETCD_LOG_LEVEL"
)

// serverConfig collects what the ServerOptions set.
type serverConfig struct {
	certs           *Certs
	auth            bool
	rootPassword    string
	dataDir         string
	logLevel        string
	maxRequestBytes uint
	tickMs          uint
	electionMs      uint
	startTimeout    time.Duration
	peerAdvertise   func(peerAddr string) (string, error)
}

// ServerOption configures StartServer, NewServer and StartCluster.
type ServerOption func(*serverConfig)

func buildConfig(opts []ServerOption) serverConfig {
	cfg := serverConfig{
		logLevel:        "error",
		maxRequestBytes: embed.DefaultMaxRequestBytes,
		startTimeout:    defaultStartTimeout,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if lvl := os.Getenv(logLevelEnv); lvl != "" {
		cfg.logLevel = lvl
	}
	return cfg
}

// WithTLS serves clients over https with c's server certificate and requires
// client certificates signed by c's CA, like a hardened production setup.
// Peer traffic between cluster members stays plain http on loopback.
func WithTLS(c *Certs) ServerOption {
	return func(cfg *serverConfig) { cfg.certs = c }
}

// WithAuth enables etcd authentication once the member is up: user root
// (role root) is created with rootPassword and auth is switched on. Client and
// ClientConfig then log in as root. With WithTLS, a client certificate whose
// CN names a user authenticates that user without a password.
func WithAuth(rootPassword string) ServerOption {
	return func(cfg *serverConfig) {
		cfg.auth = true
		cfg.rootPassword = rootPassword
	}
}

// WithDataDir sets the data directory (for StartCluster: the parent of one
// directory per member). The default is a fresh temporary directory, so only
// tests that reopen existing data need this.
func WithDataDir(dir string) ServerOption {
	return func(cfg *serverConfig) { cfg.dataDir = dir }
}

// WithLogLevel sets etcd's zap log level ("debug", "info", "warn", "error").
// The default "error" keeps go test output readable; "none" silences etcd
// completely. The HIVETEST_ETCD_LOG_LEVEL environment variable overrides it.
func WithLogLevel(level string) ServerOption {
	return func(cfg *serverConfig) { cfg.logLevel = level }
}

// WithMaxRequestBytes changes the server's request size limit (etcd's default
// is 1.5 MiB), for tests of oversized values.
func WithMaxRequestBytes(n uint) ServerOption {
	return func(cfg *serverConfig) { cfg.maxRequestBytes = n }
}

// WithElectionTiming sets the raft heartbeat and election timeout. etcd
// requires election >= 5*heartbeat. Zero values keep the defaults (100ms/1s
// for a single member, 50ms/500ms for clusters).
func WithElectionTiming(heartbeat, election time.Duration) ServerOption {
	return func(cfg *serverConfig) {
		cfg.tickMs = uint(heartbeat / time.Millisecond)
		cfg.electionMs = uint(election / time.Millisecond)
	}
}

// WithPeerProxy makes every cluster member advertise, to its peers, the
// address route returns for its peer listen address ("127.0.0.1:port")
// instead of that address itself: a proxy in front of the member's peer
// port, so that a fault kit can delay, drop or blackhole what its peers
// send it while its clients still reach it. route is called once per
// member when the cluster is created (again on a retry with fresh ports).
func WithPeerProxy(route func(peerAddr string) (advertise string, err error)) ServerOption {
	return func(cfg *serverConfig) { cfg.peerAdvertise = route }
}

// WithStartTimeout bounds each start and restart (default 30 s), so a member
// that cannot become ready fails the test instead of hanging it.
func WithStartTimeout(d time.Duration) ServerOption {
	return func(cfg *serverConfig) {
		if d > 0 {
			cfg.startTimeout = d
		}
	}
}

// timing returns the raft timing to use, falling back to the given defaults.
func (cfg serverConfig) timing(tickMs, electionMs uint) (uint, uint) {
	if cfg.tickMs != 0 {
		tickMs = cfg.tickMs
	}
	if cfg.electionMs != 0 {
		electionMs = cfg.electionMs
	}
	return tickMs, electionMs
}
