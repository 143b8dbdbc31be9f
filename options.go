package kvstore

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Backend names accepted by --kvstore.
const (
	// EtcdBackendName selects the etcd v3 backend.
	EtcdBackendName = "etcd"
	// InMemoryBackendName selects the in-memory backend: same semantics as
	// etcd, for unit tests; clients of one process with the same
	// InMemoryStoreOption share data.
	InMemoryBackendName = "in-memory"
)

// Backends lists the backend names accepted by --kvstore.
var Backends = []string{EtcdBackendName, InMemoryBackendName}

// Option keys accepted by --kvstore-opt.
const (
	// EtcdAddrOption is a comma-separated list of etcd endpoints.
	EtcdAddrOption = "etcd.address"
	// EtcdOptionConfig is the path of an etcd client YAML file (endpoints,
	// trusted-ca-file, cert-file, key-file, username, password).
	EtcdOptionConfig = "etcd.config"
	// EtcdOptionKeepAliveHeartbeat is the gRPC keepalive ping interval.
	EtcdOptionKeepAliveHeartbeat = "etcd.keepaliveHeartbeat"
	// EtcdOptionKeepAliveTimeout is how long a keepalive ping may go
	// unanswered before the connection is considered dead.
	EtcdOptionKeepAliveTimeout = "etcd.keepaliveTimeout"
	// EtcdRateLimitOption is the client-side rate limit in operations per
	// second (burst equals the rate).
	EtcdRateLimitOption = "etcd.qps"
	// EtcdBootstrapRateLimitOption is the rate limit in force until
	// ExtraOptions.BootstrapComplete is closed.
	EtcdBootstrapRateLimitOption = "etcd.bootstrapQps"
	// EtcdMaxInflightOption bounds concurrent requests (0 = the qps).
	EtcdMaxInflightOption = "etcd.maxInflight"
	// EtcdListLimitOption is the page size of ListAndWatch lists (0 = one
	// page).
	EtcdListLimitOption = "etcd.limit"
	// InMemoryStoreOption names the process-wide in-memory store a client
	// of the in-memory backend attaches to ("default" if unset).
	InMemoryStoreOption = "in-memory.store"
)

// Option defaults.
const (
	DefaultKeepAliveHeartbeat = 15 * time.Second
	DefaultKeepAliveTimeout   = 25 * time.Second
	DefaultQPS                = 20
	DefaultListLimit          = 256
)

// OptionSpec describes one --kvstore-opt key.
type OptionSpec struct {
	// Key is the option key.
	Key string
	// Backend is the backend the option applies to.
	Backend string
	// Description is a one-line help text.
	Description string
	// Validate checks a value; nil accepts any string.
	Validate func(string) error
}

// OptionSpecs lists every option key, sorted by key.
var OptionSpecs = []OptionSpec{
	{EtcdAddrOption, EtcdBackendName, "comma-separated etcd endpoints, e.g. http://127.0.0.1:2379", nil},
	{EtcdBootstrapRateLimitOption, EtcdBackendName, "operations per second until bootstrap completes (0 = use etcd.qps)", validateNonNegativeInt},
	{EtcdOptionConfig, EtcdBackendName, "path of an etcd client YAML configuration file", nil},
	{EtcdOptionKeepAliveHeartbeat, EtcdBackendName, "gRPC keepalive interval, e.g. 15s", validatePositiveDuration},
	{EtcdOptionKeepAliveTimeout, EtcdBackendName, "gRPC keepalive timeout, e.g. 25s", validatePositiveDuration},
	{EtcdListLimitOption, EtcdBackendName, "ListAndWatch page size (0 = unlimited)", validateNonNegativeInt},
	{EtcdMaxInflightOption, EtcdBackendName, "maximum concurrent requests (0 = etcd.qps)", validateNonNegativeInt},
	{EtcdRateLimitOption, EtcdBackendName, "operations per second (burst = qps)", validatePositiveInt},
	{InMemoryStoreOption, InMemoryBackendName, "name of the process-wide in-memory store to attach to", nil},
}

// ValidateBackendOptions checks that backend is known and that every key of
// opts is valid for it with a value that parses. The error names the culprit
// and lists what is accepted.
func ValidateBackendOptions(backend string, opts map[string]string) error {
	if !isKnownBackend(backend) {
		return fmt.Errorf("%w %q: use one of %s", ErrUnknownBackend, backend, strings.Join(Backends, ", "))
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec, ok := lookupOption(backend, k)
		if !ok {
			return fmt.Errorf("%w: unknown key %q for backend %q; valid keys: %s",
				ErrInvalidOption, k, backend, strings.Join(optionKeys(backend), ", "))
		}
		if err := spec.check(opts[k]); err != nil {
			return err
		}
	}
	return nil
}

// check runs the spec's validation, wording a refusal as every caller
// reports it.
func (s OptionSpec) check(v string) error {
	if s.Validate == nil {
		return nil
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalidOption, s.Key, v, err)
	}
	return nil
}

// OptionInt returns the integer option key of opts, or def when opts does
// not set it. Backends read their options through it (and OptionDuration),
// so that a value is checked by the one table, OptionSpecs, with the
// messages ValidateBackendOptions gives.
func OptionInt(opts map[string]string, key string, def int) (int, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	if err := checkKnown(key, v); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q: not an integer", ErrInvalidOption, key, v)
	}
	return n, nil
}

// OptionDuration returns the duration option key of opts, or def when opts
// does not set it; see OptionInt.
func OptionDuration(opts map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	if err := checkKnown(key, v); err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q: not a duration (use e.g. 15s)", ErrInvalidOption, key, v)
	}
	return d, nil
}

// checkKnown validates v as the value of key, whichever backend owns it.
func checkKnown(key, v string) error {
	for _, s := range OptionSpecs {
		if s.Key == key {
			return s.check(v)
		}
	}
	return fmt.Errorf("%w: unknown key %q", ErrInvalidOption, key)
}

func isKnownBackend(name string) bool {
	for _, b := range Backends {
		if b == name {
			return true
		}
	}
	return false
}

func lookupOption(backend, key string) (OptionSpec, bool) {
	for _, s := range OptionSpecs {
		if s.Key == key && s.Backend == backend {
			return s, true
		}
	}
	return OptionSpec{}, false
}

func optionKeys(backend string) []string {
	var keys []string
	for _, s := range OptionSpecs {
		if s.Backend == backend {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

func validatePositiveDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration (use e.g. 15s)")
	}
	if d <= 0 {
		return fmt.Errorf("must be positive")
	}
	return nil
}

func validateNonNegativeInt(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	if n < 0 {
		return fmt.Errorf("must not be negative")
	}
	return nil
}

func validatePositiveInt(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	if n <= 0 {
		return fmt.Errorf("must be positive")
	}
	return nil
}
