// Package etcdfile reads the etcd client configuration file (etcd.config:
// the keys of etcdctl's and Cilium's files) into its settings and a TLS
// configuration, with errors that name the file and the key at fault.
//
// It is apart from the etcd backend so that it can be fuzzed without
// instrumenting the etcd client: fuzzing compiles every dependency of the
// fuzzed package with coverage instrumentation, and this package needs
// none of the client's.
package etcdfile
