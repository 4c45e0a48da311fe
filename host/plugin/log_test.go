package plugin

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestStreamWriter(t *testing.T) {
	type entry struct {
		level  zapcore.Level
		msg    string
		fields map[string]any
	}
	for _, tt := range []struct {
		name   string
		chunks []string
		want   []entry
	}{
		{"plain line", []string{"hello\n"}, []entry{{zap.InfoLevel, "hello", nil}}},
		{"line split over chunks", []string{"hel", "lo\nwor", "ld\n"},
			[]entry{{zap.InfoLevel, "hello", nil}, {zap.InfoLevel, "world", nil}}},
		{"no end of line yet", []string{"partial"}, nil},
		{"blank lines dropped", []string{"\n\r\n  \n"}, nil},
		{"crlf", []string{"dos\r\n"}, []entry{{zap.InfoLevel, "dos", nil}}},
		{"hclog json keeps its level and fields",
			[]string{`{"@level":"warn","@message":"disk full","@timestamp":"x","path":"/var"}` + "\n"},
			[]entry{{zap.WarnLevel, "disk full", map[string]any{"path": "/var"}}}},
		{"error level", []string{`{"@level":"error","@message":"boom"}` + "\n"},
			[]entry{{zap.ErrorLevel, "boom", nil}}},
		{"trace is debug", []string{`{"@level":"trace","@message":"fine"}` + "\n"},
			[]entry{{zap.DebugLevel, "fine", nil}}},
		{"go-plugin's plugin key renamed", []string{`{"@level":"info","@message":"m","plugin":"/bin/x","timestamp":"t"}` + "\n"},
			[]entry{{zap.InfoLevel, "m", map[string]any{"plugin_path": "/bin/x"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			w := newStreamWriter(zap.New(core), "stderr")
			for _, c := range tt.chunks {
				if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := logs.All()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				ctx := g.ContextMap()
				if g.Level != w.level || g.Message != w.msg || ctx["stream"] != "stderr" {
					t.Errorf("entry %d = %s %q %v, want %s %q", i, g.Level, g.Message, ctx, w.level, w.msg)
				}
				for k, v := range w.fields {
					if ctx[k] != v {
						t.Errorf("entry %d field %s = %v, want %v", i, k, ctx[k], v)
					}
				}
				if _, ok := ctx["timestamp"]; ok {
					t.Errorf("entry %d keeps the plugin's timestamp", i)
				}
			}
		})
	}
}

func TestStreamWriterBoundsALongLine(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	w := newStreamWriter(zap.New(core), "stdout")
	w.Write(make([]byte, maxLine+1))
	if logs.Len() != 1 {
		t.Fatalf("a line without end of %d bytes: %d entries", maxLine+1, logs.Len())
	}
}

func TestDefaultBackoff(t *testing.T) {
	backoff := NewManager(Options{}).opts.Backoff
	for _, tt := range []struct {
		attempt int
		want    time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{6, 3200 * time.Millisecond},
		{7, 5 * time.Second},
		{1000, 5 * time.Second},
	} {
		if got := backoff(tt.attempt); got != tt.want {
			t.Errorf("attempt %d: %v, want %v", tt.attempt, got, tt.want)
		}
	}
}
