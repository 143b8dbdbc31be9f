// Package modhealth reports a module's health into the graph's cell.Health,
// when there is one.
//
// Each module reports into a scope named after its module ID. A module is
// made of parts (the client's connection, a SyncStore, the lock sweep, ...),
// each with its own level; the module's scope always carries the worst of
// them, so that a provider without roll-up (cell.SimpleHealth) shows the
// module's state on its one line, and parts made with Sub also get a child
// scope of their own with their detail.
//
// The roll-up: any part Degraded makes the module Degraded, with the reasons
// of the degraded parts ("part: reason", joined by "; ") and their errors
// joined (errors.Join); else any part OK makes it OK with the OK parts'
// statuses; else, when every part that reported is Stopped, it is Stopped.
// A part that has not reported yet does not count. Work that the module
// cannot serve without and that is still pending (connecting, an initial
// sync) is reported Degraded with a nil error.
//
// Without a cell.Health in the graph every call is cheap and reports
// nowhere, so the cells work the same in a bare hive.
package modhealth
