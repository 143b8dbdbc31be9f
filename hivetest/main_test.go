package hivetest

import "testing"

// TestMain runs the package on a shared server and then checks that closing
// every server left no goroutines behind, which is what packages using the
// kit rely on for their own leak checks.
func TestMain(m *testing.M) { Main(m, true) }
