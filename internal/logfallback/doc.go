// Package logfallback holds the one rule for a logger that was not given.
//
// Outside a hive (an API called with a nil logger) it is logrus' standard
// logger: Or and OrWithSubsys. Inside a hive it is FromHive: the graph's
// logrus.FieldLogger when the program provides one, else a logrus logger
// forwarding into the hive's *slog.Logger (ToSlog), so that one program has
// one log format. Every cell and API that takes an optional logger applies
// these functions, so the rule cannot drift.
package logfallback
