package cells_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/script"
	"github.com/cilium/hive/script/scripttest"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/users"
)

// TestScript runs every testdata/*.txtar against a hive of its own, built
// from cells.All, cells.ScriptCommands and users.Cell, on the package's
// shared etcd.
//
// The "#!" first line of a script holds the hive's flags. The runner expands
// $ETCD (the shared server's endpoint) and $HIVE_DIR (a directory private to
// the script, for files the hive reads, such as the users file) in it, and
// adds --kvstore-opt=etcd.address=$ETCD to a --kvstore=etcd hive that names
// no etcd.address or etcd.config itself. Both variables are also in the
// script's environment. Scripts run in parallel, so each keeps to its own
// keys (script/<name>/, wiped before the script starts), users and roles.
//
// Besides hive/*, kvstore/* and the default commands, the runner provides:
//
//	test/shutdown [--timeout D]      wait for a cell to shut the hive down; print its error
//	test/role-add NAME [PREFIX...]   create an etcd role with read-write access to PREFIXes
//	test/users PREFIX                print the etcd users named PREFIX*: "name: role,role"
//	test/log REGEX                   succeed if a log line so far matches REGEX (use with '*')
//	test/etcd-keys PREFIX            print the keys under PREFIX, read straight from etcd
//	                                 (works after hive/stop, when kvstore/* no longer do)
//
// When the hive cannot be populated (a bad flag value), hive/start fails
// with the populate error, on stderr too.
func TestScript(t *testing.T) {
	srv := hivetest.SharedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	files, err := filepath.Glob("testdata/*.txtar")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		// One scripttest.Test per file, so that each script gets its own
		// $HIVE_DIR.
		hiveDir := t.TempDir()
		vars := map[string]string{"ETCD": srv.Endpoint(), "HIVE_DIR": hiveDir}
		env := []string{"ETCD=" + vars["ETCD"], "HIVE_DIR=" + hiveDir}
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		scripttest.Test(t, ctx, func(tb testing.TB, args []string) *script.Engine {
			// Start from a clean key space: a previous run (-count) of
			// the same script left its keys on the shared server.
			_, err := srv.Client(tb).Delete(ctx, "script/"+name, clientv3.WithPrefix())
			require.NoError(tb, err)
			return newScriptEngine(tb, srv, hiveArgs(args, vars))
		}, env, file)
	}
}

// hiveArgs expands the runner's variables in the shebang arguments and
// points an etcd hive at the shared server unless the script chose a server.
func hiveArgs(args []string, vars map[string]string) []string {
	out := make([]string, 0, len(args)+1)
	etcd, hasServer := false, false
	for _, a := range args {
		if a == "" {
			continue
		}
		a = os.Expand(a, func(k string) string { return vars[k] })
		etcd = etcd || a == "--kvstore=etcd"
		hasServer = hasServer || strings.Contains(a, "etcd.address=") || strings.Contains(a, "etcd.config=")
		out = append(out, a)
	}
	if etcd && !hasServer {
		out = append(out, "--kvstore-opt=etcd.address="+vars["ETCD"])
	}
	return out
}

func newScriptEngine(tb testing.TB, srv *hivetest.Server, args []string) *script.Engine {
	rec := newShutdownRecorder()
	logger := logrus.New()
	logger.SetOutput(testWriter{tb})
	logs := &logRecorder{}
	logger.AddHook(logs)
	h := hive.NewWithOptions(cells.LogrusOptions(),
		cells.LogrusCell(logger),
		rec.decorate(cells.All, cells.ScriptCommands, users.Cell))
	fs := pflag.NewFlagSet(tb.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(tb, fs.Parse(args), "parsing the flags of the #! line")
	log := cells.NewSlogLogger(logger)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		assert.NoError(tb, h.Stop(log, ctx))
	})

	cmds, err := h.ScriptCommands(log)
	if err != nil {
		cmds = map[string]script.Cmd{"hive/start": failingCmd("start the hive (populate failed)", err)}
	}
	maps.Insert(cmds, maps.All(script.DefaultCmds()))
	cmds["test/shutdown"] = rec.cmd()
	cmds["test/role-add"] = roleAddCmd(tb, srv)
	cmds["test/users"] = usersCmd(tb, srv)
	cmds["test/etcd-keys"] = etcdKeysCmd(tb, srv)
	cmds["test/log"] = logs.cmd()
	return &script.Engine{
		Cmds:             cmds,
		Conds:            scripttest.DefaultConds(),
		RetryInterval:    20 * time.Millisecond,
		MaxRetryInterval: 200 * time.Millisecond,
	}
}

