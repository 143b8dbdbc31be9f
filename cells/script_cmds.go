package cells

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cilium/hive/script"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

func (st *scriptState) updateCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "write a key",
			Args:    "key value",
			Flags: func(fs *pflag.FlagSet) {
				fs.BoolP("file", "f", false, "value names a file (relative to the script's directory) whose content is written")
				fs.Bool("lease", false, "attach the key to the client's session lease")
			},
			Detail: []string{"VALUE is written literally, without a trailing newline, unless -f is given."},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%w: expected key and value", script.ErrUsage)
			}
			fromFile, _ := s.Flags.GetBool("file")
			lease, _ := s.Flags.GetBool("lease")
			value := []byte(args[1])
			if fromFile {
				data, err := os.ReadFile(s.Path(args[1]))
				if err != nil {
					return failed(fmt.Errorf("could not read %q: %w", args[1], err))
				}
				value = data
			}
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			if err := b.Update(s.Context(), args[0], value, lease); err != nil {
				return failed(err)
			}
			return nil, nil
		},
	)
}

func (st *scriptState) getCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "print the value of a key",
			Args:    "key",
			Detail:  []string{"Prints the value and a newline; a missing key is an error."},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected key", script.ErrUsage)
			}
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			v, err := b.Get(s.Context(), args[0])
			if err != nil {
				return failed(err)
			}
			if v == nil {
				return failed(fmt.Errorf("key %q not found", args[0]))
			}
			return output(string(v) + "\n")
		},
	)
}

func (st *scriptState) deleteCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "delete a key",
			Args:    "key",
			Flags: func(fs *pflag.FlagSet) {
				fs.Bool("prefix", false, "delete every key that starts with key")
			},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected key", script.ErrUsage)
			}
			prefix, _ := s.Flags.GetBool("prefix")
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			if prefix {
				err = b.DeletePrefix(s.Context(), args[0])
			} else {
				err = b.Delete(s.Context(), args[0])
			}
			if err != nil {
				return failed(err)
			}
			return nil, nil
		},
	)
}

func (st *scriptState) listCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "list the keys under a prefix",
			Args:    "[prefix] [output-file]",
			Flags: func(fs *pflag.FlagSet) {
				fs.StringP("output", "o", "plain", "value format: plain or json (indented)")
				fs.Bool("keys-only", false, "print only the '# key' lines")
				fs.Bool("values-only", false, "print only the values")
			},
			Detail: []string{
				"Keys are sorted. Each key prints a '# <key>' line, then its value and a newline",
				"(Cilium's format). With an output file the listing goes there instead of stdout.",
			},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) > 2 {
				return nil, fmt.Errorf("%w: expected at most a prefix and an output file", script.ErrUsage)
			}
			format, _ := s.Flags.GetString("output")
			keysOnly, _ := s.Flags.GetBool("keys-only")
			valuesOnly, _ := s.Flags.GetBool("values-only")
			if keysOnly && valuesOnly {
				return nil, fmt.Errorf("%w: --keys-only and --values-only are mutually exclusive", script.ErrUsage)
			}
			if format != "plain" && format != "json" {
				return nil, fmt.Errorf("%w: unexpected output format %q", script.ErrUsage, format)
			}
			var prefix string
			if len(args) > 0 {
				prefix = args[0]
			}
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			pairs, err := b.ListPrefix(s.Context(), prefix)
			if err != nil {
				return failed(fmt.Errorf("error listing %q: %w", prefix, err))
			}
			out := formatListing(pairs, format, !valuesOnly, !keysOnly)
			if len(args) == 2 {
				if err := os.WriteFile(s.Path(args[1]), []byte(out), 0o644); err != nil {
					return failed(err)
				}
				return nil, nil
			}
			return output(out)
		},
	)
}

