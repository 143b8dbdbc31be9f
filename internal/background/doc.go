// Package background runs the long-lived work of a hive lifecycle hook: Start
// launches it on goroutines with a context of its own, Stop cancels that
// context and waits, bounded by the stop hook's context. The cells (client,
// heartbeat, lock GC, users) share it instead of each pairing a cancel
// function, a done channel and a goroutine by hand.
package background
