package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name          string
		level, format string
		wantErr       bool
	}{
		{"json info", "info", "json", false},
		{"console debug", "debug", "console", false},
		{"bad level", "loud", "json", true},
		{"bad format", "info", "xml", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, tt.level, tt.format)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			log.Info("hello")
			if !strings.Contains(buf.String(), "hello") {
				t.Fatalf("no message in %q", buf.String())
			}
		})
	}
}

func TestJSONIsOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "warn", "json")
	log.Info("dropped")
	log.Warn("kept")
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
		t.Fatalf("not one JSON object: %q: %v", buf.String(), err)
	}
	if m["msg"] != "kept" || m["level"] != "warn" {
		t.Fatalf("got %v", m)
	}
}
