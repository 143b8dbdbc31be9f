package cells_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/script"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
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
	hivetest.RunScripts(t, hivetest.ScriptSuite{
		Vars: func(t *testing.T) map[string]string { return map[string]string{"HIVE_DIR": t.TempDir()} },
		Logger: func(tb testing.TB, log *logrus.Logger) {
			log.SetLevel(logrus.InfoLevel)
			log.SetOutput(hivetest.TestLogWriter{TB: tb})
		},
		Hive: func(tb testing.TB, logger *logrus.Logger) (*hive.Hive, map[string]script.Cmd) {
			srv := hivetest.SharedServer(tb)
			rec := newShutdownRecorder()
			logs := &logRecorder{}
			logger.AddHook(logs)
			h := hive.NewWithOptions(cells.LogrusOptions(),
				cells.LogrusCell(logger),
				rec.decorate(cells.All, cells.ScriptCommands, users.Cell))
			return h, map[string]script.Cmd{
				"test/shutdown":  rec.cmd(),
				"test/role-add":  roleAddCmd(tb, srv),
				"test/users":     usersCmd(tb, srv),
				"test/etcd-keys": etcdKeysCmd(tb, srv),
				"test/log":       logs.cmd(),
			}
		},
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
