// Package background runs the long-lived work of the cells, the one code
// path that decides how: Group runs it as jobs of a job.Group when the
// graph has a job.Registry, else on goroutines started and stopped by a
// lifecycle hook (the bare-hive case). A Group also carries the module's
// health (internal/modhealth) and logger (logfallback.FromHive), so that a
// cell takes all three from the graph in one embedded Params.
//
// Jobs is the goroutine runner of one lifecycle hook, for code that is not
// a cell's (Start launches, Stop cancels and waits, bounded by the stop
// hook's context).
package background
