package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// The watch check's canaries: event streams with a planted bug must fail,
// the streams the contract allows must pass.

func sput(rev int64, k, v string) StoreEvent { return StoreEvent{Rev: rev, Key: k, Value: v} }
func sdel(rev int64, k string) StoreEvent    { return StoreEvent{Rev: rev, Key: k, Delete: true} }
func wc(k, v string) WatchEvent              { return WatchEvent{Typ: kvstore.EventTypeCreate, Key: k, Value: v} }
func wm(k, v string) WatchEvent              { return WatchEvent{Typ: kvstore.EventTypeModify, Key: k, Value: v} }
func wd(k string) WatchEvent                 { return WatchEvent{Typ: kvstore.EventTypeDelete, Key: k} }

var wdone = WatchEvent{Typ: kvstore.EventTypeListDone}

func TestCheckWatch(t *testing.T) {
	initial := map[string]string{"a": "1"}
	store := []StoreEvent{
		sput(2, "b", "1"),
		sput(3, "a", "2"),
		sput(4, "c", "1"), sput(4, "b", "2"), // one transaction
		sdel(5, "a"),
		sput(6, "a", "3"),
		sput(7, "b", "2"), // the same value again: still an event
	}
	for _, tc := range []struct {
		name   string
		events []WatchEvent
		ok     bool
	}{
		{"list then stream", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"), wc("c", "1"), wm("b", "2"), wd("a"), wc("a", "3"), wm("b", "2")}, true},
		{"list at a later revision", []WatchEvent{wc("a", "2"), wc("b", "1"), wdone, wc("c", "1"), wm("b", "2")}, true},
		{"the watcher lags", []WatchEvent{wc("a", "1"), wdone, wc("b", "1")}, true},
		{"resync over a delete", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"),
			/* broken; list at rev 5 */ wm("b", "2"), wc("c", "1"), wd("a"), wc("a", "3"), wm("b", "2")}, true},
		{"resync that repeats values", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "1"), wm("b", "1"), wm("a", "2")}, true},
		{"failed list attempt then a complete one", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"),
			/* attempt at rev 3 fails after a */ wm("a", "2"),
			/* attempt at rev 4 */ wm("a", "2"), wm("b", "2"), wc("c", "1"), wd("a"), wc("a", "3")}, true},

		{"an event twice", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"), wm("a", "2"), wc("c", "1"), wm("b", "2")}, false},
		{"events out of order", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wc("c", "1"), wm("b", "2"), wm("a", "2")}, false},
		{"an update skipped", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wc("c", "1"), wm("b", "2"), wd("a")}, false},
		{"a transaction split", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"), wc("c", "1"), wd("a"), wm("b", "2")}, false},
		{"ListDone twice", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wdone, wm("a", "2")}, false},
		{"no ListDone", []WatchEvent{wc("a", "1"), wc("b", "1")}, false},
		{"a list missing a key", []WatchEvent{wc("b", "1"), wdone, wm("a", "2")}, false},
		{"a stale value", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"), wm("a", "1")}, false},
		{"resync without the delete of a vanished key", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"),
			wm("b", "2"), wc("c", "1"), wc("a", "3"), wm("b", "2")}, false},
		{"resync deleting a key still there", []WatchEvent{wc("a", "1"), wdone, wc("b", "1"), wm("a", "2"),
			wm("b", "2"), wd("a"), wc("a", "3"), wm("b", "2")}, false},
		{"Modify of a key never reported", []WatchEvent{wc("a", "1"), wdone, wm("b", "1")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWatch(WatchHistory{Initial: initial, Store: store, Events: tc.events, ListDone: true})
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrViolation)
				t.Log(err)
			}
		})
	}
}