// formatListing renders pairs sorted by key in Cilium's kvstore/list format.
func formatListing(pairs kvstore.KeyValuePairs, format string, keys, values bool) string {
	names := make([]string, 0, len(pairs))
	for k := range pairs {
		names = append(names, k)
	}
	slices.Sort(names)
	var sb strings.Builder
	for _, k := range names {
		if keys {
			fmt.Fprintf(&sb, "# %s\n", k)
		}
		if values {
			sb.WriteString(formatValue(pairs[k].Data, format))
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func formatValue(v []byte, format string) string {
	if format != "json" {
		return string(v)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(v), "", "  "); err != nil {
		return "ERROR: " + err.Error()
	}
	return buf.String()
}

func (st *scriptState) watchCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "record the events of a prefix to a file",
			Args:    "prefix file",
			Detail: []string{
				"Returns at once and appends one line per event to the file until the hive stops:",
				"'create <key> <value>', 'modify <key> <value>', 'delete <key>', 'listDone'.",
				"Values are written as they are. Use '* grep' to wait for an event.",
			},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%w: expected prefix and file", script.ErrUsage)
			}
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			st.mu.Lock()
			ctx := st.watchCtx
			if ctx.Err() != nil {
				// Stop has begun waiting for the watches: adding one now
				// would race with it.
				st.mu.Unlock()
				return failed(errors.New("hive stopped"))
			}
			st.watches.Add(1)
			st.mu.Unlock()
			f, err := os.Create(s.Path(args[1]))
			if err != nil {
				st.watches.Done()
				return failed(err)
			}
			w := b.ListAndWatch(ctx, args[0], 16)
			go func() {
				defer st.watches.Done()
				defer f.Close()
				for ev := range w.Events {
					if _, err := f.WriteString(eventLine(ev)); err != nil {
						s.Logf("kvstore/watch %s: %v", args[0], err)
					}
				}
			}()
			return nil, nil
		},
	)
}

func eventLine(ev kvstore.KeyValueEvent) string {
	switch ev.Typ {
	case kvstore.EventTypeListDone:
		return ev.Typ.String() + "\n"
	case kvstore.EventTypeDelete:
		return ev.Typ.String() + " " + ev.Key + "\n"
	default:
		return ev.Typ.String() + " " + ev.Key + " " + string(ev.Value) + "\n"
	}
}

func (st *scriptState) lockCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "take a distributed lock and hold it",
			Args:    "path",
			Flags: func(fs *pflag.FlagSet) {
				fs.Duration("timeout", 0, "give up after this long (0: LockPath's own limit of one minute)")
			},
			Detail: []string{"The lock is held until kvstore/unlock or until the hive stops."},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected path", script.ErrUsage)
			}
			path := args[0]
			timeout, _ := s.Flags.GetDuration("timeout")
			st.mu.Lock()
			_, held := st.locks[path]
			st.mu.Unlock()
			if held {
				// Locking again would wait on our own local mutex.
				return failed(fmt.Errorf("lock %q is already held by this script", path))
			}
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			ctx := s.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			l, err := b.LockPath(ctx, path)
			if err != nil {
				return failed(err)
			}
			st.mu.Lock()
			st.locks[path] = l
			st.mu.Unlock()
			return nil, nil
		},
	)
}

func (st *scriptState) unlockCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "release a lock taken by kvstore/lock", Args: "path"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: expected path", script.ErrUsage)
			}
			st.mu.Lock()
			l, ok := st.locks[args[0]]
			delete(st.locks, args[0])
			st.mu.Unlock()
			if !ok {
				return failed(fmt.Errorf("lock %q is not held by this script", args[0]))
			}
			if err := l.Unlock(s.Context()); err != nil {
				return failed(err)
			}
			return nil, nil
		},
	)
}

func (st *scriptState) statusCmd() script.Cmd {
	return script.Command(
		script.CmdUsage{Summary: "print the client's status as '<State>: <Msg>'"},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 0 {
				return nil, fmt.Errorf("%w: expected no arguments", script.ErrUsage)
			}
			b, err := st.backend(s)
			if err != nil {
				return failed(err)
			}
			return output(b.Status().String() + "\n")
		},
	)
}
