package etcd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestParseEtcdOptionsDefaults(t *testing.T) {
	o, err := parseEtcdOptions(map[string]string{kvstore.EtcdAddrOption: "http://a:2379, http://b:2379,"})
	require.NoError(t, err)
	require.Equal(t, []string{"http://a:2379", "http://b:2379"}, o.address)
	require.Equal(t, kvstore.DefaultKeepAliveHeartbeat, o.keepaliveHeartbeat)
	require.Equal(t, kvstore.DefaultKeepAliveTimeout, o.keepaliveTimeout)
	require.Equal(t, kvstore.DefaultQPS, o.qps)
	require.Equal(t, kvstore.DefaultListLimit, o.listLimit)
	require.Zero(t, o.bootstrapQPS)
	require.Zero(t, o.maxInflight)
}

func TestParseEtcdOptionsValues(t *testing.T) {
	o, err := parseEtcdOptions(map[string]string{
		kvstore.EtcdAddrOption:               "http://a:2379",
		kvstore.EtcdOptionKeepAliveHeartbeat: "3s",
		kvstore.EtcdOptionKeepAliveTimeout:   "7s",
		kvstore.EtcdRateLimitOption:          "50",
		kvstore.EtcdBootstrapRateLimitOption: "500",
		kvstore.EtcdMaxInflightOption:        "8",
		kvstore.EtcdListLimitOption:          "0",
	})
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, o.keepaliveHeartbeat)
	require.Equal(t, 7*time.Second, o.keepaliveTimeout)
	require.Equal(t, 50, o.qps)
	require.Equal(t, 500, o.bootstrapQPS)
	require.Equal(t, 8, o.maxInflight)
	require.Zero(t, o.listLimit)
}

func TestParseEtcdOptionsNeedsAnEndpoint(t *testing.T) {
	_, err := parseEtcdOptions(map[string]string{kvstore.EtcdAddrOption: " , "})
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
	require.ErrorContains(t, err, "etcd.address=<url>")
	require.ErrorContains(t, err, "etcd.config=<file>")
}

func TestBuildClientConfigFromAddress(t *testing.T) {
	cfg, err := buildClientConfig(etcdOptions{address: []string{"http://a:1", "http://b:2", "http://c:3"}})
	require.NoError(t, err)
	got := append([]string(nil), cfg.Endpoints...)
	sort.Strings(got)
	require.Equal(t, []string{"http://a:1", "http://b:2", "http://c:3"}, got)
	require.Nil(t, cfg.TLS, "plain http endpoints need no TLS")
}

func TestShuffleChangesOrder(t *testing.T) {
	orig := []string{"a", "b", "c", "d", "e"}
	changed := false
	for range 20 {
		e := append([]string(nil), orig...)
		shuffle(e)
		sorted := append([]string(nil), e...)
		sort.Strings(sorted)
		require.Equal(t, orig, sorted, "shuffle must keep every endpoint")
		if !equal(e, orig) {
			changed = true
		}
	}
	require.True(t, changed, "20 shuffles of 5 endpoints never changed the order")
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestConfigFilePlain(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "etcd.yaml", "endpoints:\n- http://127.0.0.1:2379\nusername: alice\npassword: secret\n")
	cfg, err := buildClientConfig(etcdOptions{configPath: p})
	require.NoError(t, err)
	require.Equal(t, []string{"http://127.0.0.1:2379"}, cfg.Endpoints)
	require.Equal(t, "alice", cfg.Username)
	require.Equal(t, "secret", cfg.Password)
	require.Nil(t, cfg.TLS)
}

