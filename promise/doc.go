// Package promise is a write-once, read-many hand-over of a value that is not
// known yet, such as a kvstore client that connects after the hive has
// started.
//
// A producer keeps the Resolver and settles it once, with a value (Resolve)
// or an error (Reject). Consumers get the Promise from the hive graph and call
// Await wherever they are ready to block, bounded by their own context. This
// lets a cell depend on something that only exists after start-up without
// blocking the construction of the graph.
//
// The package depends on nothing else of hivekv.
package promise
