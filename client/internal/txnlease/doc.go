// Package txnlease keeps the data-lease bookkeeping of a kvstore.Txn the same
// on both backends: which lease each put is written with, and which keys stay
// booked on a lease once the outcome of the transaction is known.
//
// A lease-expired observer must hear about exactly the keys that are on an
// expiring lease on the server. So a key attached for a put that did not run
// (the other branch was taken, or the fence failed) is released again, unless
// an earlier write had attached it already; a key that a put without lease
// or a delete removed from its lease is released too. When the outcome is
// unknown, everything stays booked: reporting a key lost that was not
// written is harmless, missing one that was is not.
package txnlease
