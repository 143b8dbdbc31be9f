// Package logfallback holds the one rule for a logger that was not given:
// logrus' standard logger. Every cell and API that takes an optional
// logrus.FieldLogger applies it through Or, so the rule cannot drift.
package logfallback

import "github.com/sirupsen/logrus"

// Or returns log, or logrus' standard logger when log is nil.
func Or(log logrus.FieldLogger) logrus.FieldLogger {
	if log == nil {
		return logrus.StandardLogger()
	}
	return log
}

// OrWithSubsys returns log as it is, or logrus' standard logger with the
// subsys field when log is nil: a caller's logger carries its own fields.
func OrWithSubsys(log logrus.FieldLogger, subsys string) logrus.FieldLogger {
	if log == nil {
		return logrus.StandardLogger().WithField("subsys", subsys)
	}
	return log
}
