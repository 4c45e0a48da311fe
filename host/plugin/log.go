package plugin

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newHCLogger gives go-plugin an hclog logger whose lines end up in zap.
// go-plugin parses a plugin's hclog JSON lines from its stderr and logs them
// through this logger with their level; we render them as JSON once more and
// turn each line into a zap entry.
func newHCLogger(z *zap.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Output:     &zapWriter{z: z},
		JSONFormat: true,
		Level:      hclog.Trace,
	})
}

// zapWriter turns hclog JSON lines into zap entries.
type zapWriter struct{ z *zap.Logger }

func (w *zapWriter) Write(b []byte) (int, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			w.line(line)
		}
	}
	return len(b), nil
}

func (w *zapWriter) line(line []byte) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		w.z.Debug(string(line))
		return
	}
	msg, _ := m["@message"].(string)
	lvl := zapcore.DebugLevel
	switch m["@level"] {
	case "info":
		lvl = zapcore.InfoLevel
	case "warn":
		lvl = zapcore.WarnLevel
	case "error":
		lvl = zapcore.ErrorLevel
	}
	fields := make([]zap.Field, 0, len(m))
	for k, v := range m {
		switch k {
		case "@message", "@level", "@timestamp", "@caller":
		case "@module":
			fields = append(fields, zap.Any("module", v))
		default:
			fields = append(fields, zap.Any(k, v))
		}
	}
	if ce := w.z.Check(lvl, msg); ce != nil {
		ce.Write(fields...)
	}
}

var _ io.Writer = (*zapWriter)(nil)
