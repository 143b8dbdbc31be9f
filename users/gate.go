package users

import (
	"crypto/sha256"
	"time"
)

// maxSettleDelay bounds the wait between the two reads that must agree
// before a new content is applied.
const maxSettleDelay = 250 * time.Millisecond

// settleDelay is the wait between the two reads for a sync interval: a
// quarter of a second, or the interval itself when that is shorter.
func settleDelay(interval time.Duration) time.Duration {
	return min(interval, maxSettleDelay)
}

// verdict is what contentGate.observe says about a read of the file.
type verdict int

const (
	// unchanged: the content is the one applied last; nothing to do.
	unchanged verdict = iota
	// settling: a new content; read again after the settle delay.
	settling
	// apply: the same new content was read twice in a row; apply it.
	apply
)

// contentGate decides when a new content of the users file is applied: only
// once two consecutive reads, a settle delay apart, returned the same bytes.
// A writer that rewrites the file in place (cp, shell redirection, most
// editors truncate first) can be caught half-way, and the first part of a
// users list is usually valid YAML naming fewer users: applying it would
// delete the others until the next read. The gate holds hashes only.
type contentGate struct {
	applied, candidate       [sha256.Size]byte
	hasApplied, hasCandidate bool
}

// observe classifies a read whose content hashes to sum.
func (g *contentGate) observe(sum [sha256.Size]byte) verdict {
	switch {
	case g.hasApplied && sum == g.applied:
		g.hasCandidate = false
		return unchanged
	case g.hasCandidate && sum == g.candidate:
		return apply
	default:
		g.candidate, g.hasCandidate = sum, true
		return settling
	}
}

// done records that the content hashing to sum was dealt with (synced, or
// found malformed and reported): it is not looked at again until it changes.
func (g *contentGate) done(sum [sha256.Size]byte) {
	g.applied, g.hasApplied = sum, true
	g.hasCandidate = false
}

// forget is called when the file cannot be read: whatever comes next is new,
// even the content applied before it went missing.
func (g *contentGate) forget() {
	*g = contentGate{}
}
