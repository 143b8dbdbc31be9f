package etcd

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"sigs.k8s.io/yaml"

	"github.com/hivekv/kvstore"
)

// etcdOptions are the parsed --kvstore-opt values of the etcd backend.
type etcdOptions struct {
	address            []string
	configPath         string
	keepaliveHeartbeat time.Duration
	keepaliveTimeout   time.Duration
	qps                int
	bootstrapQPS       int
	maxInflight        int
	listLimit          int
}

// parseEtcdOptions turns validated option strings into etcdOptions with the
// defaults applied. It assumes kvstore.ValidateBackendOptions passed.
func parseEtcdOptions(opts map[string]string) (etcdOptions, error) {
	o := etcdOptions{
		keepaliveHeartbeat: kvstore.DefaultKeepAliveHeartbeat,
		keepaliveTimeout:   kvstore.DefaultKeepAliveTimeout,
		qps:                kvstore.DefaultQPS,
		listLimit:          kvstore.DefaultListLimit,
		configPath:         strings.TrimSpace(opts[kvstore.EtcdOptionConfig]),
	}
	for _, a := range strings.Split(opts[kvstore.EtcdAddrOption], ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.address = append(o.address, a)
		}
	}
	if len(o.address) == 0 && o.configPath == "" {
		return o, fmt.Errorf("%w: etcd needs an endpoint: pass --kvstore-opt %s=<url>[,<url>...] or %s=<file>",
			kvstore.ErrInvalidConfig, kvstore.EtcdAddrOption, kvstore.EtcdOptionConfig)
	}
	// The values were checked against kvstore.OptionSpecs already (New
	// validates); reading them through the same table keeps one set of
	// rules and messages should parseEtcdOptions be called directly.
	var err error
	durations := []struct {
		key string
		dst *time.Duration
	}{
		{kvstore.EtcdOptionKeepAliveHeartbeat, &o.keepaliveHeartbeat},
		{kvstore.EtcdOptionKeepAliveTimeout, &o.keepaliveTimeout},
	}
	for _, d := range durations {
		if *d.dst, err = kvstore.OptionDuration(opts, d.key, *d.dst); err != nil {
			return o, err
		}
	}
	ints := []struct {
		key string
		dst *int
	}{
		{kvstore.EtcdRateLimitOption, &o.qps},
		{kvstore.EtcdBootstrapRateLimitOption, &o.bootstrapQPS},
		{kvstore.EtcdMaxInflightOption, &o.maxInflight},
		{kvstore.EtcdListLimitOption, &o.listLimit},
	}
	for _, i := range ints {
		if *i.dst, err = kvstore.OptionInt(opts, i.key, *i.dst); err != nil {
			return o, err
		}
	}
	return o, nil
}

// etcdFileConfig is the etcd client YAML file: the same keys as etcdctl's
// and Cilium's etcd.config files.
type etcdFileConfig struct {
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

// errFileEmpty is wrapped by the error of a configuration file (the etcd
// config, a CA, a client certificate or key) that exists but holds nothing
// yet: what a reader sees between the truncation and the write of a file
// rewritten in place.
var errFileEmpty = errors.New("the file is empty (still being written?)")

// fileNotReady reports whether err comes from a configuration file that
// does not exist yet or is still empty. Connecting waits for such files, as
// secrets are often mounted after the program starts, instead of failing.
func fileNotReady(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errFileEmpty)
}

// readConfigFile reads a configuration file; a missing file's error wraps
// fs.ErrNotExist and an empty one's errFileEmpty (see fileNotReady).
func readConfigFile(name string) ([]byte, error) {
	raw, err := os.ReadFile(name)
	if err == nil && len(bytes.TrimSpace(raw)) == 0 {
		err = errFileEmpty
	}
	return raw, err
}

