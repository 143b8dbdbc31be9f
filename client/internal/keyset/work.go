package keyset

// Per-operation budgets of the background work. Moving a record costs
// evacMoveCost units (a hash, a probe and a copy), skipping a dead one one
// unit. With these, a queued chunk is emptied long before deletions can
// queue as many dead bytes again, and an operation's extra work stays
// around a microsecond.
const (
	evacBudget   = 32
	evacMoveCost = 4
	minMigrate   = 16
)

// work does the bounded share of background work every See and Remove
// carries: moving a few slots of the old table, evacuating a few records of
// a sparse chunk.
func (s *Set) work() {
	if s.old.tags != nil {
		s.migrate(s.migrateStep)
	}
	if len(s.slab.evac) > 0 {
		s.evacuate()
	}
}

// grow starts moving cur into a table twice the size of the live keys.
func (s *Set) grow() {
	if s.old.tags != nil {
		// Steps are sized so that this does not happen. If it does, cur
		// cannot take the rest of old: move both into one new table now.
		s.forcedMigrations++
		all := newTable(max(minTableCap, 2*(s.n+1)))
		for _, t := range []*table{&s.old, &s.cur} {
			for i, g := range t.tags {
				if g > tagTomb {
					sfx, meta := s.slab.view(t.offs[i])
					all.insertAbsent(s.hash(sfx, meta), t.offs[i])
				}
			}
		}
		s.cur, s.old, s.migrated = all, table{}, 0
		return
	}
	s.startMigration(max(minTableCap, 2*(s.n+1)))
}

// maybeShrink starts moving a table less than an eighth full into one a
// quarter its size (or sized for twice the keys, if that is larger). Never
// smaller than a quarter: the old table must be moved within the headroom of
// the new one at a bounded number of slots per operation.
func (s *Set) maybeShrink() {
	if s.old.tags == nil && len(s.cur.tags) > minTableCap && 8*s.n < len(s.cur.tags) {
		s.startMigration(max(capFor(2*s.n), len(s.cur.tags)/4))
	}
}

// startMigration makes cur a new table of capacity c and the current one
// old, to be moved over by work.
func (s *Set) startMigration(c int) {
	if s.old.tags != nil {
		return
	}
	if s.cur.used == 0 {
		s.cur = newTable(c)
		return
	}
	s.old, s.cur, s.migrated = s.cur, newTable(c), 0
	// cur takes the old keys plus whatever is inserted meanwhile (at most
	// one per operation): move every old slot within half its headroom.
	room := 7*c/8 - s.n
	s.migrateStep = max(minMigrate, 2*len(s.old.tags)/max(1, room)+1)
}

// migrate moves up to slots slots of old into cur.
func (s *Set) migrate(slots int) {
	old := &s.old
	end := min(len(old.tags), s.migrated+slots)
	for i := s.migrated; i < end; i++ {
		if old.tags[i] > tagTomb {
			addr := old.offs[i]
			sfx, meta := s.slab.view(addr)
			s.cur.insertAbsent(s.hash(sfx, meta), addr)
			// A tombstone, not empty: keys further along the probe
			// sequence must stay reachable until the move ends.
			old.tags[i] = tagTomb
		}
	}
	s.migrated = end
	if end == len(old.tags) {
		s.old, s.migrated = table{}, 0
	}
}

// evacuate moves a few live records of the chunk at the head of the slab's
// queue to the tail chunk, repointing their slots.
func (s *Set) evacuate() {
	budget := evacBudget
	for {
		addr, ok := s.slab.nextToEvacuate(&budget)
		if !ok {
			return
		}
		budget -= evacMoveCost - 1
		sfx, meta := s.slab.view(addr)
		h := s.hash(sfx, meta)
		t, i, _ := s.find(h, sfx, meta)
		moved, ok := s.slab.add(sfx, meta)
		if !ok {
			s.slab.abandonEvacuation()
			return
		}
		t.offs[i] = moved
		s.slab.kill(addr)
	}
}
