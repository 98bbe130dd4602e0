package mq

import (
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"go.uber.org/zap"
)

// pulsarLogger routes pulsar-client-go's logs to zap. The client logs every
// connection and reader lifecycle step at Info; those become Debug so the
// daemon stays quiet by default. Warnings and errors keep their level.
type pulsarLogger struct{ s *zap.SugaredLogger }

func newPulsarLogger(l *zap.Logger) plog.Logger {
	return pulsarLogger{s: l.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

func (p pulsarLogger) SubLogger(f plog.Fields) plog.Logger { return pulsarLogger{s: p.with(f)} }
func (p pulsarLogger) WithFields(f plog.Fields) plog.Entry { return pulsarLogger{s: p.with(f)} }
func (p pulsarLogger) WithField(name string, v any) plog.Entry {
	return pulsarLogger{s: p.s.With(name, v)}
}
func (p pulsarLogger) WithError(err error) plog.Entry { return pulsarLogger{s: p.s.With("error", err)} }

func (p pulsarLogger) with(f plog.Fields) *zap.SugaredLogger {
	args := make([]any, 0, 2*len(f))
	for k, v := range f {
		args = append(args, k, v)
	}
	return p.s.With(args...)
}

func (p pulsarLogger) Debug(args ...any) { p.s.Debug(args...) }
func (p pulsarLogger) Info(args ...any)  { p.s.Debug(args...) }
func (p pulsarLogger) Warn(args ...any)  { p.s.Warn(args...) }
func (p pulsarLogger) Error(args ...any) { p.s.Error(args...) }

// The f variants let zap check the level before formatting: pulsar-client-go
// logs every received command with its whole payload at debug level, and
// formatting multi-megabyte insert messages only to discard them cost most
// of the daemon's CPU (docs/benchmarks.md).
func (p pulsarLogger) Debugf(format string, args ...any) { p.s.Debugf(format, args...) }
func (p pulsarLogger) Infof(format string, args ...any)  { p.s.Debugf(format, args...) }
func (p pulsarLogger) Warnf(format string, args ...any)  { p.s.Warnf(format, args...) }
func (p pulsarLogger) Errorf(format string, args ...any) { p.s.Errorf(format, args...) }
