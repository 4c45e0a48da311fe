package plugin

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"

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

func (w *zapWriter) line(line []byte) { logLine(w.z, line, zapcore.DebugLevel) }

// logLine logs one line as a zap entry: an hclog JSON line with its level,
// message and fields, anything else verbatim at level plain.
func logLine(z *zap.Logger, line []byte, plain zapcore.Level) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		if ce := z.Check(plain, string(line)); ce != nil {
			ce.Write()
		}
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
		case "@message", "@level", "@timestamp", "@caller", "timestamp":
			// zap stamps its own time; "timestamp" is the plugin's, which
			// go-plugin adds to each line it relays.
		case "@module":
			fields = append(fields, zap.Any("module", v))
		case "plugin":
			// go-plugin's own lines name the binary "plugin"; ours is the
			// plugin's name, already a field of z.
			fields = append(fields, zap.Any("plugin_path", v))
		default:
			fields = append(fields, zap.Any(k, v))
		}
	}
	if ce := z.Check(lvl, msg); ce != nil {
		ce.Write(fields...)
	}
}

var _ io.Writer = (*zapWriter)(nil)

// streamWriter logs, one entry per line, what a plugin wrote to os.Stdout or
// os.Stderr after Serve: go-plugin forwards both over gRPC in chunks that
// need not end at a line. hclog JSON lines keep their level; other lines are
// logged at info, as a plugin author who printed them meant them to be seen.
type streamWriter struct {
	log    *zap.Logger
	stream string

	mu      sync.Mutex
	pending []byte
}

// maxLine bounds a line kept waiting for its end.
const maxLine = 64 << 10

func newStreamWriter(z *zap.Logger, stream string) *streamWriter {
	return &streamWriter{log: z.With(zap.String("stream", stream)), stream: stream}
}

func (w *streamWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, b...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		w.line(w.pending[:i])
		w.pending = w.pending[i+1:]
	}
	if len(w.pending) >= maxLine {
		w.line(w.pending)
		w.pending = nil
	}
	w.pending = bytes.Clone(w.pending) // do not pin the caller's chunks
	return len(b), nil
}

func (w *streamWriter) line(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	logLine(w.log, line, zapcore.InfoLevel)
}
