// Command kvstorectl reads and writes a kvstore from the shell with the
// hivekv client, configured with the same flags as a hive program.
//
// Usage:
//
//	kvstorectl [flags] <command> [command flags] [args]
//
// Commands:
//
//	get KEY                          print the value of KEY
//	put [--lease] KEY VALUE          write VALUE ("-" reads it from stdin,
//	                                 byte for byte: a trailing newline is
//	                                 kept, as etcdctl keeps it)
//	delete KEY | --prefix PREFIX | --all
//	                                 delete KEY, or every key under PREFIX
//	                                 (not empty), or every key in the store
//	list [PREFIX]                    print "KEY<TAB>VALUE" per key, sorted
//	watch [--count N] [--for D] PREFIX
//	                                 list PREFIX, then print its changes:
//	                                 "create KEY VALUE", "modify KEY VALUE",
//	                                 "delete KEY", "listDone"; stop after N
//	                                 events or after D (0: no limit)
//	lock [--hold D] PATH             take the distributed lock PATH, print its
//	                                 key, hold it D (0: until interrupted)
//	status                           print "<State>: <Msg>" of the client
//	dbg                              troubleshooting report on the etcd
//	                                 configuration (DNS, TCP, TLS, certificates,
//	                                 credentials, a read through the client)
//
// "kvstorectl COMMAND --help" describes a command and its flags. The
// commands are rows of one table (commands.go): a new one brings its flags,
// argument checks and usage line with it.
//
// Deleting every key takes the explicit "delete --all": an empty PREFIX, as
// an unset shell variable gives, is refused rather than read as "everything".
//
// The store is named with the flags of package config, as in any hivekv
// program; --kvstore defaults to etcd here:
//
//	kvstorectl --kvstore-opt etcd.address=http://127.0.0.1:2379 get cilium/.heartbeat
//	kvstorectl --kvstore-opt etcd.config=/etc/etcd-client.yaml list cilium/state/
//
// Exit codes: 0 the command succeeded; 1 it failed (store unreachable, key
// missing, status not Ok, a dbg check failed, ...); 2 usage error: unknown
// command or flag, a wrong number of arguments, an empty KEY or PATH, a
// negative --count, --for or --hold, a --timeout that is not positive, an
// invalid --kvstore* configuration, `delete --prefix ""` without --all. A
// usage error names the flag or argument to fix and is found before anything
// is sent to the store.
// Errors go to stderr, one line, starting with "kvstorectl:". The client's
// own logs are off, since they would repeat the error; -v shows them at
// debug level, on stderr.
package main
