package allocator

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/spf13/pflag"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/promise"
)

// ScriptCommands provides allocator/* commands to hive's script engine
// (script tests, hive shells), on the Allocator of Cell:
//
//	allocator/allocate KEY       print "id=<ID> new=<bool> first=<bool>"
//	allocator/release KEY        print "last=<bool>"
//	allocator/get [--id] ARG     print the ID of key ARG (0 if none), or with --id the key of ID ARG
//	allocator/gc [--rounds N]    run N GC rounds (default 2), print "alive=<n> deleted=<n>" per round
//
// They await the Cell's promise with the script's context, so they fail with
// its error rather than hang. Failures are also written to stderr.
var ScriptCommands = cell.Module(
	"allocator-script-cmds",
	"Allocator script commands",

	cell.Provide(newScriptCommands),
)

type scriptCmds struct {
	alloc promise.Promise[*Allocator]
	// marks carries GC marks from one allocator/gc call to the next.
	marks map[string]uint64
	locks map[string]kvstore.Value
}

func newScriptCommands(p promise.Promise[*Allocator]) hive.ScriptCmdsOut {
	sc := &scriptCmds{alloc: p}
	return hive.NewScriptCmds(map[string]script.Cmd{
		"allocator/allocate": sc.allocateCmd(),
		"allocator/release":  sc.releaseCmd(),
		"allocator/get":      sc.getCmd(),
		"allocator/gc":       sc.gcCmd(),
	})
}

func scriptFailed(err error) (script.WaitFunc, error) {
	return func(*script.State) (string, string, error) { return "", err.Error() + "\n", err }, nil
}

func scriptOutput(out string) (script.WaitFunc, error) {
	return func(*script.State) (string, string, error) { return out, "", nil }, nil
}

func (sc *scriptCmds) allocateCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "allocate an ID for a key", Args: "key"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected key", script.ErrUsage)
			}
			a, err := sc.alloc.Await(s.Context())
			if err != nil {
				return scriptFailed(err)
			}
			id, isNew, first, err := a.Allocate(s.Context(), args[0])
			if err != nil {
				return scriptFailed(err)
			}
			return scriptOutput(fmt.Sprintf("id=%d new=%v first=%v\n", id, isNew, first))
		})
}

func (sc *scriptCmds) releaseCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "release a reference to a key", Args: "key"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected key", script.ErrUsage)
			}
			a, err := sc.alloc.Await(s.Context())
			if err != nil {
				return scriptFailed(err)
			}
			last, err := a.Release(s.Context(), args[0])
			if err != nil {
				return scriptFailed(err)
			}
			return scriptOutput(fmt.Sprintf("last=%v\n", last))
		})
}

func (sc *scriptCmds) getCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "print the ID of a key, or the key of an ID",
			Args:    "key-or-id",
			Flags: func(fs *pflag.FlagSet) {
				fs.Bool("id", false, "the argument is an ID: print its key (empty line if free)")
			},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected a key or an ID", script.ErrUsage)
			}
			byID, _ := s.Flags.GetBool("id")
			a, err := sc.alloc.Await(s.Context())
			if err != nil {
				return scriptFailed(err)
			}
			if byID {
				id, err := ParseID(args[0])
				if err != nil {
					return nil, fmt.Errorf("%w: %v", script.ErrUsage, err)
				}
				key, err := a.GetByID(s.Context(), id)
				if err != nil {
					return scriptFailed(err)
				}
				return scriptOutput(key + "\n")
			}
			id, err := a.GetNoCache(s.Context(), args[0])
			if err != nil {
				return scriptFailed(err)
			}
			return scriptOutput(id.String() + "\n")
		})
}

func (sc *scriptCmds) gcCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "run GC rounds of unused IDs",
			Flags: func(fs *pflag.FlagSet) {
				fs.Int("rounds", 2, "rounds to run; an unused ID is deleted by the second round that finds it unchanged")
				fs.Bool("locks", false, "also run the stale lock GC after each round")
			},
			Detail: []string{"Marks carry over between calls, as between the rounds of a GC loop."},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			rounds, _ := s.Flags.GetInt("rounds")
			locks, _ := s.Flags.GetBool("locks")
			if rounds < 1 {
				return nil, fmt.Errorf("%w: --rounds must be at least 1", script.ErrUsage)
			}
			a, err := sc.alloc.Await(s.Context())
			if err != nil {
				return scriptFailed(err)
			}
			var out string
			for range rounds {
				marks, stats, err := a.RunGC(s.Context(), rate.NewLimiter(rate.Inf, 1), sc.marks)
				if err != nil {
					return scriptFailed(err)
				}
				sc.marks = marks
				out += "alive=" + strconv.Itoa(stats.Alive) + " deleted=" + strconv.Itoa(stats.Deleted) + "\n"
				if locks {
					if sc.locks, err = a.RunLocksGC(s.Context(), sc.locks); err != nil {
						return scriptFailed(errors.Join(errors.New("lock GC"), err))
					}
				}
			}
			return scriptOutput(out)
		})
}
