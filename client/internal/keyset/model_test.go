package keyset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestModel drives a Set and the model with the same random operations:
// lists in order, out of order and with repeats, lists that fail part way,
// watch events between and during lists, sweeps stopped early; with tiny
// chunks so that evacuation, big records, address-space exhaustion and
// the epoch's wrap all happen.
func TestModel(t *testing.T) {
	for seed := range uint64(48) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			pfx := []string{"", "a", "b\x00"}[seed%3]
			s := &Set{}
			s.UsePrefix(pfx)
			if seed%2 == 1 {
				s = smallSet(pfx, 32+rng.IntN(64), 2+rng.IntN(12), uint8(1+rng.IntN(3)))
			}
			p := &pair{t: t, s: s, ref: newModel()}
			universe := randomKeys(rng, 20+rng.IntN(200))
			for range 40 {
				for range rng.IntN(60) {
					k := universe[rng.IntN(len(universe))]
					if rng.IntN(3) == 0 {
						p.remove(k)
					} else {
						p.see(k)
					}
				}
				p.check("watch")
				for {
					p.startList()
					list := randomList(rng, universe)
					s.Reserve(len(list))
					failAt := len(list) + 1
					if rng.IntN(4) == 0 {
						failAt = rng.IntN(len(list) + 1)
					}
					for i, k := range list {
						if i == failAt {
							break
						}
						if rng.IntN(20) == 0 {
							p.remove(universe[rng.IntN(len(universe))])
						}
						p.see(k)
					}
					p.check("list")
					if failAt <= len(list) {
						continue
					}
					stopAfter := 0
					if rng.IntN(5) == 0 {
						stopAfter = 1 + rng.IntN(p.ref.stale()+1)
					}
					p.sweep(stopAfter)
					p.check("sweep")
					break
				}
			}
		})
	}
}

// randomKeys returns n distinct keys over a small alphabet, often prefixes
// of one another, some long enough to get a chunk of their own in a small
// set.
func randomKeys(rng *rand.Rand, n int) []string {
	const alphabet = "ab\x00\xff"
	set := make(map[string]bool)
	for len(set) < n {
		l := rng.IntN(6)
		if rng.IntN(10) == 0 {
			l = 20 + rng.IntN(200)
		}
		b := make([]byte, l)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		set[string(b)] = true
	}
	keys := make([]string, 0, n)
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// randomList returns a random subset of universe in ascending order, now
// and then with keys out of order or repeated.
func randomList(rng *rand.Rand, universe []string) []string {
	var list []string
	p := rng.Float64()
	for _, k := range universe {
		if rng.Float64() < p {
			list = append(list, k)
		}
	}
	if rng.IntN(4) == 0 && len(list) > 1 {
		for range 1 + rng.IntN(3) {
			i, j := rng.IntN(len(list)), rng.IntN(len(list))
			list[i], list[j] = list[j], list[i]
		}
	}
	if rng.IntN(6) == 0 && len(list) > 0 {
		list = append(list, list[rng.IntN(len(list))])
	}
	return list
}

// FuzzKeySet interprets its input as operations on a small Set and the
// model: each pair of bytes is an operation and an argument.
func FuzzKeySet(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 4, 0, 0, 1, 6, 0})
	f.Add([]byte{1, 0, 0, 3, 0, 5, 0, 9, 4, 0, 0, 3, 3, 5, 7, 0, 6, 0})
	f.Add([]byte{2, 200, 0, 1, 0, 2, 0, 3, 0, 4, 3, 2, 3, 3, 0, 5, 0, 6, 0, 7, 3, 1, 0, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := data[0]
		pfx := []string{"", "p/", "p/x"}[cfg%3]
		s := smallSet(pfx, 32+int(cfg%64), 1+int(cfg/64), 1+cfg%3)
		p := &pair{t: t, s: s, ref: newModel()}
		for ops := data[1:]; len(ops) >= 2; ops = ops[2:] {
			op, arg := ops[0]%8, ops[1]
			switch op {
			case 0, 1, 2:
				p.see(fuzzKey(arg))
			case 3:
				p.remove(fuzzKey(arg))
			case 4:
				p.startList()
			case 5:
				s.Reserve(int(arg) * 3)
			case 6:
				p.sweep(0)
			case 7:
				p.sweep(1 + int(arg%4))
			}
			p.check(fmt.Sprintf("op %d %d", op, arg))
		}
	})
}

// fuzzKey maps a byte to one of 256 keys: with and without the prefixes the
// fuzz target uses, the prefix alone, the empty key, and long keys.
func fuzzKey(b byte) string {
	var base string
	switch {
	case b == 0:
		return ""
	case b == 1:
		return "p/"
	case b%41 == 0:
		base = strings.Repeat(fmt.Sprintf("%02x", b), 30+int(b))
	default:
		base = strings.Repeat(fmt.Sprint(b), int(b%5))
	}
	if b%4 == 0 {
		return base
	}
	return "p/" + base
}
