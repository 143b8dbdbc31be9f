package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/promise"
)

// ScriptCommands provides store/* commands to hive's script engine, on the
// client of the graph's promise.Promise[kvstore.BackendOperations] and the
// Cell's Factory:
//
//	store/upsert [--cluster C] PREFIX NAME VALUE   upsert NAME through the SyncStore of PREFIX
//	store/delete [--cluster C] PREFIX NAME         delete it
//	store/synced [--cluster C] [--timeout D] PREFIX
//	                                               call Synced, wait until the marker is written
//	store/watch [--cluster C] PREFIX FILE          run a WatchStore, appending its events to FILE
//
// The SyncStore of a (cluster, prefix) is created at its first use and runs
// until the hive stops, as do the watch stores. Cluster defaults to
// "default". Failures are also written to stderr.
var ScriptCommands = cell.Module(
	"kvstore-store-script-cmds",
	"KVStore shared store script commands",

	cell.Provide(newStoreScriptCommands),
)

type storeScripts struct {
	client  promise.Promise[kvstore.BackendOperations]
	factory Factory

	mu      sync.Mutex
	ctx     context.Context // nil before start and after stop
	cancel  context.CancelFunc
	running sync.WaitGroup
	stores  map[[2]string]SyncStore
	synced  map[SyncStore]bool // Synced called through store/synced
}

func newStoreScriptCommands(lc cell.Lifecycle, p promise.Promise[kvstore.BackendOperations], f Factory) hive.ScriptCmdsOut {
	st := &storeScripts{client: p, factory: f, stores: map[[2]string]SyncStore{}, synced: map[SyncStore]bool{}}
	lc.Append(st)
	return hive.NewScriptCmds(map[string]script.Cmd{
		"store/upsert": st.upsertCmd(),
		"store/delete": st.deleteCmd(),
		"store/synced": st.syncedCmd(),
		"store/watch":  st.watchCmd(),
	})
}

// Start implements cell.HookInterface.
func (st *storeScripts) Start(cell.HookContext) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ctx, st.cancel = context.WithCancel(context.Background())
	return nil
}

// Stop implements cell.HookInterface: it stops the stores and watches.
func (st *storeScripts) Stop(cell.HookContext) error {
	st.mu.Lock()
	if st.cancel != nil {
		st.cancel()
	}
	st.ctx = nil
	st.stores = map[[2]string]SyncStore{}
	st.mu.Unlock()
	st.running.Wait()
	return nil
}

// goRun runs fn until the hive stops; it fails before start and after stop.
func (st *storeScripts) goRun(fn func(ctx context.Context)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ctx == nil {
		return errors.New("hive not started: run hive/start first")
	}
	ctx := st.ctx
	st.running.Go(func() { fn(ctx) })
	return nil
}

// syncStore returns the running SyncStore of cluster and prefix.
func (st *storeScripts) syncStore(s *script.State, prefix string) (SyncStore, error) {
	cluster, _ := s.Flags.GetString("cluster")
	backend, err := st.backend(s)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	ss, ok := st.stores[[2]string{cluster, prefix}]
	st.mu.Unlock()
	if ok {
		return ss, nil
	}
	ss = st.factory.NewSyncStore(cluster, backend, prefix)
	if err := st.goRun(ss.Run); err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if prev, ok := st.stores[[2]string{cluster, prefix}]; ok {
		return prev, nil // lost a race: the other one runs too, harmlessly idle
	}
	st.stores[[2]string{cluster, prefix}] = ss
	return ss, nil
}

func (st *storeScripts) backend(s *script.State) (kvstore.BackendOperations, error) {
	st.mu.Lock()
	started := st.ctx != nil
	st.mu.Unlock()
	if !started {
		return nil, errors.New("hive not started: run hive/start first")
	}
	return st.client.Await(s.Context())
}

func clusterFlag(fs *pflag.FlagSet) {
	fs.String("cluster", "default", "cluster name of the store")
}

