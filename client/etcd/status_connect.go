package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hivekv/kvstore"
)

// A failed initial connection must say what to fix. gRPC mostly reports
// "context deadline exceeded", whatever went wrong underneath, so the tail
// of the connectivity timeout is kept to probe the endpoints ourselves (TCP,
// then TLS as the client would do it) and name the cause.

// diagnosisBudget is the tail of the connectivity timeout in which the
// probe runs alongside the connection attempt: a fifth, at most two seconds.
func diagnosisBudget(timeout time.Duration) time.Duration {
	return min(timeout/5, 2*time.Second)
}

// probeBeforeDeadline probes the endpoints in the last diagnosisBudget of
// the connection budget ctx (of length timeout), and returns the cause it
// found ("" if none, or if ctx ended before the probe began).
func (c *etcdClient) probeBeforeDeadline(ctx context.Context, timeout time.Duration) string {
	t := time.NewTimer(timeout - diagnosisBudget(timeout))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ""
	case <-t.C:
	}
	return c.probeCause(ctx)
}

// explainConnectError turns the error of a failed initial connection into
// the one NewClient's caller sees. timeout is --kvstore-connectivity-timeout,
// the whole wait; probe returns the cause found by probing the endpoints
// before the deadline (see probeBeforeDeadline).
func (c *etcdClient) explainConnectError(err error, timeout time.Duration, probe func() string) error {
	eps := c.endpointsString()
	switch {
	case c.ctx.Err() != nil:
		return fmt.Errorf("connecting to etcd: %w", kvstore.ErrClientClosed)
	case errors.Is(err, kvstore.ErrInvalidConfig), errors.Is(err, kvstore.ErrInvalidOption):
		return err // names the file and key already
	case isAuthError(err):
		return fmt.Errorf("%w: etcd at %s refused the credentials: check username/password%s: %v",
			kvstore.ErrInvalidConfig, eps, c.inConfigFile(), err)
	case fileNotReady(err):
		return fmt.Errorf("%w: etcd configuration still incomplete after %s (--kvstore-connectivity-timeout): "+
			"check that the file exists, is mounted and is not empty: %v", kvstore.ErrClientTimeout, timeout, err)
	case !errors.Is(err, context.DeadlineExceeded):
		return err
	}
	cause := describeConnError(err)
	if cause == "" {
		cause = probe()
	}
	if cause == "" {
		cause = "etcd accepted connections but did not grant a session: " +
			"check that the cluster has quorum and that the credentials are right"
	}
	return fmt.Errorf("%w: could not connect to etcd at %s within %s (--kvstore-connectivity-timeout): %s: %v",
		kvstore.ErrClientTimeout, eps, timeout, cause, err)
}

func (c *etcdClient) inConfigFile() string {
	if c.opts.configPath == "" {
		return ""
	}
	return " in " + c.opts.configPath
}

// isAuthError reports whether the server refused the credentials.
func isAuthError(err error) bool {
	return errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrGRPCAuthFailed) ||
		errors.Is(err, rpctypes.ErrInvalidAuthToken) || errors.Is(err, rpctypes.ErrGRPCInvalidAuthToken) ||
		strings.Contains(err.Error(), "authentication failed")
}

// describeConnError names the likely cause and fix of a connection error
// from its text (gRPC flattens transport errors into strings), or returns
// "" when the text says nothing specific.
func describeConnError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("certificate signed by unknown authority", "failed to verify certificate"):
		if has("certificate is valid for", "doesn't contain any IP SANs") {
			return "the server certificate does not match the endpoint's host name: " +
				"use a host name or IP address listed in the server certificate"
		}
		return "the server certificate is not signed by a trusted CA: check trusted-ca-file"
	case has("certificate is valid for", "doesn't contain any IP SANs"):
		return "the server certificate does not match the endpoint's host name: " +
			"use a host name or IP address listed in the server certificate"
	case has("remote error: tls: certificate required"):
		return "the server requires a client certificate: check cert-file/key-file"
	case has("remote error: tls:"):
		return "the server refused the client certificate: check cert-file/key-file"
	case has("first record does not look like a TLS handshake", "server gave HTTP response", "probably expects TLS", "probably does not speak TLS"):
		return "the endpoint's scheme does not match the server: use https:// for a TLS server and http:// otherwise"
	case has("connection refused"):
		return "the connection was refused: check that etcd runs at this address and port"
	case has("no such host", "server misbehaving"):
		return "the host name does not resolve: check the endpoint address"
	case has("i/o timeout", "no route to host", "network is unreachable"):
		return "the endpoint does not answer: check the address and the network path (firewall)"
	}
	return ""
}

