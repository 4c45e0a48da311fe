package bgp

import (
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"go.uber.org/zap"
)

// zapLogger hands GoBGP's log lines to the daemon's zap logger. GoBGP's
// info lines are per-message chatter; they go to debug.
type zapLogger struct{ l *zap.Logger }

func fields(f gobgplog.Fields) []zap.Field {
	out := make([]zap.Field, 0, len(f))
	for k, v := range f {
		if k == gobgplog.FieldFacility {
			continue
		}
		out = append(out, zap.Any(k, v))
	}
	return out
}

func (z zapLogger) Panic(msg string, f gobgplog.Fields) { z.l.Error(msg, fields(f)...) }
func (z zapLogger) Fatal(msg string, f gobgplog.Fields) { z.l.Error(msg, fields(f)...) }
func (z zapLogger) Error(msg string, f gobgplog.Fields) { z.l.Error(msg, fields(f)...) }
func (z zapLogger) Warn(msg string, f gobgplog.Fields)  { z.l.Warn(msg, fields(f)...) }
func (z zapLogger) Info(msg string, f gobgplog.Fields)  { z.l.Debug(msg, fields(f)...) }
func (z zapLogger) Debug(msg string, f gobgplog.Fields) { z.l.Debug(msg, fields(f)...) }

func (zapLogger) SetLevel(gobgplog.LogLevel)  {}
func (zapLogger) GetLevel() gobgplog.LogLevel { return gobgplog.DebugLevel }
