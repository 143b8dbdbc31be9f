package etcd

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// maxShownIPs bounds the addresses listed for a host name.
const maxShownIPs = 4

func (r *dbgReport) endpoints(ctx context.Context, fc etcdFileConfig, dialer EtcdDbgDialer) {
	if len(fc.Endpoints) == 0 {
		r.fail(1, "No available endpoints")
		return
	}
	for _, ep := range fc.Endpoints {
		r.header(1, "- %s", ep)
		r.endpoint(ctx, fc, dialer, ep)
	}
}

// endpoint checks one endpoint step by step, stopping at the first step
// that makes the next ones meaningless.
func (r *dbgReport) endpoint(ctx context.Context, fc etcdFileConfig, dialer EtcdDbgDialer, ep string) {
	const in = 2
	addr, secure, err := endpointHost(ep)
	if err != nil {
		r.fail(in, "Cannot parse endpoint: %v", err)
		return
	}
	host, _, _ := net.SplitHostPort(addr)

	sctx, cancel := context.WithTimeout(ctx, dbgStepTimeout)
	ips, err := dialer.LookupIP(sctx, host)
	cancel()
	switch {
	case err != nil:
		r.fail(in, "Cannot resolve hostname %s: %v", host, err)
		return
	case len(ips) > maxShownIPs:
		r.ok(in, "Hostname resolved to: %s, ...", strings.Join(ips[:maxShownIPs], ", "))
	default:
		r.ok(in, "Hostname resolved to: %s", strings.Join(ips, ", "))
	}

	sctx, cancel = context.WithTimeout(ctx, dbgStepTimeout)
	defer cancel()
	conn, err := dialer.DialContext(sctx, addr)
	if err != nil {
		r.fail(in, "Cannot establish TCP connection to %s: %v", addr, err)
		return
	}
	defer func() { _ = conn.Close() }()
	r.ok(in, "TCP connection established to %s", addr)
	_ = conn.SetDeadline(time.Now().Add(dbgStepTimeout))

	if secure {
		tc, ok := r.handshake(sctx, conn, fc, host)
		if !ok {
			return
		}
		conn = tc
	} else if fc.TrustedCA() != "" || fc.CertFile != "" {
		r.warn(in, "TLS files are configured but the endpoint is plain http: they are not used")
	}
	r.serverVersion(conn, host, secure)
}

// handshake runs a TLS handshake the way the client would, and says which
// side refused what.
func (r *dbgReport) handshake(ctx context.Context, conn net.Conn, fc etcdFileConfig, host string) (*tls.Conn, bool) {
	const in = 2
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         host,
		InsecureSkipVerify: fc.InsecureSkipTLSVerify, //nolint:gosec // mirrors the configuration under test
	}
	if ca := fc.TrustedCA(); ca != "" {
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(ca); err == nil && pool.AppendCertsFromPEM(pem) {
			cfg.RootCAs = pool
		} // else: reported in the certificates section; verify with the system pool
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if fc.CertFile == "" || fc.KeyFile == "" {
			return &tls.Certificate{}, nil // send none
		}
		cert, err := tls.LoadX509KeyPair(fc.CertFile, fc.KeyFile)
		if err != nil {
			return &tls.Certificate{}, nil // reported in the certificates section
		}
		return &cert, nil
	}
	p, err := probeTLS(ctx, conn, cfg, host, nil)
	if err != nil {
		hint := describeConnError(err)
		if hint == "" {
			hint = "check the endpoint and the TLS configuration"
		}
		r.fail(in, "TLS handshake failed: %v: %s", err, hint)
		return nil, false
	}
	tc := p.conn
	st := tc.ConnectionState()
	r.ok(in, "TLS connection established: negotiated %s, ciphersuite %s",
		tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	switch {
	case !p.askedForCert:
		r.ok(in, "The server did not ask for a client certificate")
	case fc.CertFile == "":
		r.warn(in, "The server asked for a client certificate and none is configured: set cert-file/key-file if it requires one")
	case p.certNotAccepted:
		r.warn(in, "The client certificate is not signed by any CA the server accepts (acceptable CAs: %s): check cert-file/key-file",
			strings.Join(p.acceptableCAs, "; "))
	}
	return tc, true
}

func caNames(raw [][]byte) []string {
	var out []string
	for _, der := range raw {
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &seq); err != nil {
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&seq)
		out = append(out, n.String())
	}
	return out
}

// serverVersion asks the endpoint for GET /version over the established
// connection. With TLS 1.3 this is also where a refused client certificate
// shows: the server's alert arrives on the first read.
func (r *dbgReport) serverVersion(conn net.Conn, host string, secure bool) {
	const in = 2
	req := "GET /version HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		r.failRead(err, secure)
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		r.failRead(err, secure)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	r.reachable++
	if secure {
		r.ok(in, "The server accepted the client")
	}
	var v struct {
		Server string `json:"etcdserver"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Server == "" {
		r.warn(in, "Could not retrieve the etcd server version (HTTP %s)", resp.Status)
		return
	}
	r.ok(in, "Etcd server version: %s", v.Server)
}

func (r *dbgReport) failRead(err error, secure bool) {
	const in = 2
	if hint := describeConnError(err); hint != "" && secure {
		r.fail(in, "TLS client authentication failed: %v: %s", err, hint)
		return
	}
	r.fail(in, "No answer to GET /version: %v", err)
}
