// Package kvstore is the vocabulary of hivekv: the interfaces, value and event
// types, option names, key-space constants and sentinel errors shared by every
// backend and every cell.
//
// It deliberately imports no etcd package, so that code which only passes
// kvstore values around (allocators, stores, consumers of the hive promise)
// does not link the etcd client. Backends live in the client package, hive
// cells in the cells package.
//
// The names and semantics follow Cilium's pkg/kvstore (v1.16 API) so that its
// users feel at home; where behaviour differs it is said on the type.
package kvstore
