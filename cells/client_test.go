package cells_test

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	logrustest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
)

func TestCellClientConnectsAndClosesOnStop(t *testing.T) {
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, etcdArgs(t), cells.Client, capture(&p))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, h.Start(log, ctx))

	c, err := await(t, p)
	require.NoError(t, err)
	key := hivetest.UniquePrefix(t) + "k"
	require.NoError(t, c.Update(ctx, key, []byte("v"), false))
	got, err := c.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "v", string(got))

	require.NoError(t, h.Stop(log, ctx))
	_, err = c.Get(ctx, key)
	require.ErrorIs(t, err, kvstore.ErrClientClosed, "the cell closes the client on stop")
}

func TestCellClientNotConfigured(t *testing.T) {
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, nil, cells.Client, capture(&p))
	startHive(t, h, log)
	_, err := await(t, p)
	require.ErrorIs(t, err, kvstore.ErrNotConfigured)
	require.EqualError(t, err, "kvstore not configured")
}

func TestCellClientInvalidConfigFailsPopulate(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want error
		text string
	}{
		"unknown backend": {[]string{"--kvstore=zookeeper"}, kvstore.ErrUnknownBackend, "--kvstore=zookeeper"},
		"unknown option":  {etcdArgs(t, "--kvstore-opt=etcd.bogus=1"), kvstore.ErrInvalidOption, `"etcd.bogus"`},
		"no endpoint":     {[]string{"--kvstore=etcd"}, kvstore.ErrInvalidConfig, "etcd.address"},
		"short lease ttl": {etcdArgs(t, "--kvstore-lease-ttl=1s"), kvstore.ErrInvalidConfig, "--kvstore-lease-ttl"},
	} {
		t.Run(name, func(t *testing.T) {
			var p promise.Promise[kvstore.BackendOperations]
			h, log := newHive(t, tc.args, cells.Client, capture(&p))
			err := h.Populate(log)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.text)
			require.ErrorContains(t, err, tc.want.Error())
		})
	}
}

func TestCellClientConnectFailureShutsHiveDown(t *testing.T) {
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, []string{
		"--kvstore=etcd",
		"--kvstore-opt=etcd.address=" + unreachableEndpoint(t),
		"--kvstore-connectivity-timeout=300ms",
	}, cells.Client, capture(&p))

	runErr := make(chan error, 1)
	go func() { runErr <- h.Run(log) }()
	select {
	case err := <-runErr:
		require.ErrorContains(t, err, "failed connecting to kvstore")
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	case <-time.After(testTimeout):
		t.Fatal("the hive did not shut down after the connection failed")
	}
	_, err := await(t, p)
	require.ErrorContains(t, err, "failed connecting to kvstore")
}

func TestCellClientStopCancelsPendingConnection(t *testing.T) {
	rec := newShutdownRecorder()
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, []string{
		"--kvstore=etcd",
		"--kvstore-opt=etcd.address=" + unreachableEndpoint(t),
		"--kvstore-connectivity-timeout=10m",
	}, rec.decorate(cells.Client), capture(&p))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, h.Start(log, ctx), "start must not wait for the connection")
	require.NoError(t, h.Stop(log, ctx))

	_, err := await(t, p)
	require.ErrorIs(t, err, kvstore.ErrClientClosed)
	select {
	case err := <-rec.errs:
		t.Fatalf("stopping is not a connection failure, yet the cell shut the hive down: %v", err)
	default:
	}
}

func TestCellClientOptionalInputs(t *testing.T) {
	logger, hook := logrustest.NewNullLogger()
	reg := prometheus.NewRegistry()
	extra := &kvstore.ExtraOptions{ClusterName: "cluster-x"}
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, etcdArgs(t),
		cell.Provide(
			func() logrus.FieldLogger { return logger },
			func() *kvstore.ExtraOptions { return extra },
			func() prometheus.Registerer { return reg },
		),
		cells.Client, capture(&p))
	startHive(t, h, log)
	c, err := await(t, p)
	require.NoError(t, err)
	require.NoError(t, c.Update(context.Background(), hivetest.UniquePrefix(t)+"k", []byte("v"), false))

	var msgs []string
	for _, e := range hook.AllEntries() {
		msgs = append(msgs, e.Message)
	}
	require.Contains(t, msgs, "Establishing connection to kvstore", "the cell logs through the provided logger")
	require.Contains(t, msgs, "Connection to kvstore successfully established")
	require.Equal(t, &kvstore.ExtraOptions{ClusterName: "cluster-x"}, extra, "the provided options are not modified")

	families, err := reg.Gather()
	require.NoError(t, err)
	require.NotEmpty(t, families, "the client registers its metrics in the provided registry")
}

func TestCellUserMgmtClientFollowsClient(t *testing.T) {
	var (
		p  promise.Promise[kvstore.BackendOperations]
		up promise.Promise[kvstore.BackendOperationsUserMgmt]
	)
	h, log := newHive(t, etcdArgs(t), cells.Client, cells.UserMgmtClient, capture(&p), capture(&up))
	startHive(t, h, log)
	c, err := await(t, p)
	require.NoError(t, err)
	u, err := await(t, up)
	require.NoError(t, err)
	require.Same(t, c, u.(kvstore.BackendOperations))

	h2, log2 := newHive(t, nil, cells.Client, cells.UserMgmtClient, capture(&up))
	startHive(t, h2, log2)
	_, err = await(t, up)
	require.ErrorIs(t, err, kvstore.ErrNotConfigured)
}

func TestCellClientInMemory(t *testing.T) {
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, []string{"--kvstore=in-memory", "--kvstore-opt=in-memory.store=" + t.Name()},
		cells.Client, capture(&p))
	startHive(t, h, log)
	c, err := await(t, p)
	require.NoError(t, err)
	require.NoError(t, c.Update(context.Background(), "k", []byte("v"), true))
	got, err := c.Get(context.Background(), "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(got))
}

// unreachableEndpoint returns an address where nothing listens: port 1 on
// loopback refuses connections at once.
func unreachableEndpoint(*testing.T) string { return "http://127.0.0.1:1" }
