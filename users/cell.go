package users

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/background"
	"github.com/hivekv/kvstore/internal/modhealth"
	"github.com/hivekv/kvstore/promise"
)

// Cell keeps the etcd users in line with the file named by
// --kvstore-users-file; see the package documentation.
var Cell = cell.Module(
	moduleID,
	"KVStore users file sync",

	cell.Config(DefaultConfig),
	cell.Invoke(registerSync),
)

type params struct {
	cell.In
	// Lifecycle, job registry, health provider and loggers of the graph
	// (all but the lifecycle optional; see internal/background).
	background.Params

	Config Config
	KV     promise.Promise[kvstore.BackendOperations]
	Users  promise.Promise[kvstore.BackendOperationsUserMgmt]
}

// moduleID is the cell's module ID, which also names its health scope.
const moduleID = "kvstore-users"

func registerSync(p params) error {
	if p.Config.KVStoreUsersFile == "" {
		return nil
	}
	if err := p.Config.Validate(); err != nil {
		return fmt.Errorf("kvstore users configuration: %w", err)
	}
	g := background.NewGroup(p.Params, moduleID)
	log := g.Log().WithFields(logrus.Fields{"subsys": "kvstore-users", "file": p.Config.KVStoreUsersFile})
	w := &watcher{cfg: p.Config, kv: p.KV, users: p.Users, log: log, health: g.Health().Part("sync")}
	g.Add("sync", w.run)
	return nil
}

// watcher polls the users file and syncs the users when its content
// changed. It polls (every --kvstore-users-sync-interval) instead of using
// inotify: files mounted from Kubernetes ConfigMaps and Secrets change by a
// symlink swap that inotify watches on the file miss, and reading a small
// file now and then costs nothing. It compares a hash of the content rather
// than the modification time, whose granularity can hide a quick rewrite,
// and applies a new content only once it read the same twice (contentGate).
type watcher struct {
	cfg   Config
	kv    promise.Promise[kvstore.BackendOperations]
	users promise.Promise[kvstore.BackendOperationsUserMgmt]
	log   logrus.FieldLogger
	// health is OK with the last applied content, Degraded with the
	// error of the last read or sync that failed.
	health *modhealth.Part
}

func (w *watcher) run(ctx context.Context) {
	kv, err := w.kv.Await(ctx)
	if err == nil {
		var um kvstore.BackendOperationsUserMgmt
		um, err = w.users.Await(ctx)
		if err == nil {
			w.loop(ctx, &Syncer{KV: kv, Users: um, StateKey: w.cfg.KVStoreUsersStateKey, Log: w.log})
			return
		}
	}
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, kvstore.ErrNotConfigured):
		w.log.Warn("A users file is configured but the kvstore is not (--kvstore): users are not synced")
		w.health.Degraded("users are not synced: a users file is configured but the kvstore is not (--kvstore)", err)
	default:
		w.log.WithError(err).Error("No kvstore client: users are not synced")
		w.health.Degraded("users are not synced: no kvstore client", err)
	}
}

func (w *watcher) loop(ctx context.Context, s *Syncer) {
	var (
		gate    contentGate
		lastErr string // last reported problem, to log each once
		timer   = time.NewTimer(0)
	)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		next := w.cfg.KVStoreUsersSyncInterval
		data, err := os.ReadFile(w.cfg.KVStoreUsersFile)
		if err != nil {
			gate.forget()
			w.report(&lastErr, fmt.Errorf("reading the users file: %w", err), errors.Is(err, fs.ErrNotExist))
			timer.Reset(next)
			continue
		}
		sum := sha256.Sum256(data)
		switch gate.observe(sum) {
		case settling:
			next = settleDelay(next)
		case apply:
			desired, err := ParseFile(data)
			if err != nil {
				// Not parsed again until it changes; the users stay as
				// they are.
				gate.done(sum)
				w.report(&lastErr, fmt.Errorf("malformed users file, leaving users untouched: %w", err), false)
				break
			}
			if err := s.Sync(ctx, desired); err != nil {
				if ctx.Err() != nil {
					return
				}
				// Still the candidate: retried at the next read.
				w.report(&lastErr, err, false)
				break
			}
			gate.done(sum)
			lastErr = ""
			w.log.WithField("users", len(desired)).Info("Users synced with the users file")
			w.health.OK(fmt.Sprintf("%d users applied from the users file at %s", len(desired), time.Now().UTC().Format(time.RFC3339)))
		}
		timer.Reset(next)
	}
}

// report logs err unless it repeats the last one, so that a broken file or
// an unreachable store gives one line, not one per interval.
func (w *watcher) report(last *string, err error, warnOnly bool) {
	if err.Error() == *last {
		return
	}
	*last = err.Error()
	w.health.Degraded("users file not applied", err)
	if warnOnly {
		w.log.WithError(err).Warn("Users file not available yet")
		return
	}
	w.log.WithError(err).Error("Users not synced")
}