func failingCmd(summary string, err error) script.Cmd {
	return script.Command(script.CmdUsage{Summary: summary},
		func(*script.State, ...string) (script.WaitFunc, error) {
			return func(*script.State) (string, string, error) { return "", err.Error() + "\n", err }, nil
		})
}

func (r *shutdownRecorder) cmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "wait for a cell to shut the hive down and print the error",
			Flags:   func(fs *pflag.FlagSet) { fs.Duration("timeout", 10*time.Second, "how long to wait") },
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			timeout, _ := s.Flags.GetDuration("timeout")
			ctx, cancel := context.WithTimeout(s.Context(), timeout)
			defer cancel()
			select {
			case err := <-r.errs:
				if err == nil {
					return func(*script.State) (string, string, error) { return "shutdown without error\n", "", nil }, nil
				}
				return func(*script.State) (string, string, error) { return err.Error() + "\n", "", nil }, nil
			case <-ctx.Done():
				return nil, errors.New("the hive was not shut down")
			}
		})
}

func roleAddCmd(tb testing.TB, srv *hivetest.Server) script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "create an etcd role with read-write access to prefixes", Args: "name [prefix...]"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) < 1 {
				return nil, script.ErrUsage
			}
			var perms []hivetest.Permission
			for _, p := range args[1:] {
				perms = append(perms, hivetest.ReadWritePrefix(p))
			}
			srv.CreateRole(tb, args[0], perms...)
			return nil, nil
		})
}

func usersCmd(tb testing.TB, srv *hivetest.Server) script.Cmd {
	cli := srv.Client(tb)
	return script.Command(
		script.CmdUsage{Summary: "print the etcd users whose name starts with prefix", Args: "prefix"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, script.ErrUsage
			}
			resp, err := cli.UserList(s.Context())
			if err != nil {
				return nil, err
			}
			var sb strings.Builder
			for _, n := range slices.Sorted(slices.Values(resp.Users)) {
				if !strings.HasPrefix(n, args[0]) {
					continue
				}
				u, err := cli.UserGet(s.Context(), n)
				if err != nil {
					continue // deleted meanwhile
				}
				fmt.Fprintf(&sb, "%s: %s\n", n, strings.Join(u.Roles, ","))
			}
			out := sb.String()
			return func(*script.State) (string, string, error) { return out, "", nil }, nil
		})
}

func etcdKeysCmd(tb testing.TB, srv *hivetest.Server) script.Cmd {
	cli := srv.Client(tb)
	return script.Command(
		script.CmdUsage{Summary: "print the keys under prefix, read from etcd without the hive's client", Args: "prefix"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, script.ErrUsage
			}
			resp, err := cli.Get(s.Context(), args[0], clientv3.WithPrefix(), clientv3.WithKeysOnly())
			if err != nil {
				return nil, err
			}
			var sb strings.Builder
			for _, kv := range resp.Kvs {
				fmt.Fprintf(&sb, "%s\n", kv.Key)
			}
			out := sb.String()
			return func(*script.State) (string, string, error) { return out, "", nil }, nil
		})
}

// logRecorder keeps the hive's log lines for test/log, so that a script can
// wait for something that has no other visible effect (such as a malformed
// users file being read and ignored).
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Levels() []logrus.Level { return logrus.AllLevels }

func (r *logRecorder) Fire(e *logrus.Entry) error {
	line, err := e.String()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) cmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary:    "succeed if a log line of the hive matches a regexp",
			Args:       "regexp",
			RegexpArgs: func(...string) []int { return []int{0} },
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, script.ErrUsage
			}
			re, err := regexp.Compile(args[0])
			if err != nil {
				return nil, err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, l := range r.lines {
				if re.MatchString(l) {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("no log line matches %q", args[0])
		})
}
