// Command benchratio reads `go test -bench` output on stdin, passes it
// through, and then prints, for every benchmark with an "ours" and a "raw"
// sub-benchmark, the ratio ours/raw of each metric they share (ns/op, B/op,
// allocs/op and custom ones). Below 1 means ours is cheaper.
package main
