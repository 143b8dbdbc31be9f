// Package faults is a fault suite for kvstore clients: it runs an embedded
// etcd cluster from hivetest, puts a TCP proxy in front of every member's
// client port, injects faults while workers drive a client, records every
// operation with its outcome, and lets checkers decide whether the history
// is correct.
//
// The pieces, each usable on its own:
//
//   - Kit: the cluster behind per-member proxies (client and peer ports)
//     plus the faults — kill and restart a member, pause and resume one,
//     cut, delay or blackhole the client traffic of a member (a partition
//     as the client sees it) or its peer traffic (a partition between the
//     members), compact the store, revoke a lease, cut one client off
//     (NewIsolatableClient) so that its lease expires.
//   - Recorder: wraps a kvstore.BackendOperations (Backend, which is
//     kvstore.Transactional too, for code under test such as the allocator
//     and the shared store; Client, for the workloads) and records call
//     time, return time, arguments, result and error of every key
//     operation, lock and transaction. An operation that failed after its
//     request may have reached the server is recorded with an unknown
//     outcome; only errors raised before anything was sent count as "did
//     not happen".
//   - Model / Check: a porcupine model of the key-value operations,
//     ListPrefix, DeletePrefix, transactions (every comparison kind, both
//     branches, their reads) and the lock fence of each lock path, and the
//     invariants checked after every run
//     (linearizable history, no acknowledged write lost, no fenced write of
//     a superseded lock holder, watchers converge on ListPrefix, no leaked
//     goroutine). A failing history is written as porcupine's HTML
//     visualisation and the path is named in the failure.
//   - StoreLog / CheckWatch: etcd's own watch of the run's prefix, taken
//     directly on the members, is the truth every watcher's events are
//     checked against one by one — every ListAndWatch of a run (its
//     WatchViews and those made through a recorded Backend) and any
//     observer calls an invariant passes to Run.CheckEvents.
//   - Scenario: a seeded run of a workload under a fault schedule. The
//     built-in scenarios are registered by this package; other packages
//     (allocator, store) add theirs with Register, with their own
//     invariants in Scenario.Invariants.
//
// Running: go test ./hivetest/faults runs every scenario once (the smoke
// of make test); make faults runs each FAULTS_RUNS times. The
// test flags -faults.seed, -faults.runs and -faults.out pick the first
// seed, the number of runs and where failing histories are written; a
// failing run prints the command that replays it.
//
// What "pause" means here: a paused member is stopped gracefully (its data
// and ports are kept, nothing acknowledged is lost) and its client proxy
// holds every connection without forwarding a byte, so clients see a member
// that hangs rather than one that refuses connections. Resume restarts it
// and lets the traffic through again.
//
// Peer traffic: every member advertises a proxy in front of its peer port
// (hivetest.WithPeerProxy), so Kit.PeerProxy(i) faults what the other
// members send member i — blackholed (member i isolated from its peers,
// leader included, while its clients still reach it), delayed 75 ± 50 ms,
// or half of it lost and retransmitted as TCP would. The proxies see
// connections, not senders, so a fault on member i's proxy is on all of
// its inbound peer traffic; i's own messages still reach the others, whose
// answers do not come back.
//
// The seed of a run fixes the workload (which operation, key and value each
// worker issues) and the fault schedule (which member, which fault, at which
// offset). Goroutine scheduling and network timing are not reproducible, so
// a replayed seed reproduces the run's plan, not its exact interleaving.
package faults
