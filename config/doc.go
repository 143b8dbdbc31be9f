// Package config holds the command-line configuration of the kvstore client:
// which backend to use (--kvstore), its options (--kvstore-opt) and the
// client's timings, with validation that says which flag is wrong and how to
// fix it.
//
// Config is a hive configuration struct: pass DefaultConfig to cell.Config and
// hive registers the flags, decodes them into a Config and provides it to the
// graph. Programs without hive call Flags on a pflag.FlagSet of their own.
//
// The package depends only on the root kvstore vocabulary (option names and
// limits), never on a backend, so reading configuration links no etcd code.
package config
