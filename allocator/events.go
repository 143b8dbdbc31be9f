package allocator

import "github.com/hivekv/kvstore"

// Event is a change of the Allocator's cache of master keys, sent on the
// channel of WithEvents in the order the watch saw them: Create (or Modify)
// when an ID got its key, Delete when an ID was freed. After a resync of
// the watch, Modify may repeat for IDs already reported.
type Event struct {
	Typ kvstore.EventType
	ID  ID
	Key string
}
