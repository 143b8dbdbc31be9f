package etcd

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// EtcdDbgDialer is how EtcdDbg reaches the endpoints. Programs that resolve
// or route differently from the standard library (a Kubernetes service
// resolver, a proxy) pass their own, so the report tests the path the real
// client takes.
type EtcdDbgDialer interface {
	// LookupIP returns the addresses of hostname.
	LookupIP(ctx context.Context, hostname string) ([]string, error)
	// DialContext opens a TCP connection to addr (host:port).
	DialContext(ctx context.Context, addr string) (net.Conn, error)
}

// DefaultEtcdDbgDialer uses the standard resolver and a TCP dialer.
var DefaultEtcdDbgDialer EtcdDbgDialer = defaultDbgDialer{}

type defaultDbgDialer struct{}

func (defaultDbgDialer) LookupIP(ctx context.Context, hostname string) ([]string, error) {
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, hostname)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out, nil
}

func (defaultDbgDialer) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Bounds of the individual EtcdDbg steps; the caller's ctx bounds the whole.
const (
	dbgStepTimeout   = 2 * time.Second // DNS, TCP, TLS, /version of one endpoint
	dbgClientTimeout = 5 * time.Second // connecting and reading with clientv3
)

// EtcdDbg writes a troubleshooting report on the etcd configuration in
// cfgfile (the etcd client YAML of --kvstore-opt etcd.config) to w: the
// configuration, then for every endpoint DNS resolution, TCP connection, TLS
// handshake (negotiated version and cipher), whether the server accepted
// the client certificate and the server's version, then the CA and client
// certificates (subject, issuer, validity, expiry), whether username and
// password are set (the password is never printed), and finally an
// authenticated read of kvstore.HeartbeatPath through the real client.
//
// Every line of a check starts with [ok], [warning] or [failure]; sections
// are indented. Steps go on after a failure where that still tells
// something. Each step is bounded by a few seconds and the whole by ctx, so
// EtcdDbg never hangs. It returns an error when a step failed, for exit
// codes; the report itself is what humans read.
func EtcdDbg(ctx context.Context, cfgfile string, dialer EtcdDbgDialer, w io.Writer) error {
	if dialer == nil {
		dialer = DefaultEtcdDbgDialer
	}
	r := &dbgReport{w: w}
	r.header(0, "Configuration path: %s", cfgfile)
	fc, ok := r.readConfig(cfgfile)
	if ok {
		r.header(0, "Endpoints:")
		r.endpoints(ctx, fc, dialer)
		r.header(0, "Certificates:")
		r.certificates(fc)
		r.header(0, "Credentials:")
		r.credentials(fc)
		r.header(0, "Etcd client:")
		r.client(ctx, cfgfile, dialer)
	}
	if r.failures > 0 {
		return fmt.Errorf("etcd debug: %d check(s) failed", r.failures)
	}
	return nil
}

// dbgReport prints the report's lines and counts failures.
type dbgReport struct {
	w         io.Writer
	failures  int
	reachable int // endpoints that passed the transport checks
}

func (r *dbgReport) line(indent int, marker, format string, args ...any) {
	prefix := strings.Repeat("  ", indent)
	if marker != "" {
		prefix += marker + " "
	}
	_, _ = fmt.Fprintf(r.w, prefix+format+"\n", args...)
}

func (r *dbgReport) header(indent int, format string, args ...any) {
	r.line(indent, "", format, args...)
}

func (r *dbgReport) ok(indent int, format string, args ...any) {
	r.line(indent, "[ok]", format, args...)
}

func (r *dbgReport) warn(indent int, format string, args ...any) {
	r.line(indent, "[warning]", format, args...)
}

func (r *dbgReport) fail(indent int, format string, args ...any) {
	r.failures++
	r.line(indent, "[failure]", format, args...)
}

// readConfig parses the configuration file with the same rules as the
// client (unknown keys are errors).
func (r *dbgReport) readConfig(path string) (etcdFileConfig, bool) {
	var fc etcdFileConfig
	raw, err := os.ReadFile(path)
	if err != nil {
		r.fail(1, "Cannot read etcd configuration: %v", err)
		return fc, false
	}
	if err := yaml.UnmarshalStrict(raw, &fc); err != nil {
		r.fail(1, "Cannot parse etcd configuration: %v", err)
		return fc, false
	}
	r.ok(1, "Configuration parsed: %d endpoint(s)", len(fc.Endpoints))
	return fc, true
}

func (r *dbgReport) credentials(fc etcdFileConfig) {
	switch {
	case fc.Username == "" && fc.Password == "":
		r.ok(1, "No username set: the client certificate or anonymous access authenticates")
	case fc.Username == "":
		r.fail(1, "Password set without a username: set username too")
	case fc.Password == "":
		r.warn(1, "Username set to %s, password is unset: only a client certificate with that common name authenticates", fc.Username)
	default:
		r.ok(1, "Username set to %s, password is set", fc.Username)
	}
}
