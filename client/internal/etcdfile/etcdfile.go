package etcdfile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/hivekv/kvstore"
)

// Config is the etcd client YAML file: the same keys as etcdctl's
// and Cilium's etcd.config files.
type Config struct {
	Endpoints             []string      `json:"endpoints"`
	DialTimeout           time.Duration `json:"dial-timeout"`
	Username              string        `json:"username"`
	Password              string        `json:"password"`
	TrustedCAFile         string        `json:"trusted-ca-file"`
	CAFile                string        `json:"ca-file"` // older name of trusted-ca-file
	CertFile              string        `json:"cert-file"`
	KeyFile               string        `json:"key-file"`
	InsecureTransport     bool          `json:"insecure-transport"`
	InsecureSkipTLSVerify bool          `json:"insecure-skip-tls-verify"`
}

// TrustedCA returns the trusted CA file, accepting the older key ca-file.
func (fc Config) TrustedCA() string {
	if fc.TrustedCAFile != "" {
		return fc.TrustedCAFile
	}
	return fc.CAFile
}

// ErrEmpty is wrapped by the error of a configuration file (the etcd
// config, a CA, a client certificate or key) that exists but holds nothing
// yet: what a reader sees between the truncation and the write of a file
// rewritten in place.
var ErrEmpty = errors.New("the file is empty (still being written?)")

// NotReady reports whether err comes from a configuration file that
// does not exist yet or is still empty. Connecting waits for such files, as
// secrets are often mounted after the program starts, instead of failing.
func NotReady(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrEmpty)
}

// Read reads a configuration file; a missing file's error wraps
// fs.ErrNotExist and an empty one's ErrEmpty (see NotReady).
func Read(name string) ([]byte, error) {
	raw, err := os.ReadFile(name)
	if err == nil && len(bytes.TrimSpace(raw)) == 0 {
		err = ErrEmpty
	}
	return raw, err
}

// Load reads and checks the configuration file at path: the file's
// configuration and, unless it asks for an insecure transport or names no
// TLS material and no https endpoint, the TLS configuration of the client
// (nil otherwise). Errors name the file and the key at fault and wrap
// kvstore.ErrInvalidConfig, except those of a file that does not exist yet
// or is still empty (NotReady), which a caller waits for.
func Load(path string) (Config, *tls.Config, error) {
	var fc Config
	raw, err := Read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fc, nil, fmt.Errorf("etcd config file %s does not exist (yet): %w", path, err)
	case errors.Is(err, ErrEmpty):
		return fc, nil, fmt.Errorf("etcd config file %s: %w", path, err)
	case err != nil:
		return fc, nil, fmt.Errorf("%w: reading etcd config file: %v", kvstore.ErrInvalidConfig, err)
	}
	if err := yaml.UnmarshalStrict(raw, &fc); err != nil {
		return fc, nil, fmt.Errorf("%w: etcd config file %s is not valid YAML of the etcd client format "+
			"(keys: endpoints, trusted-ca-file, cert-file, key-file, username, password): %v",
			kvstore.ErrInvalidConfig, path, err)
	}
	if fc.InsecureTransport {
		return fc, nil, nil
	}
	ca := fc.TrustedCA()
	if ca == "" && fc.CertFile == "" && fc.KeyFile == "" && !fc.InsecureSkipTLSVerify && !AnyHTTPS(fc.Endpoints) {
		return fc, nil, nil
	}
	tlsCfg, err := buildTLS(path, ca, fc.CertFile, fc.KeyFile, fc.InsecureSkipTLSVerify)
	if err != nil {
		return fc, nil, err
	}
	return fc, tlsCfg, nil
}

// buildTLS loads the CA and checks the client key pair once, so that broken
// material is reported at start; afterwards the key pair is read again on
// every handshake, so that rotated certificates need no restart.
func buildTLS(path, caFile, certFile, keyFile string, skipVerify bool) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify} //nolint:gosec // opt-in from the config file
	if caFile != "" {
		pem, err := Read(caFile)
		if err != nil {
			return nil, fileErr(path, "trusted-ca-file", caFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s: trusted-ca-file %s holds no PEM certificate", kvstore.ErrInvalidConfig, path, caFile)
		}
		t.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("%w: %s: cert-file and key-file must be set together", kvstore.ErrInvalidConfig, path)
	}
	if certFile != "" {
		if _, err := loadKeyPair(path, certFile, keyFile); err != nil {
			return nil, err
		}
		t.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return loadKeyPair(path, certFile, keyFile)
		}
	}
	return t, nil
}

func loadKeyPair(path, certFile, keyFile string) (*tls.Certificate, error) {
	for _, f := range []struct{ field, name string }{{"cert-file", certFile}, {"key-file", keyFile}} {
		fi, err := os.Stat(f.name)
		if err == nil && fi.Size() == 0 {
			err = ErrEmpty
		}
		if err != nil {
			return nil, fileErr(path, f.field, f.name, err)
		}
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: cert-file %s / key-file %s: %v", kvstore.ErrInvalidConfig, path, certFile, keyFile, err)
	}
	return &c, nil
}

func fileErr(path, field, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %s %s does not exist (yet): %w", path, field, name, err)
	case errors.Is(err, ErrEmpty):
		return fmt.Errorf("%s: %s %s: %w", path, field, name, err)
	}
	return fmt.Errorf("%w: %s: %s %s: %v", kvstore.ErrInvalidConfig, path, field, name, err)
}

// AnyHTTPS reports whether an endpoint asks for TLS.
func AnyHTTPS(endpoints []string) bool {
	for _, e := range endpoints {
		if strings.HasPrefix(e, "https://") || strings.HasPrefix(e, "unixs://") {
			return true
		}
	}
	return false
}
