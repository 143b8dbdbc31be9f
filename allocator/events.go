package allocator

import "github.com/hivekv/kvstore"

// Event is sent on the channel of WithEvents:
//
//   - Create when the cache learns that an ID names a key (a new master
//     key, or one the watch lists again after a resync: Create may repeat
//     for IDs already reported);
//   - Delete when an ID is freed (its master key deleted, by GC);
//   - Modify when this node's reference to Key moved from PrevID to ID:
//     PrevID was freed and given to another key while this node's slave
//     key was lost (a lease loss), so the sync gave Key another ID rather
//     than share PrevID. Users of Key must switch to ID.
//
// Create and Delete come in the order the watch saw them; a Modify is sent
// by the sync once the move is done and may come before the Create of its
// ID. The Allocator blocks on a full channel.
type Event struct {
	Typ kvstore.EventType
	ID  ID
	Key string
	// PrevID is set on Modify only.
	PrevID ID
}

// send sends evs on the events channel, unless none is set or the
// Allocator closes first.
func (a *Allocator) send(evs ...Event) {
	if a.opts.events == nil {
		return
	}
	for _, ev := range evs {
		select {
		case a.opts.events <- ev:
		case <-a.ctx.Done():
			return
		}
	}
}
