package cells_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/cilium/hive"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/promise"
)

// A program defaults the backend without touching its FlagSet; the command
// line still wins, and unset fields keep the usual defaults.
func TestAllWithDefaults(t *testing.T) {
	defaults := config.Config{
		KVStore:    kvstore.InMemoryBackendName,
		KVStoreOpt: map[string]string{kvstore.InMemoryStoreOption: t.Name()},
	}

	var p promise.Promise[kvstore.BackendOperations]
	var cfg config.Config
	h, log := newHive(t, nil, cells.AllWithDefaults(defaults), capture(&p),
		cellInvokeConfig(&cfg))
	startHive(t, h, log)
	c, err := await(t, p)
	require.NoError(t, err)
	require.NoError(t, c.Update(t.Context(), "k", []byte("v"), false))
	require.Equal(t, kvstore.InMemoryBackendName, cfg.KVStore)
	require.Equal(t, config.DefaultConfig.KVStoreLeaseTTL, cfg.KVStoreLeaseTTL)
	require.Equal(t, config.DefaultConfig.KVStoreConnectivityTimeout, cfg.KVStoreConnectivityTimeout)

	// The flags show the program's defaults and override them.
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	hive.New(cells.AllWithDefaults(defaults)).RegisterFlags(fs)
	require.Equal(t, kvstore.InMemoryBackendName, fs.Lookup(config.FlagKVStore).DefValue)

	var p2 promise.Promise[kvstore.BackendOperations]
	h2, log2 := newHive(t, []string{"--kvstore="}, cells.AllWithDefaults(defaults), capture(&p2))
	startHive(t, h2, log2)
	_, err = await(t, p2)
	require.ErrorIs(t, err, kvstore.ErrNotConfigured)

	// Parsing flags did not write into the caller's map.
	require.Equal(t, map[string]string{kvstore.InMemoryStoreOption: t.Name()}, defaults.KVStoreOpt)
}

// A typo in --kvstore-opt fails the start from the client's module, with
// the text that lists the valid keys, not from the first cell that happens
// to ask for the client.
func TestConfigErrorComesFromTheClientModule(t *testing.T) {
	var logs bytes.Buffer
	h := hive.New(cells.All)
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--kvstore=etcd", "--kvstore-opt=etcd.adress=http://127.0.0.1:2379"}))
	err := h.Run(slog.New(slog.NewTextHandler(&logs, nil)))
	require.ErrorContains(t, err, `unknown key "etcd.adress"`)
	require.ErrorContains(t, err, "valid keys: etcd.address")

	var failed string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `msg="Invoke failed"`) {
			failed = line
		}
	}
	require.Contains(t, failed, "cells.checkClientConfig", "the failing invoke is the client's")
	require.NotContains(t, failed, "heartbeat")
}
