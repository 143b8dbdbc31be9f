package etcd_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// masks replace the parts of a report that change from run to run.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<port>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "<time>"},
	{regexp.MustCompile(`Serial number: [0-9a-f:]+`), "Serial number: <serial>"},
	{regexp.MustCompile(`hivetest CA [0-9a-f]+`), "hivetest CA <id>"},
	{regexp.MustCompile(`cluster ID: [0-9a-f]+`), "cluster ID: <id>"},
	{regexp.MustCompile(`Expires in \d+ days`), "Expires in <n> days"},
	{regexp.MustCompile(`ciphersuite TLS_[A-Z0-9_]+`), "ciphersuite <cipher>"},
	{regexp.MustCompile(`Etcd server version: [0-9.]+`), "Etcd server version: <version>"},
}

// mask replaces the directories and then the patterns above.
func mask(out string, dirs map[string]string) string {
	for dir, name := range dirs {
		out = strings.ReplaceAll(out, dir, name)
	}
	for _, m := range masks {
		out = m.re.ReplaceAllString(out, m.with)
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	require.Equal(t, string(want), got)
}

// runDbg runs EtcdDbg on a config file written from o and returns the
// masked report; dirs maps directories to their placeholders.
func runDbg(t *testing.T, o hivetest.ClientFileOptions, dialer etcd.EtcdDbgDialer, dirs map[string]string) (string, error) {
	t.Helper()
	path := hivetest.WriteClientConfigFile(t, o)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	err := etcd.EtcdDbg(ctx, path, dialer, &buf)
	t.Log("\n" + buf.String())
	all := map[string]string{filepath.Dir(path): "<cfgdir>"}
	for k, v := range dirs {
		all[k] = v
	}
	return mask(buf.String(), all), err
}

func TestEtcdDbgTLS(t *testing.T) {
	t.Parallel()
	certs := hivetest.GenerateCerts(t)
	srv := hivetest.StartServer(t, hivetest.WithTLS(certs))
	other := hivetest.GenerateCerts(t)
	dirs := map[string]string{certs.Dir: "<certs>", other.Dir: "<other>"}

	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		out, err := runDbg(t, srv.ClientFileOptions(), etcd.DefaultEtcdDbgDialer, dirs)
		require.NoError(t, err)
		golden(t, "etcddbg-tls-ok", out)
	})
	t.Run("wrong CA", func(t *testing.T) {
		t.Parallel()
		o := srv.ClientFileOptions()
		o.CAFile = other.CAFile
		out, err := runDbg(t, o, etcd.DefaultEtcdDbgDialer, dirs)
		require.ErrorContains(t, err, "2 check(s) failed")
		golden(t, "etcddbg-tls-wrong-ca", out)
	})
	t.Run("wrong client certificate", func(t *testing.T) {
		t.Parallel()
		o := srv.ClientFileOptions()
		o.CertFile, o.KeyFile = other.ClientCertFile, other.ClientKeyFile
		out, err := runDbg(t, o, etcd.DefaultEtcdDbgDialer, dirs)
		require.ErrorContains(t, err, "2 check(s) failed")
		golden(t, "etcddbg-tls-wrong-client-cert", out)
	})
}

// fakeDialer resolves every name to ips and connects every address to
// target, recording the addresses it was asked for.
type fakeDialer struct {
	ips    []string
	target string
	block  bool // DialContext waits for its ctx instead

	mu    sync.Mutex
	dials []string
}

func (d *fakeDialer) LookupIP(_ context.Context, host string) ([]string, error) {
	if strings.HasSuffix(host, ".invalid") {
		return nil, errors.New("no such host")
	}
	return d.ips, nil
}

func (d *fakeDialer) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	d.mu.Unlock()
	if d.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.target)
}

func TestEtcdDbgDialer(t *testing.T) {
	t.Parallel()
	srv := hivetest.StartServer(t) // own server: the report shows the heartbeat key
	d := &fakeDialer{
		ips:    []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"},
		target: strings.TrimPrefix(srv.Endpoint(), "http://"),
	}
	o := hivetest.ClientFileOptions{Endpoints: []string{"http://etcd.example:2379", "http://etcd.invalid:2379"}}
	out, err := runDbg(t, o, d, nil)
	require.ErrorContains(t, err, "1 check(s) failed")
	golden(t, "etcddbg-dialer", out)
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Contains(t, d.dials, "etcd.example:2379")
	require.GreaterOrEqual(t, len(d.dials), 2, "the client read dials through the dialer too")
}

func TestEtcdDbgBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "etcd.yaml")
	require.NoError(t, os.WriteFile(path, []byte("endpoints: [\n"), 0o600))
	var buf bytes.Buffer
	err := etcd.EtcdDbg(t.Context(), path, nil, &buf)
	require.Error(t, err)
	golden(t, "etcddbg-bad-config", mask(buf.String(), map[string]string{dir: "<cfgdir>"}))
}

// TestEtcdDbgBounded: endpoints that never answer cost the step timeout or
// the caller's ctx, whichever ends first, never a hang.
func TestEtcdDbgBounded(t *testing.T) {
	t.Parallel()
	d := &fakeDialer{ips: []string{"10.0.0.1"}, block: true}
	path := hivetest.WriteClientConfigFile(t, hivetest.ClientFileOptions{Endpoints: []string{"http://a:2379", "http://b:2379"}})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var buf bytes.Buffer
	err := etcd.EtcdDbg(ctx, path, d, &buf)
	require.ErrorContains(t, err, "check(s) failed")
	require.Equal(t, 2, strings.Count(buf.String(), "[failure] Cannot establish TCP connection"), buf.String())
}
