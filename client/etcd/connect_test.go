package etcd_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// connectErr creates a client with opts and returns the error of its
// connection attempt (nil on success). The client is closed at the end of
// the test.
func connectErr(t *testing.T, opts map[string]string, extra *kvstore.ExtraOptions) error {
	t.Helper()
	c, errCh := etcd.New(t.Context(), opts, extra)
	if c != nil {
		t.Cleanup(c.Close)
	}
	select {
	case err := <-errCh:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("no connection result within 60s")
		return nil
	}
}

func shortConnect() *kvstore.ExtraOptions {
	return &kvstore.ExtraOptions{ConnectivityTimeout: 2 * time.Second, DialOption: hivetest.FastReconnectDialOptions()}
}

func configFile(t *testing.T, o hivetest.ClientFileOptions) map[string]string {
	return map[string]string{kvstore.EtcdOptionConfig: hivetest.WriteClientConfigFile(t, o)}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	ep := "http://" + freeAddr(t)
	err := connectErr(t, map[string]string{kvstore.EtcdAddrOption: ep}, shortConnect())
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	require.ErrorContains(t, err, "could not connect to etcd at "+ep+" within 2s (--kvstore-connectivity-timeout)")
	require.ErrorContains(t, err, "check that etcd runs at this address and port")
}

func TestConnectTLSErrors(t *testing.T) {
	t.Parallel()
	certs := hivetest.GenerateCerts(t)
	srv := hivetest.StartServer(t, hivetest.WithTLS(certs))
	other := hivetest.GenerateCerts(t)

	good := srv.ClientFileOptions()
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, connectErr(t, configFile(t, good), shortConnect()))
	})
	t.Run("wrong CA", func(t *testing.T) {
		t.Parallel()
		o := good
		o.CAFile = other.CAFile
		err := connectErr(t, configFile(t, o), shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, srv.Endpoint())
		require.ErrorContains(t, err, "the server certificate is not signed by a trusted CA: check trusted-ca-file")
		require.ErrorContains(t, err, "certificate signed by unknown authority")
	})
	t.Run("wrong client certificate", func(t *testing.T) {
		t.Parallel()
		o := good
		o.CertFile, o.KeyFile = other.ClientCertFile, other.ClientKeyFile
		err := connectErr(t, configFile(t, o), shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, srv.Endpoint())
		require.ErrorContains(t, err, "the server refused the client certificate: check cert-file/key-file")
	})
	t.Run("missing client certificate", func(t *testing.T) {
		t.Parallel()
		o := good
		o.CertFile, o.KeyFile = "", ""
		err := connectErr(t, configFile(t, o), shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, "the server requires a client certificate: check cert-file/key-file")
	})
	t.Run("https to a plain server", func(t *testing.T) {
		t.Parallel()
		ep := "https" + hivetest.SharedServer(t).Endpoint()[len("http"):]
		err := connectErr(t, map[string]string{kvstore.EtcdAddrOption: ep}, shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, "use https:// for a TLS server and http:// otherwise")
	})
	t.Run("plain http to a TLS server", func(t *testing.T) {
		t.Parallel()
		ep := "http" + srv.Endpoint()[len("https"):]
		err := connectErr(t, map[string]string{kvstore.EtcdAddrOption: ep}, shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, "use https:// for a TLS server")
	})
}

func TestConnectWrongCredentials(t *testing.T) {
	t.Parallel()
	srv := hivetest.StartServer(t, hivetest.WithAuth("s3cret"))
	o := srv.ClientFileOptions()
	o.Password = "wrong"
	extra := shortConnect()
	extra.ConnectivityTimeout = time.Minute // refused credentials do not wait for it
	err := connectErr(t, configFile(t, o), extra)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
	require.ErrorContains(t, err, "refused the credentials: check username/password in ")
	require.ErrorContains(t, err, "authentication failed")

	o.Password = "s3cret"
	require.NoError(t, connectErr(t, configFile(t, o), shortConnect()))
}

func TestConnectMalformedConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "etcd.yaml")
	require.NoError(t, os.WriteFile(path, []byte("endpoints: [http://127.0.0.1:2379\n  bogus: {"), 0o600))
	extra := shortConnect()
	extra.ConnectivityTimeout = time.Minute // a broken file is reported at once
	err := connectErr(t, map[string]string{kvstore.EtcdOptionConfig: path}, extra)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
	require.ErrorContains(t, err, "etcd config file "+path+" is not valid YAML")
}

func TestConnectMissingConfigFile(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "etcd.yaml")

	t.Run("appears later", func(t *testing.T) {
		c, errCh := etcd.New(t.Context(), map[string]string{kvstore.EtcdOptionConfig: path}, &kvstore.ExtraOptions{ConnectivityTimeout: time.Minute})
		require.NotNil(t, c)
		defer c.Close()
		select {
		case err := <-errCh:
			t.Fatalf("connection ended before the file existed: %v", err)
		case <-time.After(3 * etcd.ConfigFileRetryInterval()):
		}
		require.NoError(t, hivetest.WriteClientConfigFileTo(path, srv.ClientFileOptions()))
		select {
		case err, ok := <-errCh:
			require.NoError(t, err)
			require.False(t, ok)
		case <-time.After(30 * time.Second):
			t.Fatal("not connected 30s after the file appeared")
		}
	})

	t.Run("never appears", func(t *testing.T) {
		missing := filepath.Join(dir, "never.yaml")
		err := connectErr(t, map[string]string{kvstore.EtcdOptionConfig: missing}, shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, "etcd configuration still incomplete after 2s (--kvstore-connectivity-timeout)")
		require.ErrorContains(t, err, missing+" does not exist")
	})

	// A file caught between truncation and write is waited for like a
	// missing one, not reported as broken.
	t.Run("stays empty", func(t *testing.T) {
		empty := filepath.Join(dir, "empty.yaml")
		require.NoError(t, os.WriteFile(empty, nil, 0o600))
		err := connectErr(t, map[string]string{kvstore.EtcdOptionConfig: empty}, shortConnect())
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorContains(t, err, "etcd config file "+empty+": the file is empty")
	})
}

// TestConnectClientCertRotation replaces the client key pair on disk while
// the client runs: the next handshake must use the new files.
func TestConnectClientCertRotation(t *testing.T) {
	t.Parallel()
	certs := hivetest.GenerateCerts(t)
	srv := hivetest.StartServer(t, hivetest.WithTLS(certs))
	other := hivetest.GenerateCerts(t)

	dir := t.TempDir()
	o := srv.ClientFileOptions()
	o.CertFile, o.KeyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	install := func(certFile, keyFile string) {
		t.Helper()
		for src, dst := range map[string]string{certFile: o.CertFile, keyFile: o.KeyFile} {
			data, err := os.ReadFile(src)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(dst+".tmp", data, 0o600))
			require.NoError(t, os.Rename(dst+".tmp", dst))
		}
	}
	install(certs.ClientCertFile, certs.ClientKeyFile)

	extra := shortConnect()
	extra.ConnectivityTimeout = 20 * time.Second
	c, errCh := etcd.New(t.Context(), configFile(t, o), extra)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)
	getOK := func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		_, err := c.Get(ctx, "rotation")
		return err == nil
	}
	require.True(t, getOK())

	// A certificate the server does not trust: once the connection is
	// re-established the server refuses the client.
	install(other.ClientCertFile, other.ClientKeyFile)
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Restart(t.Context()))
	require.Never(t, getOK, 2*time.Second, 100*time.Millisecond, "the rotated (untrusted) certificate was not used")

	// Back to a trusted one, without touching the client.
	install(certs.ClientCertFile, certs.ClientKeyFile)
	require.Eventually(t, getOK, 20*time.Second, 50*time.Millisecond)
}

