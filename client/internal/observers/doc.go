// Package observers holds the lease-expiry observers of a client, shared by
// both backends so that they call them the same way: the reference's
// per-prefix observers (one per prefix, replaced or removed by prefix) and
// per-instance registrations (any number per prefix, each removed only by
// its own stop function).
package observers
