package pathlock

import "testing"

func TestInQueue(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"x/694d7a1b2c3d4e5f", true},
		{"x/y/694d7a1b2c3d4e5f", false}, // the queue of x/y
		{"x/", false},
		{"xy/694d", false},
		{"x", false},
	} {
		if got := InQueue("x/", tc.key); got != tc.want {
			t.Errorf("InQueue(%q, %q) = %v, want %v", "x/", tc.key, got, tc.want)
		}
	}
}
