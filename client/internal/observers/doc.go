// Package observers holds the lease-expiry observers of a client, shared by
// both backends so that they call them the same way.
package observers
