package hivetest

import (
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/yaml"
)

func TestGenerateCerts(t *testing.T) {
	t.Parallel()
	c := GenerateCerts(t)
	for _, f := range []string{c.CAFile, c.CAKeyFile, c.ServerCertFile, c.ServerKeyFile, c.ClientCertFile, c.ClientKeyFile} {
		require.FileExists(t, f)
	}
	cfg, err := c.clientTLSConfig(c.ServerCertFile, c.ServerKeyFile)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.CA(), DNSName: "127.0.0.1"})
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.CA(), DNSName: "localhost"})
	require.NoError(t, err)

	certFile, keyFile := c.ClientCertFor(t, "alice")
	cfg, err = c.clientTLSConfig(certFile, keyFile)
	require.NoError(t, err)
	leaf, err = x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	require.NoError(t, err)
	require.Equal(t, "alice", leaf.Subject.CommonName)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.CA(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
}

func TestTLSServer(t *testing.T) {
	t.Parallel()
	certs := GenerateCerts(t)
	s := StartServer(t, WithTLS(certs))
	require.Regexp(t, `^https://127\.0\.0\.1:\d+$`, s.Endpoint())

	_, err := s.Client(t).Put(shortCtx(t, 5*time.Second), "k", "v")
	require.NoError(t, err)

	// A certificate from another CA must be refused.
	other := GenerateCerts(t)
	bad := s.ClientConfig()
	badTLS, err := other.clientTLSConfig(other.ClientCertFile, other.ClientKeyFile)
	require.NoError(t, err)
	badTLS.RootCAs = certs.CA() // trust the server, so only the client cert is wrong
	bad.TLS = badTLS
	badCli, err := clientv3.New(bad)
	require.NoError(t, err)
	defer func() { _ = badCli.Close() }()
	_, err = badCli.Get(shortCtx(t, time.Second), "k")
	require.Error(t, err)

	// The generated client config file works with etcd's own loader.
	path := s.WriteClientConfigFile(t)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(data), "trusted-ca-file: "+certs.CAFile)
	fileCfg, err := yaml.NewConfig(path)
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, fileCfg.DialTimeout)
	fileCli, err := clientv3.New(*fileCfg)
	require.NoError(t, err)
	defer func() { _ = fileCli.Close() }()
	resp, err := fileCli.Get(shortCtx(t, 5*time.Second), "k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
}

func TestAuthServer(t *testing.T) {
	t.Parallel()
	s := StartServer(t, WithAuth("s3cret"))
	root := s.Client(t)
	_, err := root.Put(shortCtx(t, 5*time.Second), "k", "v")
	require.NoError(t, err)

	anon := s.ClientConfig()
	anon.Username, anon.Password = "", ""
	anonCli, err := clientv3.New(anon)
	require.NoError(t, err)
	defer func() { _ = anonCli.Close() }()
	_, err = anonCli.Get(shortCtx(t, 2*time.Second), "k")
	require.Error(t, err)

	wrong := s.ClientConfig()
	wrong.Password = "nope"
	_, err = clientv3.New(wrong)
	require.Error(t, err)

	// Auth survives a restart and Client still logs in afterwards.
	require.NoError(t, s.Stop())
	require.NoError(t, s.Restart(shortCtx(t, 30*time.Second)))
	resp, err := s.Client(t).Get(shortCtx(t, 5*time.Second), "k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)

	// A plain-transport config file carries the root credentials.
	fileCfg, err := yaml.NewConfig(s.WriteClientConfigFile(t))
	require.NoError(t, err)
	require.Equal(t, "root", fileCfg.Username)
	require.Nil(t, fileCfg.TLS)
}

func TestTLSWithCertAuth(t *testing.T) {
	t.Parallel()
	certs := GenerateCerts(t)
	// etcd logs the refused user below at error level; keep the output clean.
	s := StartServer(t, WithTLS(certs), WithAuth("pw"), WithLogLevel("none"))
	_, err := s.Client(t).Put(shortCtx(t, 5*time.Second), "k", "v")
	require.NoError(t, err)

	// The root client certificate alone authenticates as root (CN auth).
	certOnly := s.ClientConfig()
	certOnly.Username, certOnly.Password = "", ""
	cli, err := clientv3.New(certOnly)
	require.NoError(t, err)
	defer func() { _ = cli.Close() }()
	_, err = cli.Put(shortCtx(t, 5*time.Second), "k2", "v")
	require.NoError(t, err)

	// A valid certificate for an unknown user gets no access.
	certFile, keyFile := certs.ClientCertFor(t, "mallory")
	tlsCfg, err := certs.clientTLSConfig(certFile, keyFile)
	require.NoError(t, err)
	certOnly.TLS = tlsCfg
	cli2, err := clientv3.New(certOnly)
	require.NoError(t, err)
	defer func() { _ = cli2.Close() }()
	_, err = cli2.Put(shortCtx(t, 5*time.Second), "k3", "v")
	require.Error(t, err)
}
