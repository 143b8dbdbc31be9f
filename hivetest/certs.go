package hivetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Certs is throw-away TLS material: a CA, a server certificate valid for the
// loopback names, and a client certificate for user root. Files are PEM; keys
// are PKCS#8 ECDSA P-256, which both etcd and clientv3 load.
type Certs struct {
	Dir string

	CAFile, CAKeyFile string

	// ServerCertFile is valid for 127.0.0.1, ::1 and localhost, and also for
	// client use, since etcd presents it when it dials itself.
	ServerCertFile, ServerKeyFile string

	// ClientCertFile has CN "root", which etcd maps to user root when
	// authentication and client-certificate auth are both on.
	ClientCertFile, ClientKeyFile string
}

// certValidity is long enough for a demo left running, short enough that
// leaked files are useless soon.
const certValidity = 7 * 24 * time.Hour

// GenerateCerts writes a fresh CA, server and root client certificate into a
// temporary directory of the test.
func GenerateCerts(tb testing.TB) *Certs {
	tb.Helper()
	c, err := GenerateCertsIn(tb.TempDir())
	if err != nil {
		tb.Fatalf("hivetest: generate certs: %v", err)
	}
	return c
}

// GenerateCertsIn is GenerateCerts for callers without a testing.TB; dir must
// exist.
func GenerateCertsIn(dir string) (*Certs, error) {
	c := &Certs{
		Dir:            dir,
		CAFile:         filepath.Join(dir, "ca.pem"),
		CAKeyFile:      filepath.Join(dir, "ca-key.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server-key.pem"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client-key.pem"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := certTemplate("hivetest CA " + randomHex(4))
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("hivetest: create CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	if err := writeCertAndKey(c.CAFile, c.CAKeyFile, caDER, caKey); err != nil {
		return nil, err
	}

	srv := certTemplate("hivetest server")
	srv.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	srv.DNSNames = []string{"localhost"}
	srv.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if err := issue(srv, caCert, caKey, c.ServerCertFile, c.ServerKeyFile); err != nil {
		return nil, err
	}
	cli := certTemplate(rootUser)
	cli.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if err := issue(cli, caCert, caKey, c.ClientCertFile, c.ClientKeyFile); err != nil {
		return nil, err
	}
	return c, nil
}

// ClientCertFor issues a client certificate with the given CN, which etcd
// treats as the user name, into a temporary directory of the test.
func (c *Certs) ClientCertFor(tb testing.TB, commonName string) (certFile, keyFile string) {
	tb.Helper()
	caCert, caKey, err := c.loadCA()
	if err != nil {
		tb.Fatalf("hivetest: load CA: %v", err)
	}
	dir := tb.TempDir()
	base := sanitize(commonName)
	certFile = filepath.Join(dir, base+".pem")
	keyFile = filepath.Join(dir, base+"-key.pem")
	tmpl := certTemplate(commonName)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if err := issue(tmpl, caCert, caKey, certFile, keyFile); err != nil {
		tb.Fatalf("hivetest: issue client cert: %v", err)
	}
	return certFile, keyFile
}

// CA returns a pool holding the CA certificate, for hand-built TLS configs.
// It panics if the CA file is unreadable, which only a broken test causes.
func (c *Certs) CA() *x509.CertPool {
	data, err := os.ReadFile(c.CAFile)
	if err != nil {
		panic(fmt.Sprintf("hivetest: read CA: %v", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		panic("hivetest: no certificate in " + c.CAFile)
	}
	return pool
}

// clientTLSConfig loads a client key pair and trusts the CA.
func (c *Certs) clientTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("hivetest: load client cert: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      c.CA(),
		Certificates: []tls.Certificate{pair},
	}, nil
}

func (c *Certs) loadCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(c.CAFile, c.CAKeyFile)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("CA key is not ECDSA")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	return cert, key, err
}

func certTemplate(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"hivetest"}},
		NotBefore:    now.Add(-time.Hour), // tolerate clock skew between containers
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// issue signs tmpl with the CA and writes the certificate and a new key.
func issue(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("hivetest: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	return writeCertAndKey(certFile, keyFile, der, key)
}

func writeCertAndKey(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// sanitize maps s to a string safe in file names and etcd keys.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	if s == "" {
		return "_"
	}
	return s
}
