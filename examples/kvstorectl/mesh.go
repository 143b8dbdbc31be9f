package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/mesh"
)

// mesh shows the status the kvstoremesh leader of a local cluster publishes
// in the local kvstore (mesh.StatusKey):
//
//	mesh [--cluster-name L] [-o table|json] [--ready]
//
// The table is mesh.Status.WriteTable's. With --ready the exit status is 1
// unless every configured cluster is connected and synced.
func init() {
	commands = append(commands, command{
		name:     "mesh",
		synopsis: "[--cluster-name L] [-o table|json] [--ready]",
		help: []string{
			"the kvstoremesh status published by the leader of local cluster L:",
			"per remote cluster connected, synced, keys, state and last error",
			"(--ready: exit 1 unless every cluster is connected and synced)",
		},
		flags: func(fs *pflag.FlagSet) {
			fs.String("cluster-name", mesh.DefaultConfig.ClusterName, "the local cluster whose kvstoremesh to show")
			fs.StringP("output", "o", "table", "output format: table or json")
			fs.Bool("ready", false, "exit 1 unless every cluster is connected and synced")
		},
		nargs: exactly(0),
		check: func(fs *pflag.FlagSet, _ []string) error {
			if o, _ := fs.GetString("output"); o != "table" && o != "json" {
				return fmt.Errorf("-o %q: use table or json", o)
			}
			return nil
		},
		do: meshStatus,
	})
}

func meshStatus(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, _ []string) error {
	local, _ := fs.GetString("cluster-name")
	format, _ := fs.GetString("output")
	ready, _ := fs.GetBool("ready")
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	key := mesh.StatusKey(local)
	v, err := c.Get(ctx, key)
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("no kvstoremesh status under %q: no leader runs for local cluster %q (check --cluster-name and the mesh's logs)", key, local)
	}
	var st mesh.Status
	if err := json.Unmarshal(v, &st); err != nil {
		return fmt.Errorf("decoding %q: %w", key, err)
	}
	if format == "json" {
		out, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
	} else if err := st.WriteTable(e.stdout); err != nil {
		return err
	}
	if ready && !st.Ready() {
		return errors.New("not every remote cluster is connected and synced")
	}
	return nil
}
