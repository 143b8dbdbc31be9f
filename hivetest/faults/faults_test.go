package faults

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hivekv/kvstore/hivetest"
)

var (
	seedFlag = flag.Int64("faults.seed", 1, "seed of the first run of each scenario; run i uses seed+i")
	runsFlag = flag.Int("faults.runs", 1, "runs per scenario (make test: 1; make faults: FAULTS_RUNS)")
	outFlag  = flag.String("faults.out", "", "directory for porcupine visualisations of failing runs (default: $TMPDIR/hivekv-faults)")
)

// TestMain checks for goroutines left behind once every cluster is closed.
func TestMain(m *testing.M) { hivetest.Main(m, false) }

func outDir() string {
	if *outFlag != "" {
		return *outFlag
	}
	return filepath.Join(os.TempDir(), "hivekv-faults")
}

// runsPerCluster is how many runs share one cluster. Every write of a run
// stays in the members' write-ahead log until etcd's next snapshot (every
// 100,000 entries), and a restarted member replays it: with one cluster for
// 100 runs, member restarts took four times longer by the last runs.
const runsPerCluster = 10

// TestFaults runs every registered scenario -faults.runs times with seeds
// -faults.seed, -faults.seed+1, ... Runs share a 3-member cluster in batches
// of runsPerCluster; every run uses its own key prefix. Replay a failing run
// with -run 'TestFaults/<scenario>$' -faults.seed=<seed> -faults.runs=1.
func TestFaults(t *testing.T) {
	var summary []string
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			var ops, txns, watchEvents, unknown, lockLost, violations int
			for first := 0; first < *runsFlag; first += runsPerCluster {
				last := min(first+runsPerCluster, *runsFlag) - 1
				name := fmt.Sprintf("seeds-%d-%d", *seedFlag+int64(first), *seedFlag+int64(last))
				t.Run(name, func(t *testing.T) {
					kit := NewKit(t, 3)
					for i := first; i <= last; i++ {
						seed := *seedFlag + int64(i)
						start := time.Now()
						res := RunOnce(t.Context(), kit, s, seed, Options{OutDir: outDir()})
						t.Logf("seed %d: %d ops (%d txns, %d unknown, %d lock lost), %d watch events, %d violations, %s",
							seed, res.Ops, res.Txns, res.Unknown, res.LockLost, res.WatchEvents, len(res.Violations), time.Since(start).Round(time.Millisecond))
						if res.Err != nil {
							t.Fatalf("%s seed %d: run broken: %v", s.Name, seed, res.Err)
						}
						ops += res.Ops
						txns += res.Txns
						watchEvents += res.WatchEvents
						unknown += res.Unknown
						lockLost += res.LockLost
						for _, v := range res.Violations {
							violations++
							t.Errorf("%s seed %d (replay: -run 'TestFaults/%s$' -faults.seed=%d -faults.runs=1): %v",
								s.Name, seed, s.Name, seed, v)
						}
					}
				})
			}
			line := fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d |", s.Name, *runsFlag, ops, txns, watchEvents, unknown, lockLost, violations)
			summary = append(summary, line)
			t.Logf("faults: scenario=%s runs=%d ops=%d txns=%d watch-events=%d unknown=%d lock-lost=%d violations=%d", s.Name, *runsFlag, ops, txns, watchEvents, unknown, lockLost, violations)
		})
	}
	t.Logf("\n| scenario | runs | operations checked | transactions | watch events checked | outcome unknown | fenced ops refused | violations |\n|---|---|---|---|---|---|---|---|\n%s",
		strings.Join(summary, "\n"))
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering leader-kill twice did not panic")
		}
	}()
	Register(Scenario{Name: "leader-kill"})
}
