package exepages

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const sample = `00400000-00f6d000 r-xp 00000000 fe:00 10010674                           /usr/sbin/hasidecar
Size:              11700 kB
Rss:                9008 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00f6d000-01c64000 r--p 00b6d000 fe:00 10010674                           /usr/sbin/hasidecar
Rss:                8924 kB
Anonymous:             0 kB
01c64000-01d08000 rw-p 01864000 fe:00 10010674                           /usr/sbin/hasidecar
Rss:                 528 kB
Anonymous:           320 kB
02000000-02100000 r--p 00000000 fe:00 10010675                           /opt/my plugins/hasidecar (deleted)
Rss:                  64 kB
Anonymous:             8 kB
7f285f256000-7f285f308000 rw-p 00000000 00:00 0 
Rss:                 436 kB
Anonymous:           436 kB
7ffcc020b000-7ffcc022c000 rw-p 00000000 00:00 0                          [stack]
Rss:                  16 kB
Anonymous:            16 kB
`

func TestParseSmaps(t *testing.T) {
	got, err := parseSmaps([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{start: 0x400000, end: 0xf6d000, perms: "r-xp", path: "/usr/sbin/hasidecar", rss: 9008},
		{start: 0xf6d000, end: 0x1c64000, perms: "r--p", path: "/usr/sbin/hasidecar", rss: 8924},
		{start: 0x1c64000, end: 0x1d08000, perms: "rw-p", path: "/usr/sbin/hasidecar", rss: 528, anon: 320},
		{start: 0x2000000, end: 0x2100000, perms: "r--p", path: "/opt/my plugins/hasidecar (deleted)", rss: 64, anon: 8},
		{start: 0x7f285f256000, end: 0x7f285f308000, perms: "rw-p", rss: 436, anon: 436},
		{start: 0x7ffcc020b000, end: 0x7ffcc022c000, perms: "rw-p", path: "[stack]", rss: 16, anon: 16},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseSmaps =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseSmapsRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		"not a mapping line\n",
		"zz-00f6d000 r-xp 00000000 fe:00 1 /x\n",
		"00f6d000-00400000 r-xp 00000000 fe:00 1 /x\n", // end before start
	} {
		if _, err := parseSmaps([]byte(in)); err == nil {
			t.Errorf("parseSmaps(%q) accepted", in)
		}
	}
}

// Only private, read-only mappings of the executable that hold no written
// (anonymous) pages may be dropped: anything else would lose data.
func TestReleasable(t *testing.T) {
	maps, err := parseSmaps([]byte(sample + `03000000-03100000 r--s 00000000 fe:00 10010674                           /usr/sbin/hasidecar
Rss:                  64 kB
Anonymous:             0 kB
04000000-04100000 r--p 00000000 fe:00 10010674                           /usr/sbin/hasidecar
Rss:                  60 kB
Anonymous:             0 kB
Swap:                  4 kB
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range releasable(maps, "/usr/sbin/hasidecar") {
		got = append(got, m.perms)
	}
	if want := []string{"r-xp", "r--p"}; !reflect.DeepEqual(got, want) {
		t.Errorf("releasable = %q, want %q", got, want)
	}
	got = nil
	for _, m := range releasable(maps, "/opt/my plugins/hasidecar (deleted)") {
		got = append(got, m.perms)
	}
	if len(got) != 0 {
		t.Errorf("a mapping with anonymous pages is releasable: %q", got)
	}
}

// The test binary drops its own code's mappings and goes on running.
func TestReleaseInThisProcess(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Skip("no /proc/self/exe:", err)
	}
	before := residentCode(t, exe)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	if fixed, _ := fixedAddress(exe); !fixed {
		if n != 0 {
			t.Errorf("Release gave back %d bytes of a position-independent executable", n)
		}
		return
	}
	after := residentCode(t, exe)
	if n <= 0 || after >= before {
		t.Errorf("Release gave back %d bytes; resident code %d kB before, %d kB after", n, before, after)
	}
	// Code runs again from the page cache.
	if strings.ToUpper("still running") != "STILL RUNNING" {
		t.Error("code behaves differently after Release")
	}
}

func residentCode(t *testing.T, exe string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := parseSmaps(b)
	if err != nil {
		t.Fatal(err)
	}
	var kb int64
	for _, m := range releasable(maps, exe) {
		kb += m.rss
	}
	return kb
}

func FuzzParseSmaps(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, b []byte) {
		maps, err := parseSmaps(b)
		if err != nil {
			return
		}
		for _, m := range maps {
			if m.end < m.start {
				t.Fatalf("mapping ends before it starts: %+v", m)
			}
		}
	})
}
