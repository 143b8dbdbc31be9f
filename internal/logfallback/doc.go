// Package logfallback holds the one rule for a logger that was not given:
// logrus' standard logger. Every cell and API that takes an optional
// logrus.FieldLogger applies it through Or, so the rule cannot drift.
package logfallback