// probeCause dials every endpoint the way the client does and returns the
// first cause found, or "" when every endpoint connects (and, for TLS,
// accepts the client) fine.
func (c *etcdClient) probeCause(ctx context.Context) string {
	cfg, err := buildClientConfig(c.opts)
	if err != nil {
		return describeConnError(err)
	}
	causes := make([]string, len(cfg.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range cfg.Endpoints {
		wg.Go(func() {
			if err := probeTransport(ctx, cfg, ep); err != nil {
				if cause := describeConnError(err); cause != "" {
					causes[i] = fmt.Sprintf("%s: %s (%v)", ep, cause, err)
				} else {
					causes[i] = fmt.Sprintf("%s: %v", ep, err)
				}
			}
		})
	}
	wg.Wait()
	for _, cause := range causes {
		if cause != "" {
			return cause
		}
	}
	return ""
}

// probeTransport opens a TCP connection to ep and, for https endpoints,
// completes a TLS handshake with the client's TLS settings. With TLS 1.3 the
// server judges the client certificate after the client considers the
// handshake done, so it then reads briefly: a refused certificate arrives
// as an alert, an accepted one as the server's HTTP/2 preface.
func probeTransport(ctx context.Context, cfg clientv3.Config, ep string) error {
	host, secure, err := endpointHost(ep)
	if errors.Is(err, errUnixEndpoint) {
		return nil // not probed
	}
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if !secure {
		return probePlain(ctx, conn)
	}
	if err := probeSecure(ctx, conn, cfg, host); err != nil {
		return fmt.Errorf("TLS with %s: %w", host, err)
	}
	return nil
}

// probeSecure is the TLS part of probeTransport.
func probeSecure(ctx context.Context, conn net.Conn, cfg clientv3.Config, host string) error {
	serverName, _, _ := net.SplitHostPort(host)
	p, err := probeTLS(ctx, conn, cfg.TLS, serverName, []string{"h2"})
	if err != nil {
		return err
	}
	_ = p.conn.SetReadDeadline(probeDeadline(ctx))
	var b [1]byte
	if _, err := p.conn.Read(b[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil // silent, not refused
		}
		if p.certNotAccepted {
			// The alert alone says "bad certificate"; the CAs the server
			// named say whose certificate it wanted.
			return fmt.Errorf("%w (the client certificate is signed by none of the CAs the server accepts: %s)",
				err, strings.Join(p.acceptableCAs, "; "))
		}
		return err
	}
	return nil
}

// h2Preface opens every HTTP/2 connection without TLS.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// probePlain sends the HTTP/2 preface over a plain connection and looks at
// the first bytes of the answer: a plain etcd answers with HTTP/2 frames, a
// TLS server with an HTTP/1 error page or a TLS alert.
func probePlain(ctx context.Context, conn net.Conn) error {
	_ = conn.SetDeadline(probeDeadline(ctx))
	if _, err := conn.Write([]byte(h2Preface)); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(conn, buf, 5)
	switch got := buf[:n]; {
	case n == 0 && errors.Is(err, io.EOF):
		return errors.New("the server closed the connection on the HTTP/2 preface: it probably expects TLS")
	case bytes.HasPrefix(got, []byte("HTTP/1.")):
		return fmt.Errorf("server gave HTTP response to HTTP/2 preface: %q", firstLine(got))
	case len(got) > 0 && got[0] == 0x15: // TLS alert record
		return errors.New("server gave HTTP response: a TLS alert, the server expects TLS")
	}
	return nil
}

func firstLine(b []byte) string {
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// probeDeadline bounds one probe read: half a second, or less if ctx ends
// sooner.
func probeDeadline(ctx context.Context) time.Time {
	readBy := time.Now().Add(500 * time.Millisecond)
	if dl, ok := ctx.Deadline(); ok && dl.Before(readBy) {
		readBy = dl
	}
	return readBy
}

var errUnixEndpoint = errors.New("unix socket endpoint")

// endpointHost returns host:port of an etcd endpoint URL and whether it uses
// TLS. Endpoints without a scheme are plain host:port.
func endpointHost(ep string) (host string, secure bool, err error) {
	if !strings.Contains(ep, "://") {
		return ep, false, nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, fmt.Errorf("%w: endpoint %q: %v", kvstore.ErrInvalidConfig, ep, err)
	}
	if u.Scheme == "unix" || u.Scheme == "unixs" {
		return "", false, errUnixEndpoint
	}
	secure = u.Scheme == "https"
	host = u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "2379")
	}
	return host, secure, nil
}

// dialRetryInterval spaces clientv3.New attempts that failed for a passing
// reason (the server did not answer the authentication request in time).
const dialRetryInterval = 500 * time.Millisecond

// boundDialTimeout keeps clientv3.New within ctx. With credentials it
// authenticates before returning, bounded only by DialTimeout, which is
// unbounded when zero: a server that never answers would hold the client
// past the connectivity timeout and Close.
func boundDialTimeout(ctx context.Context, cfg *clientv3.Config) {
	dl, ok := ctx.Deadline()
	if !ok || cfg.Username == "" {
		return
	}
	left := max(time.Until(dl), time.Millisecond)
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = min(left, 5*time.Second)
	} else if cfg.DialTimeout > left {
		cfg.DialTimeout = left
	}
}

// dialFailed decides what a failed clientv3.New means: worth another try
// after a pause (retry), or final (the returned error).
func (c *etcdClient) dialFailed(ctx context.Context, cfg clientv3.Config, err error) (retry bool, _ error) {
	eps := strings.Join(cfg.Endpoints, ",")
	switch {
	case isAuthError(err):
		return false, fmt.Errorf("creating etcd client for %s: %w", eps, err)
	case !isTransient(err):
		return false, fmt.Errorf("%w: creating etcd client for %s: %v", kvstore.ErrInvalidConfig, eps, err)
	case ctx.Err() != nil:
		return false, fmt.Errorf("creating etcd client for %s: %v: %w", eps, err, ctx.Err())
	}
	c.log.WithError(err).Info("etcd did not answer the authentication request yet, retrying")
	t := time.NewTimer(dialRetryInterval)
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return false, fmt.Errorf("creating etcd client for %s: %v: %w", eps, err, ctx.Err())
	}
}

// isTransient reports errors that a later attempt may not see.
func isTransient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Unavailable:
		return true
	}
	return false
}
