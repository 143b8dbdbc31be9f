// Package leasebook is the bookkeeping both backends' lease managers share:
// which key is attached to which lease, how many keys each lease carries,
// and which lease new keys go to. The managers add the part that differs
// (granting leases, keeping them alive, noticing their expiry) and the lock.
package leasebook
