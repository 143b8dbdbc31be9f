package users_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	hivetesting "github.com/cilium/hive/hivetest"
	"github.com/sirupsen/logrus"
	logrustest "github.com/sirupsen/logrus/hooks/test"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/users"
)

// usersHive is a hive with the client of the shared server, the
// user-management client, the users cell (syncing file every 20ms, recording
// into stateKey) and more.
func usersHive(t *testing.T, file, stateKey string, more ...cell.Cell) *hive.Hive {
	t.Helper()
	return usersHiveArgs(t, file, stateKey,
		[]string{"--kvstore=etcd", "--kvstore-opt=etcd.address=" + hivetest.SharedServer(t).Endpoint()}, more...)
}

func usersHiveArgs(t *testing.T, file, stateKey string, kvArgs []string, more ...cell.Cell) *hive.Hive {
	t.Helper()
	h := hive.New(append([]cell.Cell{cells.Client, cells.UserMgmtClient, users.Cell}, more...)...)
	fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse(append(kvArgs,
		"--kvstore-users-file="+file,
		"--kvstore-users-sync-interval=20ms",
		"--kvstore-users-state-key="+stateKey,
	)))
	return h
}

func start(t *testing.T, h *hive.Hive) (stop func()) {
	t.Helper()
	log := hivetesting.Logger(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, h.Start(log, ctx))
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, h.Stop(log, ctx))
	}
	t.Cleanup(stop)
	return stop
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write and rename, as a careful operator or a ConfigMap update does,
	// so the cell never reads half a file.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func eventuallyRoles(t *testing.T, user string, want ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, ok := roles(t, user)
		if !ok || len(got) != len(want) {
			return false
		}
		for i := range want {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}, testTimeout, 10*time.Millisecond, "user %s with roles %v", user, want)
}

// eventuallyLoggedError waits until hook holds an entry whose error matches.
func eventuallyLoggedError(t *testing.T, hook *logrustest.Hook, match func(error) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, e := range hook.AllEntries() {
			if err, ok := e.Data[logrus.ErrorKey].(error); ok && match(err) {
				return true
			}
		}
		return false
	}, testTimeout, 10*time.Millisecond, "an error logged")
}

func eventuallyAbsent(t *testing.T, user string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, ok := roles(t, user)
		return !ok
	}, testTimeout, 10*time.Millisecond, "user %s deleted", user)
}

func TestUsersCellFollowsFileAcrossRestarts(t *testing.T) {
	srv := hivetest.SharedServer(t)
	n := names(t)
	role := n + "role"
	srv.CreateRole(t, role, hivetest.ReadPrefix("cilium/state/"))
	alice, bob, carol := n+"alice", n+"bob", n+"carol"
	file := filepath.Join(t.TempDir(), "users.yaml")
	stateKey := hivetest.UniquePrefix(t) + "managed"

	// The file appears after the hive started.
	stop := start(t, usersHive(t, file, stateKey))
	writeFile(t, file, "- name: "+alice+"\n  roles: ["+role+"]\n- name: "+bob+"\n  roles: ["+role+"]\n")
	eventuallyRoles(t, alice, role)
	eventuallyRoles(t, bob, role)

	// A change while running.
	writeFile(t, file, "- name: "+alice+"\n  roles: ["+role+"]\n")
	eventuallyAbsent(t, bob)

	// A malformed file is not applied; the next valid version is.
	writeFile(t, file, "- name: "+alice+"\n  roles: "+role+"]\n")
	writeFile(t, file, "- name: "+alice+"\n  roles: ["+role+"]\n- name: "+carol+"\n")
	eventuallyRoles(t, carol)
	requireRoles(t, alice, role)

	// While the program is down, alice leaves the file. The next run still
	// knows it created her (the record is in etcd) and deletes her.
	stop()
	writeFile(t, file, "- name: "+carol+"\n")
	start(t, usersHive(t, file, stateKey))
	eventuallyAbsent(t, alice)
	requireRoles(t, carol)
}

// A malformed file on its own changes nothing: in particular, a cell started
// on a broken file must not read it as "no users".
func TestUsersCellMalformedFileLeavesUsersUntouched(t *testing.T) {
	n := names(t)
	alice := n + "alice"
	file := filepath.Join(t.TempDir(), "users.yaml")
	stateKey := hivetest.UniquePrefix(t) + "managed"
	writeFile(t, file, "- name: "+alice+"\n")
	stop := start(t, usersHive(t, file, stateKey))
	eventuallyRoles(t, alice)
	stop()

	writeFile(t, file, "users: {broken")
	logger, hook := logrustest.NewNullLogger()
	h := usersHive(t, file, stateKey, cell.Provide(func() logrus.FieldLogger { return logger }))
	start(t, h)
	// Wait until the cell has read the file, then check.
	eventuallyLoggedError(t, hook, func(err error) bool { return strings.Contains(err.Error(), "malformed users file") })
	requireRoles(t, alice)
}

// A file caught empty, as it is between the truncation and the write of an
// in-place rewrite, is not "no users": nothing is deleted. An explicit empty
// list is, even written in place.
func TestUsersCellIgnoresEmptiedFile(t *testing.T) {
	n := names(t)
	alice := n + "alice"
	file := filepath.Join(t.TempDir(), "users.yaml")
	stateKey := hivetest.UniquePrefix(t) + "managed"
	writeFile(t, file, "- name: "+alice+"\n")
	logger, hook := logrustest.NewNullLogger()
	start(t, usersHive(t, file, stateKey, cell.Provide(func() logrus.FieldLogger { return logger })))
	eventuallyRoles(t, alice)

	require.NoError(t, os.WriteFile(file, nil, 0o600))
	eventuallyLoggedError(t, hook, func(err error) bool { return errors.Is(err, users.ErrNoUsersList) })
	requireRoles(t, alice)

	require.NoError(t, os.WriteFile(file, []byte("[]\n"), 0o600))
	eventuallyAbsent(t, alice)
}

func TestUsersCellWithoutKVStore(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.yaml")
	writeFile(t, file, "- name: nobody\n")
	// Users file but no --kvstore: the hive runs, the cell stays idle.
	start(t, usersHiveArgs(t, file, "unused", nil))
}

func TestUsersCellDisabledWithoutFile(t *testing.T) {
	h := hive.New(cells.Client, cells.UserMgmtClient, users.Cell)
	start(t, h)
}

func TestUsersCellRejectsBadInterval(t *testing.T) {
	h := hive.New(cells.Client, cells.UserMgmtClient, users.Cell)
	fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--kvstore-users-file=/some/file", "--kvstore-users-sync-interval=0s"}))
	err := h.Populate(hivetesting.Logger(t))
	require.ErrorContains(t, err, "--kvstore-users-sync-interval")
}
