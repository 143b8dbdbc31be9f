package mesh_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/mesh"
	"github.com/hivekv/kvstore/store"
)

// TestScript runs testdata/*.txtar against a hive of cells.Client,
// store.Cell, mesh.Cell and the script commands of cells and mesh, with the
// package's shared etcd as the local kvstore and one more etcd as the remote
// clusters' (each script uses cluster names of its own).
//
// The scripts share the local etcd, so each runs with
// --kvstoremesh-drain-orphans=false: otherwise each mesh would drain the
// clusters of the others.
//
// Variables: $CONFIGDIR (a directory private to the script, for the
// clustermesh config files), $REMOTECFG (a config file of the remote etcd),
// $DEADCFG (a config file of an endpoint nobody listens on). Commands added
// for the scripts:
//
//	remote/put KEY VALUE   write KEY in the remote etcd
//	remote/delete KEY      delete it
//	rival/lock PATH        take PATH with a client of its own (another replica)
//	rival/unlock           release it and close that client
func TestScript(t *testing.T) {
	remote := hivetest.StartServer(t)
	dir := t.TempDir()
	remoteCfg := filepath.Join(dir, "remote.yaml")
	require.NoError(t, hivetest.WriteClientConfigFileTo(remoteCfg, hivetest.ClientFileOptions{Endpoints: remote.Endpoints()}))
	deadCfg := filepath.Join(dir, "dead.yaml")
	require.NoError(t, hivetest.WriteClientConfigFileTo(deadCfg, hivetest.ClientFileOptions{Endpoints: []string{"http://127.0.0.1:1"}}))
	rcli := remote.Client(t)

	hivetest.RunScripts(t, hivetest.ScriptSuite{
		MinScripts: 5,
		Vars: func(t *testing.T) map[string]string {
			return map[string]string{"CONFIGDIR": t.TempDir(), "REMOTECFG": remoteCfg, "DEADCFG": deadCfg}
		},
		Hive: func(tb testing.TB, logger *logrus.Logger) (*hive.Hive, map[string]script.Cmd) {
			opts := &mesh.Options{
				RetryMin:       20 * time.Millisecond,
				RetryMax:       200 * time.Millisecond,
				StatusInterval: 50 * time.Millisecond,
				RemoteExtra:    &kvstore.ExtraOptions{ConnectivityTimeout: 2 * time.Second, Logger: logger},
			}
			h := hive.NewWithOptions(cells.LogrusOptions(),
				cell.Provide(func() logrus.FieldLogger { return logger }),
				cell.Provide(func() *mesh.Options { return opts }),
				cells.Client,
				store.Cell,
				mesh.Cell,
				cells.ScriptCommands,
				mesh.ScriptCommands,
			)
			r := &rival{srv: hivetest.SharedServer(tb)}
			tb.Cleanup(r.release)
			return h, map[string]script.Cmd{
				"remote/put":    remoteCmd(rcli, true),
				"remote/delete": remoteCmd(rcli, false),
				"rival/lock":    r.lockCmd(),
				"rival/unlock":  r.unlockCmd(),
			}
		},
	})
}

func remoteCmd(cli *clientv3.Client, put bool) script.Cmd {
	return script.Command(script.CmdUsage{Summary: "write or delete a key of the remote etcd", Args: "key [value]"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			var err error
			switch {
			case put && len(args) == 2:
				_, err = cli.Put(s.Context(), args[0], args[1])
			case !put && len(args) == 1:
				_, err = cli.Delete(s.Context(), args[0])
			default:
				return nil, script.ErrUsage
			}
			return nil, err
		})
}

// rival is another replica's hold of the leader lock.
type rival struct {
	srv  *hivetest.Server
	mu   sync.Mutex
	cl   kvstore.BackendOperations
	lock kvstore.KVLocker
}

func (r *rival) lockCmd() script.Cmd {
	return script.Command(script.CmdUsage{Summary: "take a lock with a client of its own", Args: "path"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, script.ErrUsage
			}
			log, _ := quietLogger()
			cl, errCh := client.NewClient(s.Context(), kvstore.EtcdBackendName,
				map[string]string{kvstore.EtcdAddrOption: r.srv.Endpoint()}, &kvstore.ExtraOptions{Logger: log})
			if cl == nil {
				return nil, <-errCh
			}
			if err := <-errCh; err != nil {
				cl.Close()
				return nil, err
			}
			l, err := cl.LockPath(s.Context(), args[0])
			if err != nil {
				cl.Close()
				return nil, fmt.Errorf("rival lock: %w", err)
			}
			r.mu.Lock()
			r.cl, r.lock = cl, l
			r.mu.Unlock()
			return nil, nil
		})
}

func (r *rival) unlockCmd() script.Cmd {
	return script.Command(script.CmdUsage{Summary: "release the rival's lock"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			r.release()
			return nil, nil
		})
}

func (r *rival) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = r.lock.Unlock(ctx)
		cancel()
		r.cl.Close()
		r.lock, r.cl = nil, nil
	}
}
