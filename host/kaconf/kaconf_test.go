package kaconf

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// dump prints statements and diagnostics in a form that diffs well.
func dump(stmts []*Statement, diags []Diagnostic) string {
	var b strings.Builder
	var walk func([]*Statement, int)
	walk = func(ss []*Statement, depth int) {
		for _, s := range ss {
			fmt.Fprintf(&b, "%s%s %q", strings.Repeat("  ", depth), s.Pos, s.Words)
			if s.HasBlock {
				b.WriteString(" {")
			}
			b.WriteString("\n")
			if s.HasBlock {
				walk(s.Block, depth+1)
				fmt.Fprintf(&b, "%s}\n", strings.Repeat("  ", depth))
			}
		}
	}
	walk(stmts, 0)
	for _, d := range diags {
		fmt.Fprintf(&b, "diagnostic: %s\n", d)
	}
	return b.String()
}

// TestGolden parses each testdata/*.conf on node "lb1" and compares the
// tree with testdata/NAME.golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			stmts, diags := Parse(f, Options{NodeID: "lb1", Files: OSFiles{}})
			got := dump(stmts, diags)
			golden := strings.TrimSuffix(f, ".conf") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", f, golden, got, want)
			}
		})
	}
}

// memFiles is an in-memory file system for table tests.
type memFiles map[string]string

func (m memFiles) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(s), nil
}

func (m memFiles) Glob(pattern string) ([]string, error) {
	var out []string
	for name := range m {
		if ok, _ := filepath.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

func TestNodeID(t *testing.T) {
	files := memFiles{"/k.conf": "@a x 1\n@^a y 2\n@b z 3\n"}
	for _, tc := range []struct {
		node string
		want []string
	}{
		{"a", []string{"x"}},
		{"b", []string{"y", "z"}},
		{"", []string{"y"}},
	} {
		stmts, diags := Parse("/k.conf", Options{NodeID: tc.node, Files: files})
		var got []string
		for _, s := range stmts {
			got = append(got, s.Keyword())
		}
		if !reflect.DeepEqual(got, tc.want) || len(diags) != 0 {
			t.Errorf("node %q: got %v %v, want %v", tc.node, got, diags, tc.want)
		}
	}
	if got := DefaultNodeID("lb1.example.com"); got != "lb1" {
		t.Errorf("DefaultNodeID = %q", got)
	}
}

func TestIncludeLoop(t *testing.T) {
	files := memFiles{"/k.conf": "a\ninclude k.conf\n"}
	stmts, diags := Parse("/k.conf", Options{Files: files})
	if len(stmts) == 0 || len(diags) != 1 || !strings.Contains(diags[0].Msg, "deep") {
		t.Fatalf("got %d statements, %v", len(stmts), diags)
	}
}

func TestDefinitionLoop(t *testing.T) {
	files := memFiles{"/k.conf": "$A=$B\n$B=$A\nx $A\n"}
	_, diags := Parse("/k.conf", Options{Files: files})
	if len(diags) != 1 || !strings.Contains(diags[0].Msg, "expand") {
		t.Fatalf("got %v", diags)
	}
}

func TestScript(t *testing.T) {
	for _, tc := range []struct {
		raw        string
		argv, rest []string
		err        bool
	}{
		{`script "/usr/bin/killall -0 nginx"`, []string{"/usr/bin/killall", "-0", "nginx"}, nil, false},
		{`script /bin/true`, []string{"/bin/true"}, nil, false},
		// The outer split takes the backslash: keepalived splits twice.
		{`notify_master "/x.sh 'a b' c\ d" root wheel`, []string{"/x.sh", "a b", "c", "d"}, []string{"root", "wheel"}, false},
		{`script "/bin/sh -c 'pidof nginx || exit 1'"`, []string{"/bin/sh", "-c", "pidof nginx || exit 1"}, nil, false},
		{`script "/x \"quoted\" \x41\101\t"`, []string{"/x", "quoted", "AA"}, nil, false},
		{`script "/x 'open"`, nil, nil, true},
		{`script`, nil, nil, true},
		{`script ""`, nil, nil, true},
	} {
		s := &Statement{Raw: tc.raw}
		argv, rest, err := s.Script()
		if (err != nil) != tc.err || !reflect.DeepEqual(argv, tc.argv) || len(rest) != len(tc.rest) || (len(rest) > 0 && !reflect.DeepEqual(rest, tc.rest)) {
			t.Errorf("%s: got %q %q %v", tc.raw, argv, rest, err)
		}
	}
}

// FuzzParse: no file, however broken, makes the parser panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(string(b))
	}
	f.Add("$A=\\\n$A\n@\n@^ x\n${A} ${\n\"\n{}{}}}{\ninclude *\n")
	f.Fuzz(func(t *testing.T, src string) {
		files := memFiles{"/etc/keepalived/keepalived.conf": src, "/etc/keepalived/inc.conf": "x {\n" + src}
		stmts, _ := Parse("/etc/keepalived/keepalived.conf", Options{NodeID: "lb1", Files: files})
		var walk func([]*Statement)
		walk = func(ss []*Statement) {
			for _, s := range ss {
				_, _, _ = s.Script()
				_, _ = SplitQuotedEscaped(s.Raw)
				walk(s.Block)
			}
		}
		walk(stmts)
	})
}
