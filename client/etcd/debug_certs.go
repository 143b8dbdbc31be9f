package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"
)

// certExpiryWarning is how close to its end a certificate gets a warning.
const certExpiryWarning = 30 * 24 * time.Hour

func (r *dbgReport) certificates(fc etcdFileConfig) {
	if !anyHTTPS(fc.Endpoints) && fc.TrustedCA() == "" && fc.CertFile == "" && fc.KeyFile == "" {
		r.ok(1, "No TLS: every endpoint is plain http and no TLS file is configured")
		return
	}
	roots := r.rootCAs(fc)
	r.clientCert(fc, roots)
}

// rootCAs reports the CA file and returns its pool (nil: system pool).
func (r *dbgReport) rootCAs(fc etcdFileConfig) *x509.CertPool {
	if fc.InsecureSkipTLSVerify {
		r.warn(1, "insecure-skip-tls-verify is set: the server certificate is not verified")
	}
	ca := fc.TrustedCA()
	if ca == "" {
		r.warn(1, "Root CA unset: the system's root CAs verify the server")
		return nil
	}
	r.header(1, "Root CA (trusted-ca-file %s):", ca)
	certs, ok := r.readCerts(2, ca)
	if !ok {
		return nil
	}
	pool := x509.NewCertPool()
	for i, c := range certs {
		pool.AddCert(c)
		r.header(2, "- CA certificate %d", i+1)
		r.describeCert(3, c)
	}
	return pool
}

func (r *dbgReport) clientCert(fc etcdFileConfig, roots *x509.CertPool) {
	switch {
	case fc.CertFile == "" && fc.KeyFile == "":
		r.warn(1, "No client certificate configured (cert-file/key-file): servers that require one will refuse the client")
		return
	case fc.CertFile == "" || fc.KeyFile == "":
		r.fail(1, "Only one of cert-file and key-file is set: set both")
		return
	}
	r.header(1, "Client certificate (cert-file %s, key-file %s):", fc.CertFile, fc.KeyFile)
	if _, err := tls.LoadX509KeyPair(fc.CertFile, fc.KeyFile); err != nil {
		r.fail(2, "Cannot load the key pair: %v", err)
	} else {
		r.ok(2, "Key pair loaded: the key matches the certificate")
	}
	certs, ok := r.readCerts(2, fc.CertFile)
	if !ok {
		return
	}
	for i, c := range certs {
		role := "leaf"
		if i > 0 {
			role = "intermediate"
		}
		r.header(2, "- Certificate %d (%s)", i+1, role)
		r.describeCert(3, c)
	}
	if roots == nil {
		return
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		r.warn(2, "Cannot verify the client certificate with the configured root CAs: %v "+
			"(fine if the server trusts another CA)", err)
		return
	}
	r.ok(2, "Client certificate verified with the configured root CAs")
}

// readCerts parses every certificate in a PEM file.
func (r *dbgReport) readCerts(indent int, path string) ([]*x509.Certificate, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		r.fail(indent, "Cannot read %s: %v", path, err)
		return nil, false
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			r.fail(indent, "Cannot parse a certificate in %s: %v", path, err)
			return nil, false
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		r.fail(indent, "No PEM certificate in %s", path)
		return nil, false
	}
	return certs, true
}

func (r *dbgReport) describeCert(indent int, c *x509.Certificate) {
	r.ok(indent, "Subject: %s", c.Subject)
	r.ok(indent, "Issuer: %s", c.Issuer)
	r.ok(indent, "Serial number: %s", serialHex(c))
	now := time.Now()
	validity := fmt.Sprintf("from %s until %s", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	switch left := c.NotAfter.Sub(now); {
	case now.Before(c.NotBefore):
		r.fail(indent, "Not valid yet: valid %s (check the clocks)", validity)
	case left <= 0:
		r.fail(indent, "Expired: valid %s", validity)
	case left < certExpiryWarning:
		r.ok(indent, "Valid %s", validity)
		r.warn(indent, "Expires in %d days: renew it", int(left/(24*time.Hour)))
	default:
		r.ok(indent, "Valid %s", validity)
	}
}

// serialHex formats a serial number as colon-separated hex bytes, the way
// openssl prints it.
func serialHex(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}
