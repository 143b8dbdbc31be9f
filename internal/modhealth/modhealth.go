package modhealth

import (
	"errors"
	"strings"
	"sync"

	"github.com/cilium/hive/cell"
)

// Module is the health of one module. It is safe for concurrent use.
type Module struct {
	scope cell.Health // nil: no provider

	mu    sync.Mutex
	parts []*Part // in creation order, for stable messages
	last  string  // last report, to skip repeating it
}

// New returns the health of module, reporting into health.NewScope(module);
// health may be nil (no provider in the graph).
func New(health cell.Health, module string) *Module {
	m := &Module{}
	if health != nil {
		m.scope = health.NewScope(module)
	}
	return m
}

// Scope returns the module's scope, or a scope that reports nowhere when the
// graph has no health provider; never nil (job groups need one).
func (m *Module) Scope() cell.Health {
	if m.scope == nil {
		return nop{}
	}
	return m.scope
}

// Part returns a new part of the module, counted in the module's roll-up
// under name, without a scope of its own.
func (m *Module) Part(name string) *Part { return m.newPart(name, false) }

// Sub returns a new part that also reports into a child scope of the
// module's, named name. Child scope names should be unique in the program:
// some providers (cell.SimpleHealth) key scopes by their last name only.
func (m *Module) Sub(name string) *Part { return m.newPart(name, true) }

func (m *Module) newPart(name string, sub bool) *Part {
	p := &Part{m: m, name: name}
	if sub && m.scope != nil {
		p.scope = m.scope.NewScope(name)
	}
	m.mu.Lock()
	m.parts = append(m.parts, p)
	m.mu.Unlock()
	return p
}

// StopAll marks every part that reported and is not Stopped yet Stopped
// with reason, as the module's work has ended.
func (m *Module) StopAll(reason string) {
	m.mu.Lock()
	parts := append([]*Part(nil), m.parts...)
	m.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		running := p.level != "" && p.level != cell.StatusStopped
		p.mu.Unlock()
		if running {
			p.Stopped(reason)
		}
	}
}

// State returns the module's rolled-up level, message and error ("" level:
// nothing reported yet).
func (m *Module) State() (cell.Level, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rollUp()
}

func (m *Module) rollUp() (cell.Level, string, error) {
	var (
		degraded, ok, stopped []string
		errs                  []error
	)
	for _, p := range m.parts {
		p.mu.Lock()
		level, msg, err := p.level, p.msg, p.err
		p.mu.Unlock()
		line := p.name + ": " + msg
		switch level {
		case cell.StatusDegraded:
			degraded = append(degraded, line)
			if err != nil {
				errs = append(errs, err)
			}
		case cell.StatusOK:
			ok = append(ok, line)
		case cell.StatusStopped:
			stopped = append(stopped, line)
		}
	}
	switch {
	case len(degraded) > 0:
		return cell.StatusDegraded, strings.Join(degraded, "; "), errors.Join(errs...)
	case len(ok) > 0:
		return cell.StatusOK, strings.Join(ok, "; "), nil
	case len(stopped) > 0:
		return cell.StatusStopped, strings.Join(stopped, "; "), nil
	}
	return "", "", nil
}

// update reports the roll-up into the module's scope if it changed.
func (m *Module) update() {
	if m.scope == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	level, msg, err := m.rollUp()
	key := string(level) + "\x00" + msg
	if err != nil {
		key += "\x00" + err.Error()
	}
	if level == "" || key == m.last {
		return
	}
	m.last = key
	switch level {
	case cell.StatusDegraded:
		m.scope.Degraded(msg, err)
	case cell.StatusOK:
		m.scope.OK(msg)
	case cell.StatusStopped:
		m.scope.Stopped(msg)
	}
}

// Part is one part of a module's health. It is safe for concurrent use.
type Part struct {
	m     *Module
	name  string
	scope cell.Health // child scope, or nil

	mu     sync.Mutex
	level  cell.Level
	msg    string
	err    error
	closed bool
}

// OK reports the part working, with a status a person can read.
func (p *Part) OK(status string) {
	if p.set(cell.StatusOK, status, nil) && p.scope != nil {
		p.scope.OK(status)
	}
}

// Degraded reports the part failing (or pending, with a nil err) for reason.
func (p *Part) Degraded(reason string, err error) {
	if p.set(cell.StatusDegraded, reason, err) && p.scope != nil {
		p.scope.Degraded(reason, err)
	}
}

// Stopped reports that the part's work has ended.
func (p *Part) Stopped(reason string) {
	if p.set(cell.StatusStopped, reason, nil) && p.scope != nil {
		p.scope.Stopped(reason)
	}
}

// Close removes the part from the module's roll-up and closes its scope:
// the thing it reported on is gone (a store that was removed).
func (p *Part) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.m.mu.Lock()
	for i, q := range p.m.parts {
		if q == p {
			p.m.parts = append(p.m.parts[:i], p.m.parts[i+1:]...)
			break
		}
	}
	p.m.mu.Unlock()
	if p.scope != nil {
		p.scope.Close()
	}
	p.m.update()
}

// State returns the part's level, message and error ("" level: nothing
// reported yet).
func (p *Part) State() (cell.Level, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level, p.msg, p.err
}

// set records a report and updates the module; false after Close or when
// nothing changed.
func (p *Part) set(level cell.Level, msg string, err error) bool {
	p.mu.Lock()
	if p.closed || (p.level == level && p.msg == msg && sameErr(p.err, err)) {
		p.mu.Unlock()
		return false
	}
	p.level, p.msg, p.err = level, msg, err
	p.mu.Unlock()
	p.m.update()
	return true
}

// nop is a cell.Health that reports nowhere.
type nop struct{}

func (nop) OK(string)                   {}
func (nop) Stopped(string)              {}
func (nop) Degraded(string, error)      {}
func (nop) NewScope(string) cell.Health { return nop{} }
func (nop) Close()                      {}

// sameErr reports whether a and b read the same (both nil counts).
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a == b || a.Error() == b.Error()
}
