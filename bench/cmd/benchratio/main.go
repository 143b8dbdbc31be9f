package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

type metrics map[string][]float64

func main() {
	results := map[string]map[string]metrics{} // benchmark -> impl -> metric -> value
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line)
		name, impl, m, ok := parse(line)
		if !ok {
			continue
		}
		if results[name] == nil {
			results[name] = map[string]metrics{}
		}
		if results[name][impl] == nil {
			results[name][impl] = metrics{}
		}
		for u, v := range m {
			results[name][impl][u] = append(results[name][impl][u], v...)
		}
	}
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Println()
	fmt.Println("median over -count runs; ours/raw below 1 means ours is cheaper")
	fmt.Printf("%-40s %-14s %14s %14s %8s\n", "benchmark", "metric", "ours", "raw", "ours/raw")
	for _, n := range names {
		ours, raw := results[n]["ours"], results[n]["raw"]
		if ours == nil || raw == nil {
			continue
		}
		units := make([]string, 0, len(ours))
		for u := range ours {
			if _, ok := raw[u]; ok {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		for _, u := range units {
			o, r := median(ours[u]), median(raw[u])
			ratio := "-"
			if r != 0 {
				ratio = fmt.Sprintf("%.3f", o/r)
			}
			fmt.Printf("%-40s %-14s %14.1f %14.1f %8s\n", n, u, o, r, ratio)
		}
	}
}

// parse reads "BenchmarkX/ours-2  1000  1234 ns/op  56 B/op ..." into
// ("BenchmarkX", "ours", metrics).
func parse(line string) (string, string, metrics, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", "", nil, false
	}
	full := f[0]
	if i := strings.LastIndex(full, "-"); i > 0 {
		if _, err := strconv.Atoi(full[i+1:]); err == nil {
			full = full[:i]
		}
	}
	slash := strings.LastIndex(full, "/")
	if slash < 0 {
		return "", "", nil, false
	}
	name, impl := full[:slash], full[slash+1:]
	if impl != "ours" && impl != "raw" {
		return "", "", nil, false
	}
	m := metrics{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			break
		}
		m[f[i+1]] = []float64{v}
	}
	return name, impl, m, true
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