// With a client certificate the server does not accept, the cause is
// logged as a warning (and shown in the status) long before the
// connectivity timeout ends the attempt.
func TestConnectEarlyWarningForeignCert(t *testing.T) {
	t.Parallel()
	certs := hivetest.GenerateCerts(t)
	srv := hivetest.StartServer(t, hivetest.WithTLS(certs))
	other := hivetest.GenerateCerts(t)
	o := srv.ClientFileOptions()
	o.CertFile, o.KeyFile = other.ClientCertFile, other.ClientKeyFile

	log, hook := logtest.NewNullLogger()
	extra := &kvstore.ExtraOptions{
		ConnectivityTimeout: 10 * time.Minute, // the final error is not what this test waits for
		DialOption:          hivetest.FastReconnectDialOptions(),
		Logger:              log,
	}
	c, errCh := etcd.New(t.Context(), configFile(t, o), extra)
	require.NotNil(t, c)
	defer c.Close()

	warning := func() *logrus.Entry {
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.WarnLevel && strings.HasPrefix(e.Message, "Still not connected to etcd") {
				return e
			}
		}
		return nil
	}
	require.Eventually(t, func() bool { return warning() != nil }, 60*time.Second, 20*time.Millisecond,
		"no early warning while connecting")
	cause, _ := warning().Data["cause"].(string)
	require.Contains(t, cause, "TLS")
	require.Contains(t, cause, "cert-file")
	require.Contains(t, cause, srv.Endpoint())

	st := c.Status()
	require.Equal(t, kvstore.StateWarning, st.State)
	require.Contains(t, st.Msg, "Waiting for initial connection to be established: ")
	require.Contains(t, st.Msg, "cert-file")

	select {
	case err := <-errCh:
		t.Fatalf("the attempt ended early: %v", err)
	default:
	}
}

// Nothing listening: the warning names the refused connection.
func TestConnectEarlyWarningNothingListening(t *testing.T) {
	t.Parallel()
	log, hook := logtest.NewNullLogger()
	extra := &kvstore.ExtraOptions{ConnectivityTimeout: 10 * time.Minute, Logger: log}
	c, _ := etcd.New(t.Context(), map[string]string{kvstore.EtcdAddrOption: "http://" + freeAddr(t)}, extra)
	require.NotNil(t, c)
	defer c.Close()
	require.Eventually(t, func() bool {
		for _, e := range hook.AllEntries() {
			if cause, _ := e.Data["cause"].(string); e.Level == logrus.WarnLevel && strings.Contains(cause, "connection was refused") {
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "no early warning naming the refused connection")
	require.Contains(t, c.Status().Msg, "connection was refused")
}

// silentAddr returns a loopback address that accepts connections and never
// answers.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
	t.Cleanup(func() {
		require.NoError(t, l.Close())
		<-done
		for _, conn := range held {
			_ = conn.Close()
		}
	})
	return l.Addr().String()
}

// A failed first connection waits the whole --kvstore-connectivity-timeout
// its error names. It used to give up a fifth of it (at most 2 s) early to
// probe the endpoints, while saying "within <the full timeout>".
func TestConnectWaitsTheWholeTimeout(t *testing.T) {
	t.Parallel()
	for name, ep := range map[string]string{
		"nothing listening": "http://" + freeAddr(t),
		"silent server":     "http://" + silentAddr(t),
	} {
		start := time.Now()
		err := connectErr(t, map[string]string{kvstore.EtcdAddrOption: ep}, shortConnect())
		waited := time.Since(start)
		require.ErrorIs(t, err, kvstore.ErrClientTimeout, name)
		require.ErrorContains(t, err, "within 2s (--kvstore-connectivity-timeout)", name)
		require.GreaterOrEqual(t, waited, 2*time.Second, "%s: gave up %s before the timeout its error names", name, 2*time.Second-waited)
	}
}
