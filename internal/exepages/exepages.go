// Package exepages gives back a running process's mappings of its own
// executable's pages that only starting up needed.
//
// A Go executable's package initialisers are spread over all of its code, and
// the kernel maps file pages around each page touched (fault-around, 64 KiB),
// so a process that has started maps most of the hasidecar executable's
// 25 MiB although it later runs a small part of it. Dropping those mappings
// once the process has settled leaves the pages in the page cache, shared and
// reclaimable; the ones it still runs are mapped again on their next touch.
package exepages

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// mapping is one line of /proc/self/smaps with what Release needs of it.
type mapping struct {
	start, end uintptr
	perms      string
	path       string
	rss, anon  int64 // kB
	swap       int64 // kB
}

// Release drops the calling process's mappings of its executable's
// read-only segments (code and constant data) and returns how many bytes
// were resident in them. Only a fixed-address executable (ELF ET_EXEC, as
// `make build` links it) is released: a position-independent one has
// relocated data in a read-only segment, written at load, which dropping
// would lose. A segment holding anonymous or swapped pages is left alone for
// the same reason.
func Release() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	if fixed, err := fixedAddress("/proc/self/exe"); err != nil || !fixed {
		return 0, err
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	maps, err := parseSmaps(smaps)
	if err != nil {
		return 0, err
	}
	var released int64
	for _, m := range releasable(maps, exe) {
		// By address: these pages are not Go memory, and no slice over
		// them is needed.
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("madvise %x-%x: %w", m.start, m.end, errno)
		}
		released += m.rss * 1024
	}
	return released, nil
}

// releasable picks the private, read-only mappings of exe without
// anonymous pages.
func releasable(maps []mapping, exe string) []mapping {
	var out []mapping
	for _, m := range maps {
		if m.path != exe || len(m.perms) != 4 || m.perms[0] != 'r' || m.perms[1] != '-' || m.perms[3] != 'p' || m.anon != 0 || m.swap != 0 {
			continue
		}
		out = append(out, m)
	}
	return out
}

// parseSmaps reads the mappings of /proc/PID/smaps: a header line per
// mapping ("start-end perms offset dev inode [path]") followed by
// "Key: value kB" lines.
func parseSmaps(b []byte) ([]mapping, error) {
	var out []mapping
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := s.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if key, ok := strings.CutSuffix(f[0], ":"); ok {
			if len(out) == 0 || len(f) < 2 {
				continue
			}
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				continue // VmFlags and other non-numeric fields
			}
			switch key {
			case "Rss":
				out[len(out)-1].rss = n
			case "Anonymous":
				out[len(out)-1].anon = n
			case "Swap":
				out[len(out)-1].swap = n
			}
			continue
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("smaps: unexpected line %q", line)
		}
		from, to, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("smaps: unexpected line %q", line)
		}
		a, err1 := strconv.ParseUint(from, 16, 64)
		z, err2 := strconv.ParseUint(to, 16, 64)
		if err1 != nil || err2 != nil || z < a {
			return nil, fmt.Errorf("smaps: unexpected range in %q", line)
		}
		m := mapping{start: uintptr(a), end: uintptr(z), perms: f[1]}
		if len(f) >= 6 {
			// A path may hold spaces; the kernel pads before it.
			m.path = strings.Join(f[5:], " ")
		}
		out = append(out, m)
	}
	return out, s.Err()
}

// fixedAddress reports whether the ELF file at path is a fixed-address
// executable (e_type ET_EXEC), not a position-independent one.
func fixedAddress(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return f.Type == elf.ET_EXEC, nil
}
