package users_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
)

// With a health provider the users cell reports in the kvstore-users
// scope: OK with the users applied, Degraded with the error of a file it
// cannot apply, OK again once the file is fixed.
func TestUsersCellHealth(t *testing.T) {
	n := names(t)
	alice := n + "alice"
	file := filepath.Join(t.TempDir(), "users.yaml")
	writeFile(t, file, "- name: "+alice+"\n")
	var sh *cell.SimpleHealth
	start(t, usersHive(t, file, hivetest.UniquePrefix(t)+"managed",
		cell.SimpleHealthCell, cell.Invoke(func(s *cell.SimpleHealth) { sh = s })))

	scope := func() string {
		s := sh.GetChild("kvstore-users")
		if s == nil {
			return ""
		}
		s.Lock()
		defer s.Unlock()
		line := string(s.Level) + " " + s.Status
		if s.Error != nil {
			line += " error=" + s.Error.Error()
		}
		return line
	}
	eventually := func(prefix, contains string) {
		t.Helper()
		require.Eventually(t, func() bool {
			l := scope()
			return strings.HasPrefix(l, prefix) && strings.Contains(l, contains)
		}, testTimeout, 10*time.Millisecond, "scope: %s", scope())
	}
	eventually("OK sync: 1 users applied from the users file", "")

	writeFile(t, file, "users: {broken")
	eventually("Degraded sync: users file not applied", "malformed users file")

	writeFile(t, file, "- name: "+alice+"\n  roles: []\n- name: "+n+"bob\n")
	eventually("OK sync: 2 users applied", "")
}
