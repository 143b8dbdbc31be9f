package mesh

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/script"
	"github.com/spf13/pflag"
)

// ScriptCommands provides the kvstoremesh/status command to hive scripts and
// shells:
//
//	kvstoremesh/status [-o table|json]   print the Status of the mesh
//
// The table has a "# kvstoremesh of cluster L: leader|standby, N remote
// clusters" header and one line per cluster: NAME CONNECTED SYNCED KEYS
// STATE ERROR, where STATE is connecting, syncing, mirroring or draining.
var ScriptCommands = cell.Module(
	"kvstoremesh-script-cmds",
	"KVStoreMesh script commands",

	cell.Provide(newScriptCommands),
)

func newScriptCommands(m *Mesh) hive.ScriptCmdsOut {
	return hive.NewScriptCmds(map[string]script.Cmd{
		"kvstoremesh/status": statusCmd(m),
	})
}

func statusCmd(m *Mesh) script.Cmd {
	return script.Command(
		script.CmdUsage{
			Summary: "print the status of the kvstoremesh",
			Flags: func(fs *pflag.FlagSet) {
				fs.StringP("output", "o", "table", "output format: table or json")
			},
		},
		func(s *script.State, args ...string) (script.WaitFunc, error) {
			if len(args) != 0 {
				return nil, fmt.Errorf("%w: no arguments expected", script.ErrUsage)
			}
			format, _ := s.Flags.GetString("output")
			st := m.Status()
			var b strings.Builder
			switch format {
			case "table":
				_ = st.WriteTable(&b)
			case "json":
				out, err := json.MarshalIndent(st, "", "  ")
				if err != nil {
					return nil, err
				}
				b.Write(out)
				b.WriteByte('\n')
			default:
				return nil, fmt.Errorf("%w: -o %q: use table or json", script.ErrUsage, format)
			}
			out := b.String()
			return func(*script.State) (string, string, error) { return out, "", nil }, nil
		},
	)
}
