package mesh_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/mesh"
	"github.com/hivekv/kvstore/store"
)

const waitFor = 30 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// clusterName makes a cluster name unique to the test: the tests share the
// local etcd and its cilium/cache/<resource>/<cluster> prefixes.
func clusterName(t testing.TB, base string) string {
	tok := strings.ToLower(strings.NewReplacer("/", "", "_", "").Replace(t.Name()))
	if len(tok) > 20 {
		tok = tok[len(tok)-20:]
	}
	return strings.Trim(base+"-"+tok, "-")
}

// k8sDir is a config directory laid out as Kubernetes mounts a secret: each
// file is a symlink into ..data, itself a symlink to a timestamped
// directory that is swapped atomically on every update.
type k8sDir struct {
	dir string
	gen int
	cur map[string]string
}

func newK8sDir(t testing.TB) *k8sDir { return &k8sDir{dir: t.TempDir(), cur: map[string]string{}} }

// set replaces the directory's content with files, atomically.
func (d *k8sDir) set(t testing.TB, files map[string]string) {
	t.Helper()
	d.gen++
	gen := fmt.Sprintf("..2026_12_08_%04d", d.gen)
	require.NoError(t, os.Mkdir(filepath.Join(d.dir, gen), 0o755))
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(d.dir, gen, name), []byte(content), 0o600))
	}
	tmp := filepath.Join(d.dir, "..data_tmp")
	require.NoError(t, os.Symlink(gen, tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(d.dir, "..data")))
	for name := range files {
		if _, ok := d.cur[name]; !ok {
			require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(d.dir, name)))
		}
	}
	for name := range d.cur {
		if _, ok := files[name]; !ok {
			require.NoError(t, os.Remove(filepath.Join(d.dir, name)))
		}
	}
	if d.gen > 1 {
		require.NoError(t, os.RemoveAll(filepath.Join(d.dir, fmt.Sprintf("..2026_12_08_%04d", d.gen-1))))
	}
	d.cur = files
}

// configOf is the content of a config file for srv.
func configOf(t testing.TB, endpoints ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cfg.yaml")
	require.NoError(t, hivetest.WriteClientConfigFileTo(p, hivetest.ClientFileOptions{Endpoints: endpoints}))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func quietLogger() (*logrus.Logger, *test.Hook) {
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	return l, hook
}

// localClient connects a client of ours to srv.
func localClient(t testing.TB, srv *hivetest.Server, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	t.Helper()
	if extra == nil {
		extra = &kvstore.ExtraOptions{}
	}
	if extra.Logger == nil {
		extra.Logger, _ = quietLogger()
	}
	c, errCh := client.NewClient(context.Background(), kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption:      srv.Endpoint(),
		kvstore.EtcdRateLimitOption: "100000",
	}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	select {
	case err := <-errCh:
		require.NoError(t, err, "connecting to etcd")
	case <-time.After(waitFor):
		t.Fatalf("not connected to etcd within %s", waitFor)
	}
	return c
}

// fastOptions are mesh options for tests: quick retries, quiet logs.
func fastOptions() mesh.Options {
	log, _ := quietLogger()
	return mesh.Options{
		Log:            log,
		Factory:        store.NewFactory(store.WithLogger(log)),
		RetryMin:       20 * time.Millisecond,
		RetryMax:       200 * time.Millisecond,
		StatusInterval: 50 * time.Millisecond,
		RemoteOptions:  map[string]string{kvstore.EtcdRateLimitOption: "100000"},
		RemoteExtra:    &kvstore.ExtraOptions{ConnectivityTimeout: 2 * time.Second},
	}
}

func fastConfig(dir, local string) mesh.Config {
	c := mesh.DefaultConfig
	c.ClustermeshConfig = dir
	c.ClusterName = local
	c.ClustermeshConfigPollInterval = 20 * time.Millisecond
	c.ClustermeshDrainGracePeriod = 100 * time.Millisecond
	// The tests share the local etcd: each mesh would drain the others'
	// clusters as orphans.
	c.KVStoremeshDrainOrphans = false
	return c
}

// runMesh runs m on local until the test ends.
func runMesh(t testing.TB, m *mesh.Mesh, local kvstore.BackendOperations) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.Run(ctx, local)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// keys lists the keys under prefix straight from srv.
func keys(t testing.TB, cli *clientv3.Client, prefix string) map[string]string {
	t.Helper()
	resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

func clusterStatus(m *mesh.Mesh, name string) (mesh.ClusterStatus, bool) {
	for _, c := range m.Status().Clusters {
		if c.Name == name {
			return c, true
		}
	}
	return mesh.ClusterStatus{}, false
}
