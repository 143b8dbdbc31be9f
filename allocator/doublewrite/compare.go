package doublewrite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hivekv/kvstore/allocator"
)

// Divergence is what differs between two backends' master keys.
type Divergence struct {
	// OnlyInA and OnlyInB are IDs allocated on one side only, with their
	// keys, sorted by ID.
	OnlyInA, OnlyInB []Entry
	// Differ are IDs whose keys differ, sorted by ID.
	Differ []Mismatch
}

// Entry is one ID and its key.
type Entry struct {
	ID  allocator.ID
	Key string
}

// Mismatch is an ID whose key differs between the sides.
type Mismatch struct {
	ID         allocator.ID
	KeyA, KeyB string
}

// Empty reports that both sides agree. A nil Divergence is empty.
func (d *Divergence) Empty() bool {
	return d == nil || len(d.OnlyInA)+len(d.OnlyInB)+len(d.Differ) == 0
}

// Format prints counts with %v, and with %+v also every differing ID and
// key, one per line.
func (d *Divergence) Format(f fmt.State, verb rune) {
	if d == nil {
		fmt.Fprint(f, "no divergence")
		return
	}
	fmt.Fprintf(f, "%d only in A, %d only in B, %d differ", len(d.OnlyInA), len(d.OnlyInB), len(d.Differ))
	if verb != 'v' || !f.Flag('+') {
		return
	}
	for _, e := range d.OnlyInA {
		fmt.Fprintf(f, "\n  ID %d only in A: %q", e.ID, e.Key)
	}
	for _, e := range d.OnlyInB {
		fmt.Fprintf(f, "\n  ID %d only in B: %q", e.ID, e.Key)
	}
	for _, m := range d.Differ {
		fmt.Fprintf(f, "\n  ID %d differs: A %q, B %q", m.ID, m.KeyA, m.KeyB)
	}
}

// String is %v.
func (d *Divergence) String() string { return fmt.Sprintf("%v", d) }

// Compare lists the master keys of both backends and reports the IDs
// missing on either side and the IDs whose keys differ. It returns nil when
// both sides agree.
func Compare(ctx context.Context, a, b allocator.Backend) (*Divergence, error) {
	ma, err := snapshot(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("list side A: %w", err)
	}
	mb, err := snapshot(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("list side B: %w", err)
	}
	d := &Divergence{}
	for id, ka := range ma {
		kb, ok := mb[id]
		switch {
		case !ok:
			d.OnlyInA = append(d.OnlyInA, Entry{id, ka})
		case ka != kb:
			d.Differ = append(d.Differ, Mismatch{id, ka, kb})
		}
	}
	for id, kb := range mb {
		if _, ok := ma[id]; !ok {
			d.OnlyInB = append(d.OnlyInB, Entry{id, kb})
		}
	}
	byID := func(x, y Entry) int { return cmpID(x.ID, y.ID) }
	slices.SortFunc(d.OnlyInA, byID)
	slices.SortFunc(d.OnlyInB, byID)
	slices.SortFunc(d.Differ, func(x, y Mismatch) int { return cmpID(x.ID, y.ID) })
	if d.Empty() {
		return nil, nil
	}
	return d, nil
}

func cmpID(a, b allocator.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// snapshot reads every master key of b through its ListAndWatch, up to the
// end of the initial list.
func snapshot(parent context.Context, b allocator.Backend) (map[allocator.ID]string, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	c := &collector{m: map[allocator.ID]string{}, done: make(chan struct{}), cancel: cancel}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		b.ListAndWatch(ctx, c)
	}()
	select {
	case <-c.done:
	case <-finished:
	}
	cancel()
	<-finished
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed {
		if err := parent.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("the watch ended before its initial list (client closed?)")
	}
	return c.m, nil
}

type collector struct {
	mu     sync.Mutex
	m      map[allocator.ID]string
	listed bool
	done   chan struct{}
	cancel context.CancelFunc
}

func (c *collector) OnListDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed {
		c.listed = true
		close(c.done)
	}
}

func (c *collector) OnUpsert(id allocator.ID, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed {
		c.m[id] = key
	}
}

func (c *collector) OnDelete(id allocator.ID, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed {
		delete(c.m, id)
	}
}