func TestConfigFileAddressWins(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "etcd.yaml", "endpoints:\n- http://from-file:2379\n")
	cfg, err := buildClientConfig(etcdOptions{configPath: p, address: []string{"http://from-flag:2379"}})
	require.NoError(t, err)
	require.Equal(t, []string{"http://from-flag:2379"}, cfg.Endpoints)
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeTestPKI(t, dir)
	cases := []struct {
		name     string
		content  string
		waitable bool     // the error must be "wait for the file"
		contains []string // the error must name these
	}{
		{"malformed yaml", "endpoints: [http://a\n  bad: : :", false, []string{"not valid YAML", "endpoints"}},
		{"unknown key", "endpoints: [http://a:1]\nendpoint: x\n", false, []string{"not valid YAML", "endpoint"}},
		{"no endpoints", "username: bob\n", false, []string{"no etcd endpoints"}},
		{"missing ca", "endpoints: [https://a:1]\ntrusted-ca-file: " + filepath.Join(dir, "nope.pem") + "\n", true, []string{"trusted-ca-file", "nope.pem"}},
		{"ca not pem", "endpoints: [https://a:1]\ntrusted-ca-file: " + writeFile(t, dir, "garbage.pem", "garbage") + "\n", false, []string{"holds no PEM certificate"}},
		{"cert without key", "endpoints: [https://a:1]\ntrusted-ca-file: " + ca + "\ncert-file: " + cert + "\n", false, []string{"cert-file and key-file must be set together"}},
		{"missing cert", "endpoints: [https://a:1]\ncert-file: " + filepath.Join(dir, "c.pem") + "\nkey-file: " + key + "\n", true, []string{"cert-file", "c.pem"}},
		{"empty file", "", true, []string{"is empty"}},
		{"blank file", "\n  \n", true, []string{"is empty"}},
		{"empty ca", "endpoints: [https://a:1]\ntrusted-ca-file: " + writeFile(t, dir, "empty-ca.pem", "") + "\n", true, []string{"trusted-ca-file", "empty-ca.pem", "is empty"}},
		{"empty key", "endpoints: [https://a:1]\ncert-file: " + cert + "\nkey-file: " + writeFile(t, dir, "empty-key.pem", "") + "\n", true, []string{"key-file", "empty-key.pem", "is empty"}},
		{"key does not match", "endpoints: [https://a:1]\ncert-file: " + cert + "\nkey-file: " + writeOtherKey(t, dir) + "\n", false, []string{"cert-file", "key-file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "etcd.yaml", tc.content)
			_, err := buildClientConfig(etcdOptions{configPath: p})
			require.Error(t, err)
			require.Equal(t, tc.waitable, fileNotReady(err), "waitable: %v", err)
			if !tc.waitable {
				require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
			}
			require.ErrorContains(t, err, p)
			for _, c := range tc.contains {
				require.ErrorContains(t, err, c)
			}
		})
	}
}

func TestConfigFileMissingIsWaitable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "later.yaml")
	_, err := buildClientConfig(etcdOptions{configPath: p})
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, p)
}

func TestConfigFileTLSReloadsClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeTestPKI(t, dir)
	p := writeFile(t, dir, "etcd.yaml", "endpoints: [https://127.0.0.1:2379]\ntrusted-ca-file: "+ca+"\ncert-file: "+cert+"\nkey-file: "+key+"\n")
	cfg, err := buildClientConfig(etcdOptions{configPath: p})
	require.NoError(t, err)
	require.NotNil(t, cfg.TLS)
	require.NotNil(t, cfg.TLS.RootCAs)
	require.NotNil(t, cfg.TLS.GetClientCertificate)

	first, err := cfg.TLS.GetClientCertificate(nil)
	require.NoError(t, err)

	// Rotate the pair on disk: the next handshake must present the new one.
	newCert, newKey := issueLeaf(t, dir, "rotated")
	require.NoError(t, os.Rename(newCert, cert))
	require.NoError(t, os.Rename(newKey, key))
	second, err := cfg.TLS.GetClientCertificate(nil)
	require.NoError(t, err)
	require.NotEqual(t, first.Certificate[0], second.Certificate[0])
	leaf, err := x509.ParseCertificate(second.Certificate[0])
	require.NoError(t, err)
	require.Equal(t, "rotated", leaf.Subject.CommonName)
}

func TestCheckWrite(t *testing.T) {
	require.ErrorIs(t, checkWrite("", nil, defaultMaxRequestBytes), kvstore.ErrEmptyKey)
	require.NoError(t, checkWrite("k", make([]byte, 1024*1024), defaultMaxRequestBytes))
	err := checkWrite("k", make([]byte, defaultMaxRequestBytes), defaultMaxRequestBytes)
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge)
	require.ErrorContains(t, err, "--max-request-bytes")
}

func TestWrapOpKeepsSentinelsAndHints(t *testing.T) {
	err := wrapOp("update", "cilium/x", kvstore.ErrEmptyKey)
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)
	require.Equal(t, `kvstore: update "cilium/x": empty key`, err.Error())
	require.Nil(t, wrapOp("get", "k", nil))
}

// writeTestPKI writes a CA and a client pair signed by it.
func writeTestPKI(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca = writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	testCA = struct {
		cert *x509.Certificate
		key  *ecdsa.PrivateKey
	}{tmpl, caKey}
	cert, key = issueLeaf(t, dir, "client")
	return ca, cert, key
}

var testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func issueLeaf(t *testing.T, dir, cn string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, testCA.cert, &k.PublicKey, testCA.key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	cert = writeFile(t, dir, cn+"-cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = writeFile(t, dir, cn+"-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	return cert, key
}

func writeOtherKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return writeFile(t, dir, "other-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}
