package hivetest

import (
	"fmt"

	"github.com/cilium/hive/script"
)

// ServerScriptCmds returns script commands that stop and restart srv, for
// scripts that show what a hive does while its etcd is away:
//
//	etcd/stop      stop the server gracefully (data and ports kept)
//	etcd/kill      stop it abruptly
//	etcd/restart   start it again on the same data and ports, and wait
//	               until it serves
func ServerScriptCmds(srv *Server) map[string]script.Cmd {
	return map[string]script.Cmd{
		"etcd/stop": script.Command(
			script.CmdUsage{Summary: "stop the test etcd server (data and ports kept for etcd/restart)"},
			func(s *script.State, args ...string) (script.WaitFunc, error) {
				if len(args) != 0 {
					return nil, script.ErrUsage
				}
				return nil, srv.Stop()
			}),
		"etcd/kill": script.Command(
			script.CmdUsage{Summary: "kill the test etcd server (no leadership transfer; data and ports kept)"},
			func(s *script.State, args ...string) (script.WaitFunc, error) {
				if len(args) != 0 {
					return nil, script.ErrUsage
				}
				return nil, srv.Kill()
			}),
		"etcd/restart": script.Command(
			script.CmdUsage{Summary: "restart the stopped test etcd server and wait until it serves"},
			func(s *script.State, args ...string) (script.WaitFunc, error) {
				if len(args) != 0 {
					return nil, script.ErrUsage
				}
				if err := srv.Restart(s.Context()); err != nil {
					return nil, fmt.Errorf("restarting etcd: %w", err)
				}
				return nil, nil
			}),
	}
}
