package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
)

// dbg runs etcd.EtcdDbg on the etcd configuration: the etcd.config file,
// or a file written for the etcd.address endpoints, since the report works
// on a client configuration file.
func dbg(ctx context.Context, e *env, _ kvstore.BackendOperations, _ *pflag.FlagSet, _ []string) error {
	if e.cfg.KVStore != kvstore.EtcdBackendName {
		return usagef("dbg: only the etcd backend can be debugged (--kvstore=%s)", e.cfg.KVStore)
	}
	path := e.cfg.KVStoreOpt[kvstore.EtcdOptionConfig]
	if path == "" {
		addr := e.cfg.KVStoreOpt[kvstore.EtcdAddrOption]
		if addr == "" {
			return usagef("dbg: needs --kvstore-opt %s=<url> or %s=<file>", kvstore.EtcdAddrOption, kvstore.EtcdOptionConfig)
		}
		dir, err := os.MkdirTemp("", "kvstorectl-dbg-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "etcd-client.yaml")
		data, err := yaml.Marshal(map[string][]string{"endpoints": strings.Split(addr, ",")})
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("writing a configuration file for %s: %w", addr, err)
		}
	}
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	return etcd.EtcdDbg(ctx, path, nil, e.stdout)
}
