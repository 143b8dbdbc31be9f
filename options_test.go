package kvstore_test

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestValidateBackendOptions(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		opts    map[string]string
		// wantErr is the sentinel the error must wrap; nil means valid.
		wantErr error
		wantMsg []string
	}{
		{name: "etcd, no options", backend: "etcd"},
		{name: "etcd, nil map", backend: "etcd", opts: nil},
		{name: "in-memory, no options", backend: "in-memory"},
		{
			name:    "etcd, every option",
			backend: "etcd",
			opts: map[string]string{
				kvstore.EtcdAddrOption:               "http://a:2379,http://b:2379",
				kvstore.EtcdOptionConfig:             "/etc/etcd.yaml",
				kvstore.EtcdOptionKeepAliveHeartbeat: "15s",
				kvstore.EtcdOptionKeepAliveTimeout:   "25s",
				kvstore.EtcdRateLimitOption:          "20",
				kvstore.EtcdBootstrapRateLimitOption: "0",
				kvstore.EtcdMaxInflightOption:        "0",
				kvstore.EtcdListLimitOption:          "0",
			},
		},
		{name: "in-memory store", backend: "in-memory", opts: map[string]string{kvstore.InMemoryStoreOption: "s1"}},
		{
			name:    "unknown backend lists valid ones",
			backend: "consul",
			wantErr: kvstore.ErrUnknownBackend,
			wantMsg: []string{`"consul"`, "use one of etcd, in-memory"},
		},
		{
			name:    "empty backend is unknown",
			backend: "",
			wantErr: kvstore.ErrUnknownBackend,
			wantMsg: []string{`""`, "etcd, in-memory"},
		},
		{
			name:    "backend names are case-sensitive",
			backend: "ETCD",
			wantErr: kvstore.ErrUnknownBackend,
		},
		{
			name:    "unknown key lists valid keys",
			backend: "etcd",
			opts:    map[string]string{"etcd.adress": "http://a:2379"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`unknown key "etcd.adress"`, `backend "etcd"`,
				"valid keys: etcd.address, etcd.bootstrapQps, etcd.config, etcd.keepaliveHeartbeat, etcd.keepaliveTimeout, etcd.limit, etcd.maxInflight, etcd.qps"},
		},
		{
			name:    "keys are case-sensitive",
			backend: "etcd",
			opts:    map[string]string{"etcd.QPS": "5"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`"etcd.QPS"`},
		},
		{
			name:    "in-memory rejects etcd keys",
			backend: "in-memory",
			opts:    map[string]string{kvstore.EtcdAddrOption: "http://a:2379"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`unknown key "etcd.address"`, "valid keys: in-memory.store"},
		},
		{
			name:    "etcd rejects in-memory keys",
			backend: "etcd",
			opts:    map[string]string{kvstore.InMemoryStoreOption: "s1"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`"in-memory.store"`},
		},
		{
			name:    "qps not an integer",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdRateLimitOption: "1.5"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`etcd.qps="1.5"`, "not an integer"},
		},
		{
			name:    "qps zero",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdRateLimitOption: "0"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.qps", "must be positive"},
		},
		{
			name:    "limit negative",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdListLimitOption: "-5"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.limit", "must not be negative"},
		},
		{
			name:    "bootstrapQps not an integer",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdBootstrapRateLimitOption: ""},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.bootstrapQps", "not an integer"},
		},
		{
			name:    "maxInflight not an integer",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdMaxInflightOption: "many"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.maxInflight"},
		},
		{
			name:    "duration without unit",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdOptionKeepAliveHeartbeat: "15"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.keepaliveHeartbeat", "not a duration"},
		},
		{
			name:    "duration zero",
			backend: "etcd",
			opts:    map[string]string{kvstore.EtcdOptionKeepAliveTimeout: "0s"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.keepaliveTimeout", "must be positive"},
		},
		{
			name:    "first bad key in sorted order is reported",
			backend: "etcd",
			opts:    map[string]string{"zzz": "1", "aaa": "1"},
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`"aaa"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kvstore.ValidateBackendOptions(tt.backend, tt.opts)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			for _, m := range tt.wantMsg {
				require.ErrorContains(t, err, m)
			}
		})
	}
}

// OptionSpecs promises to be sorted by key; the "valid keys" lists in error
// messages rely on it.
func TestOptionSpecs(t *testing.T) {
	keys := make([]string, 0, len(kvstore.OptionSpecs))
	seen := map[string]bool{}
	for _, s := range kvstore.OptionSpecs {
		keys = append(keys, s.Key)
		require.False(t, seen[s.Key], "duplicate key %q", s.Key)
		seen[s.Key] = true
		require.Contains(t, kvstore.Backends, s.Backend, s.Key)
		require.NotEmpty(t, s.Description, s.Key)
	}
	require.True(t, sort.StringsAreSorted(keys), "OptionSpecs not sorted: %v", keys)
}
