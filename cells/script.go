package cells

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/promise"
)

// ScriptCommands provides kvstore/* commands to hive's script engine (hive
// script tests via h.ScriptCommands, hive.RunRepl, the hive shell):
//
//	kvstore/update [-f] [--lease] KEY VALUE   write VALUE (with -f: the file VALUE)
//	kvstore/get KEY                           print the value and a newline
//	kvstore/delete [--prefix] KEY             delete KEY (or every key under it)
//	kvstore/list [-o plain|json] [--keys-only|--values-only] [PREFIX] [FILE]
//	kvstore/watch PREFIX FILE                 append the events of PREFIX to FILE
//	kvstore/lock [--timeout D] PATH           take the lock PATH and hold it
//	kvstore/unlock PATH                       release it
//	kvstore/status                            print "<State>: <Msg>"
//
// The commands await the Client cell's promise with the script's context, so
// they fail with the promise's error (kvstore not configured, connection
// failed) rather than hang; before hive/start they fail at once. Failures
// are also written to stderr, so scripts can match them with `stderr`.
//
// They write to the store, so they are meant for tests and operator shells,
// not for every production hive: add the cell explicitly, All does not.
var ScriptCommands = cell.Module(
	"kvstore-script-cmds",
	"KVStore script commands",

	cell.Provide(newScriptCommands),
)

// scriptState is what the commands of one hive share: the client promise,
// the held locks and the running watches. Locks still held and watches still
// running are released and stopped when the hive stops.
type scriptState struct {
	client  promise.Promise[kvstore.BackendOperations]
	started atomic.Bool

	mu       sync.Mutex
	locks    map[string]kvstore.KVLocker
	watchCtx context.Context
	stop     context.CancelFunc
	watches  sync.WaitGroup
}

func newScriptCommands(lc cell.Lifecycle, p promise.Promise[kvstore.BackendOperations]) hive.ScriptCmdsOut {
	st := &scriptState{client: p, locks: map[string]kvstore.KVLocker{}}
	lc.Append(st)
	return hive.NewScriptCmds(map[string]script.Cmd{
		"kvstore/update": st.updateCmd(),
		"kvstore/get":    st.getCmd(),
		"kvstore/delete": st.deleteCmd(),
		"kvstore/list":   st.listCmd(),
		"kvstore/watch":  st.watchCmd(),
		"kvstore/lock":   st.lockCmd(),
		"kvstore/unlock": st.unlockCmd(),
		"kvstore/status": st.statusCmd(),
	})
}

// Start implements cell.HookInterface.
func (st *scriptState) Start(cell.HookContext) error {
	st.mu.Lock()
	st.watchCtx, st.stop = context.WithCancel(context.Background())
	st.mu.Unlock()
	st.started.Store(true)
	return nil
}

// Stop implements cell.HookInterface: it stops the watches and releases the
// locks the script still holds, so that the client (stopped after this hook)
// closes with nothing of the script pending.
func (st *scriptState) Stop(ctx cell.HookContext) error {
	st.started.Store(false)
	st.mu.Lock()
	st.stop()
	locks := st.locks
	st.locks = map[string]kvstore.KVLocker{}
	st.mu.Unlock()
	st.watches.Wait()
	var errs []error
	for path, l := range locks {
		if err := l.Unlock(ctx); err != nil {
			errs = append(errs, fmt.Errorf("releasing script lock %q: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// backend awaits the client for a command.
func (st *scriptState) backend(s *script.State) (kvstore.BackendOperations, error) {
	if !st.started.Load() {
		return nil, errors.New("hive not started: run hive/start first")
	}
	return st.client.Await(s.Context())
}

// failed reports err as the command's error and on its stderr, so that a
// script can both expect the failure (`! cmd`) and match its text.
func failed(err error) (script.WaitFunc, error) {
	return func(*script.State) (string, string, error) {
		return "", err.Error() + "\n", err
	}, nil
}

// output returns a WaitFunc that prints stdout.
func output(stdout string) (script.WaitFunc, error) {
	return func(*script.State) (string, string, error) { return stdout, "", nil }, nil
}
