package kvstore_test

import (
	"strings"
	"testing"

	"github.com/hivekv/kvstore"
)

// Fuzz targets of the root vocabulary (GetScopeFromKey's is
// FuzzGetScopeFromKeyUTF8 in keys_utf8_test.go). `go test` runs their seeds
// every time; `make fuzz-smoke` fuzzes each for a few seconds.

// FuzzStateToCachePrefix: only whole-element prefixes under StatePrefix
// move, they move to the same place under CachePrefix, and a mapped prefix
// maps to itself.
func FuzzStateToCachePrefix(f *testing.F) {
	for _, p := range []string{"", "cilium/state", "cilium/state/", "cilium/state/nodes/v1", "cilium/statefoo", "cilium/cache/x", "other"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, prefix string) {
		got := kvstore.StateToCachePrefix(prefix)
		rest, under := strings.CutPrefix(prefix, kvstore.StatePrefix)
		under = under && (rest == "" || rest[0] == '/')
		switch {
		case under && got != kvstore.CachePrefix+rest:
			t.Fatalf("%q mapped to %q, want %q", prefix, got, kvstore.CachePrefix+rest)
		case !under && got != prefix:
			t.Fatalf("%q is not under %s but mapped to %q", prefix, kvstore.StatePrefix, got)
		}
		if again := kvstore.StateToCachePrefix(got); again != got {
			t.Fatalf("mapping is not stable: %q -> %q -> %q", prefix, got, again)
		}
	})
}

// FuzzBackendOptions: validation never panics, and the typed readers
// backends use (OptionInt, OptionDuration) accept exactly what
// ValidateBackendOptions accepts, with the same message.
func FuzzBackendOptions(f *testing.F) {
	for _, s := range kvstore.OptionSpecs {
		f.Add(s.Key, "1")
		f.Add(s.Key, "-1")
		f.Add(s.Key, "15s")
		f.Add(s.Key, "")
	}
	f.Add("etcd.unknown", "x")
	f.Add("etcd.qps", "99999999999999999999")
	f.Add("etcd.keepaliveTimeout", "-0s")
	ints := map[string]bool{
		kvstore.EtcdRateLimitOption: true, kvstore.EtcdBootstrapRateLimitOption: true,
		kvstore.EtcdMaxInflightOption: true, kvstore.EtcdListLimitOption: true,
	}
	durations := map[string]bool{kvstore.EtcdOptionKeepAliveHeartbeat: true, kvstore.EtcdOptionKeepAliveTimeout: true}
	f.Fuzz(func(t *testing.T, key, value string) {
		opts := map[string]string{key: value}
		var verr error
		for _, b := range kvstore.Backends {
			if err := kvstore.ValidateBackendOptions(b, opts); b == kvstore.EtcdBackendName {
				verr = err
			}
		}
		var rerr error
		switch {
		case ints[key]:
			_, rerr = kvstore.OptionInt(opts, key, 0)
		case durations[key]:
			_, rerr = kvstore.OptionDuration(opts, key, 0)
		default:
			return
		}
		if (verr == nil) != (rerr == nil) {
			t.Fatalf("%s=%q: ValidateBackendOptions says %v, the typed reader %v", key, value, verr, rerr)
		}
		if verr != nil && verr.Error() != rerr.Error() {
			t.Fatalf("two messages for one refusal:\n%v\n%v", verr, rerr)
		}
	})
}
