// Package bench compares hivekv with raw clientv3 doing the same work against
// the same embedded etcd server in the same run. Every benchmark has an "ours"
// and a "raw" sub-benchmark; `make bench` pipes the output through
// cmd/benchratio, which prints ours/raw per benchmark and metric.
//
// Nothing here asserts a time: machines are shared and noisy. The ratio is
// what to read, and only within one run.
package bench