func scriptFailed(err error) (script.WaitFunc, error) {
	return func(*script.State) (string, string, error) { return "", err.Error() + "\n", err }, nil
}

func (st *storeScripts) upsertCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "upsert a key through the sync store of a prefix", Args: "prefix name value", Flags: clusterFlag},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 3 {
				return nil, fmt.Errorf("%w: expected prefix, name and value", script.ErrUsage)
			}
			ss, err := st.syncStore(s, args[0])
			if err != nil {
				return scriptFailed(err)
			}
			if err := ss.UpsertKey(s.Context(), NewKVPair(args[1], args[2])); err != nil {
				return scriptFailed(err)
			}
			return nil, nil
		})
}

func (st *storeScripts) deleteCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "delete a key through the sync store of a prefix", Args: "prefix name", Flags: clusterFlag},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%w: expected prefix and name", script.ErrUsage)
			}
			ss, err := st.syncStore(s, args[0])
			if err != nil {
				return scriptFailed(err)
			}
			if err := ss.DeleteKey(s.Context(), NewKVPair(args[1], "")); err != nil {
				return scriptFailed(err)
			}
			return nil, nil
		})
}

func (st *storeScripts) syncedCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "mark the sync store of a prefix synced and wait for its marker",
			Args:    "prefix",
			Flags: func(fs *pflag.FlagSet) {
				clusterFlag(fs)
				fs.Duration("timeout", 10*time.Second, "how long to wait for the marker")
			},
			Detail: []string{"Only the first call per store waits: later ones return at once."},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected prefix", script.ErrUsage)
			}
			timeout, _ := s.Flags.GetDuration("timeout")
			ss, err := st.syncStore(s, args[0])
			if err != nil {
				return scriptFailed(err)
			}
			st.mu.Lock()
			again := st.synced[ss]
			st.synced[ss] = true
			st.mu.Unlock()
			if again {
				return nil, nil
			}
			done := make(chan struct{})
			var once sync.Once
			if err := ss.Synced(s.Context(), func(context.Context) { once.Do(func() { close(done) }) }); err != nil {
				return scriptFailed(err)
			}
			ctx, cancel := context.WithTimeout(s.Context(), timeout)
			defer cancel()
			select {
			case <-done:
				return nil, nil
			case <-ctx.Done():
				return scriptFailed(fmt.Errorf("synced marker of %q not written within %s", args[0], timeout))
			}
		})
}

func (st *storeScripts) watchCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "run a watch store on a prefix and record its events in a file",
			Args:    "prefix file",
			Flags:   clusterFlag,
			Detail: []string{
				"Returns at once and appends one line per observer call to the file until the hive",
				"stops: 'update <name> <value>', 'delete <name>', and 'synced' at the first ListDone.",
			},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%w: expected prefix and file", script.ErrUsage)
			}
			cluster, _ := s.Flags.GetString("cluster")
			backend, err := st.backend(s)
			if err != nil {
				return scriptFailed(err)
			}
			f, err := os.Create(s.Path(args[1]))
			if err != nil {
				return scriptFailed(err)
			}
			rec := &fileObserver{f: f}
			ws := st.factory.NewWatchStore(cluster, KVPairCreator, rec,
				RWSWithOnSyncCallback(func(context.Context) { rec.line("synced\n") }))
			if err := st.goRun(func(ctx context.Context) {
				defer f.Close()
				ws.Watch(ctx, backend, args[0])
			}); err != nil {
				f.Close()
				return scriptFailed(err)
			}
			return nil, nil
		})
}

// fileObserver appends observer calls to a file.
type fileObserver struct {
	mu sync.Mutex
	f  *os.File
}

func (o *fileObserver) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.f.WriteString(s)
}

func (o *fileObserver) OnUpdate(k Key) {
	v, _ := k.Marshal()
	o.line("update " + k.GetKeyName() + " " + string(v) + "\n")
}

func (o *fileObserver) OnDelete(k NamedKey) { o.line("delete " + k.GetKeyName() + "\n") }
