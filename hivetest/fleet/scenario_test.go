package fleet

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
)

// make scale-fleet runs this test with a full-size fleet and every fault;
// the normal test run keeps it a smoke: 20 agents, one fault.
var (
	scaleAgents   = flag.Int("fleet.agents", 20, "agents of TestScenario")
	scaleFaults   = flag.String("fleet.faults", FaultLeaderKill, "comma-separated faults of TestScenario (none, leader-kill, compaction, restart-all, churn), or \"all\" (all but churn)")
	scaleMaxLists = flag.Int("fleet.max-lists-per-second", 100, "relist bound of TestScenario's compaction fault")
)

// TestScenario starts a fleet on a 3-member cluster, runs the faults and
// requires every round to converge with no key missing, without relists
// where nothing was compacted, and (compaction) within the relist bound.
func TestScenario(t *testing.T) {
	faults := strings.Split(*scaleFaults, ",")
	if *scaleFaults == "all" {
		faults = AllFaults
	}
	cluster := hivetest.StartCluster(t, 3)
	results, err := Run(t.Context(), cluster, ScenarioConfig{
		Agents:            *scaleAgents,
		Faults:            faults,
		MaxListsPerSecond: *scaleMaxLists,
		ConvergeTimeout:   5 * time.Minute,
		Out:               os.Stdout,
	})
	require.NoError(t, err)
	require.NotEmpty(t, results)
	for _, r := range results {
		require.Zero(t, r.Missing, "%s: missing", r.Fault)
		// No fault outlasts the data lease TTL (15 min): no lease may
		// be taken as lost, no key re-written on a new one.
		require.Zero(t, r.Grants, "%s: leases re-granted", r.Fault)
		switch r.Fault {
		case FaultCompaction:
			// Each watcher relists once; the bound holds with a
			// margin for the jitter's unevenness.
			require.Equal(t, *scaleAgents, r.Relists, "compaction: one relist per agent")
			require.LessOrEqual(t, r.PeakListsPerSecond, 2**scaleMaxLists)
		default:
			require.Zero(t, r.Relists, "%s: a watch relisted although nothing was compacted", r.Fault)
		}
	}
}
