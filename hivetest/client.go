package hivetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

const (
	rootUser = "root"

	// clientDialTimeout bounds the token fetch in clientv3.New; connecting
	// itself is lazy in clientv3 v3.7.
	clientDialTimeout = 5 * time.Second
)

// ClientConfig returns what Client uses: the member's endpoint, TLS with the
// root client certificate when WithTLS is set, root credentials when WithAuth
// is set, a silent logger, and fast gRPC reconnects so that clients recover
// within ~1 s of a Restart instead of gRPC's default backoff of up to 2 min.
func (s *Server) ClientConfig() clientv3.Config {
	return s.clientConfig(s.Endpoints(), true)
}

func (s *Server) clientConfig(endpoints []string, withCreds bool) clientv3.Config {
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: clientDialTimeout,
		Logger:      zap.NewNop(),
		DialOptions: FastReconnectDialOptions(),
	}
	if s.clientTLS != nil {
		cfg.TLS = s.clientTLS.Clone()
	}
	if withCreds && s.cfg.auth {
		cfg.Username, cfg.Password = rootUser, s.cfg.rootPassword
	}
	return cfg
}

// FastReconnectDialOptions are gRPC dial options that retry a lost
// connection every 100 ms to 1 s. Tests that restart members should add them
// to the clientv3.Config of clients they build themselves.
func FastReconnectDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   time.Second,
		},
		MinConnectTimeout: 2 * time.Second,
	})}
}

// Client returns a raw clientv3 client with full (root) access for test setup
// and fault injection. It is closed when the test ends. With WithAuth the
// member must be running, because clientv3 logs in while it is created.
func (s *Server) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	return newTestClient(tb, s.ClientConfig())
}

func newTestClient(tb testing.TB, cfg clientv3.Config) *clientv3.Client {
	tb.Helper()
	cli, err := clientv3.New(cfg)
	if err != nil {
		tb.Fatalf("hivetest: new etcd client for %v: %v", cfg.Endpoints, err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	return cli
}

// enableAuth creates user root and switches authentication on. A data dir
// that already has auth enabled (a reused WithDataDir) is left alone.
func (s *Server) enableAuth(ctx context.Context) error {
	return enableAuth(ctx, s.clientConfig(s.Endpoints(), false), s.cfg.rootPassword)
}

func enableAuth(ctx context.Context, cfg clientv3.Config, password string) error {
	cli, err := clientv3.New(cfg)
	if err != nil {
		return fmt.Errorf("hivetest: enable auth: %w", err)
	}
	defer func() { _ = cli.Close() }()
	if st, err := cli.AuthStatus(ctx); err == nil && st.Enabled {
		return nil
	}
	if _, err := cli.UserAdd(ctx, rootUser, password); err != nil {
		if !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
			return fmt.Errorf("hivetest: add user root: %w", err)
		}
		if _, err := cli.UserChangePassword(ctx, rootUser, password); err != nil {
			return fmt.Errorf("hivetest: set root password: %w", err)
		}
	}
	if _, err := cli.UserGrantRole(ctx, rootUser, rootUser); err != nil {
		return fmt.Errorf("hivetest: grant role root: %w", err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("hivetest: enable auth: %w", err)
	}
	return nil
}

// probe waits until a client with the configured credentials can read,
// proving that TLS and auth work end to end.
func (s *Server) probe(ctx context.Context) error {
	return probe(ctx, s.ClientConfig())
}

func probe(ctx context.Context, cfg clientv3.Config) error {
	var lastErr error
	for {
		if lastErr = probeOnce(ctx, cfg); lastErr == nil {
			return nil
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return fmt.Errorf("hivetest: %v not serving: %w", cfg.Endpoints, lastErr)
		}
	}
}

func probeOnce(ctx context.Context, cfg clientv3.Config) error {
	cfg.Context = ctx
	cli, err := clientv3.New(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = cli.Get(ctx, "hivetest/probe")
	return err
}

// randomHex returns 2n random hex digits for names that must not collide
// between parallel tests.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
