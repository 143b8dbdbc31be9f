package etcd

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/etcdfile"
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

// etcdFileConfig is the etcd client configuration file (etcdfile.Config).
type etcdFileConfig = etcdfile.Config

// fileNotReady is etcdfile.NotReady.
func fileNotReady(err error) bool { return etcdfile.NotReady(err) }

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

// applyConfigFile sets cfg's endpoints, credentials, dial timeout and TLS
// from the configuration file at path (see etcdfile.Load).
func applyConfigFile(cfg *clientv3.Config, path string) error {
	fc, tlsCfg, err := etcdfile.Load(path)
	if err != nil {
		return err
	}
	cfg.Endpoints = fc.Endpoints
	cfg.Username = fc.Username
	cfg.Password = fc.Password
	if fc.DialTimeout > 0 {
		cfg.DialTimeout = fc.DialTimeout
	}
	cfg.TLS = tlsCfg
	return nil
}

// anyHTTPS is etcdfile.AnyHTTPS.
func anyHTTPS(endpoints []string) bool { return etcdfile.AnyHTTPS(endpoints) }

// shuffle spreads clients over the endpoints: without it every client pins
// the first endpoint of the list.
func shuffle(endpoints []string) {
	rand.Shuffle(len(endpoints), func(i, j int) { endpoints[i], endpoints[j] = endpoints[j], endpoints[i] })
}