// buildClientConfig assembles the clientv3 configuration. Errors caused by a
// file that does not exist yet or is empty satisfy fileNotReady: the caller
// waits for mounted secrets to appear instead of failing.
func buildClientConfig(o etcdOptions) (clientv3.Config, error) {
	cfg := clientv3.Config{
		DialKeepAliveTime:    o.keepaliveHeartbeat,
		DialKeepAliveTimeout: o.keepaliveTimeout,
		// The largest request etcd accepts is 1.5 MiB by default; allow a
		// little more so that the server, not gRPC, names the problem.
		MaxCallSendMsgSize: 2 * 1024 * 1024,
		// No zap output from the etcd client unless asked for: our own
		// logs say what matters.
		Logger: quietZapLogger(),
	}
	if o.configPath != "" {
		if err := applyConfigFile(&cfg, o.configPath); err != nil {
			return cfg, err
		}
	}
	if len(o.address) > 0 {
		cfg.Endpoints = append([]string(nil), o.address...)
	}
	if len(cfg.Endpoints) == 0 {
		return cfg, fmt.Errorf("%w: no etcd endpoints: %s lists none and %s is not set",
			kvstore.ErrInvalidConfig, o.configPath, kvstore.EtcdAddrOption)
	}
	shuffle(cfg.Endpoints)
	return cfg, nil
}

func applyConfigFile(cfg *clientv3.Config, path string) error {
	raw, err := readConfigFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("etcd config file %s does not exist (yet): %w", path, err)
	case errors.Is(err, errFileEmpty):
		return fmt.Errorf("etcd config file %s: %w", path, err)
	case err != nil:
		return fmt.Errorf("%w: reading etcd config file: %v", kvstore.ErrInvalidConfig, err)
	}
	var fc etcdFileConfig
	if err := yaml.UnmarshalStrict(raw, &fc); err != nil {
		return fmt.Errorf("%w: etcd config file %s is not valid YAML of the etcd client format "+
			"(keys: endpoints, trusted-ca-file, cert-file, key-file, username, password): %v",
			kvstore.ErrInvalidConfig, path, err)
	}
	cfg.Endpoints = fc.Endpoints
	cfg.Username = fc.Username
	cfg.Password = fc.Password
	if fc.DialTimeout > 0 {
		cfg.DialTimeout = fc.DialTimeout
	}
	if fc.InsecureTransport {
		return nil
	}
	ca := fc.TrustedCAFile
	if ca == "" {
		ca = fc.CAFile
	}
	if ca == "" && fc.CertFile == "" && fc.KeyFile == "" && !fc.InsecureSkipTLSVerify && !anyHTTPS(fc.Endpoints) {
		return nil
	}
	tlsCfg, err := buildTLS(path, ca, fc.CertFile, fc.KeyFile, fc.InsecureSkipTLSVerify)
	if err != nil {
		return err
	}
	cfg.TLS = tlsCfg
	return nil
}

// buildTLS loads the CA and checks the client key pair once, so that broken
// material is reported at start; afterwards the key pair is read again on
// every handshake, so that rotated certificates need no restart.
func buildTLS(path, caFile, certFile, keyFile string, skipVerify bool) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify} //nolint:gosec // opt-in from the config file
	if caFile != "" {
		pem, err := readConfigFile(caFile)
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
			err = errFileEmpty
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
	case errors.Is(err, errFileEmpty):
		return fmt.Errorf("%s: %s %s: %w", path, field, name, err)
	}
	return fmt.Errorf("%w: %s: %s %s: %v", kvstore.ErrInvalidConfig, path, field, name, err)
}

func anyHTTPS(endpoints []string) bool {
	for _, e := range endpoints {
		if strings.HasPrefix(e, "https://") || strings.HasPrefix(e, "unixs://") {
			return true
		}
	}
	return false
}

// shuffle spreads clients over the endpoints: without it every client pins
// the first endpoint of the list.
func shuffle(endpoints []string) {
	rand.Shuffle(len(endpoints), func(i, j int) { endpoints[i], endpoints[j] = endpoints[j], endpoints[i] })
}
