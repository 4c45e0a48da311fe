package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// bgpWith is a valid bgp block whose line 2 is extra.
func bgpWith(extra string) string {
	return `bgp {
  ` + extra + `
  asn       = 65010
  router_id = "198.51.100.1"
  peer "tor1" {
    address = "198.51.100.254"
    asn     = 65000
  }
}
`
}

const nginxCheck = `check "nginx" { plugin = "httpget" }
`

func TestBGPRejects(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		summary string
		line    int
		col     int
	}{
		{"unknown key", bgpWith(`colour = 1`), "Unsupported argument", 2, 3},
		{"two bgp blocks", bgpWith("") + bgpWith(""), "duplicate bgp block", 10, 1},
		{"asn zero", strings.Replace(bgpWith(""), "65010", "0", 1), "asn = 0 is out of range", 3, 15},
		{"router_id not IPv4", strings.Replace(bgpWith(""), `"198.51.100.1"`, `"2001:db8::1"`, 1), "is not an IPv4 address", 4, 15},
		{"no asn", "bgp {\n  router_id = \"198.51.100.1\"\n  peer \"a\" {\n    address = \"198.51.100.254\"\n    asn = 1\n  }\n}\n", "bgp has no asn", 1, 1},
		{"no peer", "bgp {\n  asn = 65010\n  router_id = \"198.51.100.1\"\n}\n", "bgp has no peer", 1, 1},
		{"peer without address", "bgp {\n  asn = 65010\n  router_id = \"198.51.100.1\"\n  peer \"a\" {\n    asn = 1\n  }\n}\n", `peer "a" has no address`, 4, 3},
		{"peer bad address", strings.Replace(bgpWith(""), `"198.51.100.254"`, `"tor1.example"`, 1), "is not a peer address", 6, 15},
		{"peer hold time too short", strings.Replace(bgpWith(""), "asn     = 65000", "asn     = 65000\n    hold_time = \"1s\"", 1), "is not a usable hold time", 8, 17},
		{"two peers one address", strings.Replace(bgpWith(""), "  }\n}", "  }\n  peer \"tor2\" {\n    address = \"198.51.100.254\"\n    asn = 65001\n  }\n}", 1), `peer "tor2" has the address of peer "tor1"`, 9, 3},
		{"announce without bgp", instanceWith(`announce = "bgp"`), "announces over BGP, but there is no bgp block", 2, 3},
		{"announce other", bgpWith("") + instanceWith(`announce = "ospf"`), `"ospf" is not a way to announce`, 11, 14},
		{"backup_med without announce", bgpWith("") + instanceWith(`backup_med = 100`), "backup_med without announce", 11, 16},
		{"bgp_announce without bgp", "bgp_announce \"a\" {\n  prefixes = [\"203.0.113.10/32\"]\n}\n", `bgp_announce "a" needs a bgp block`, 1, 1},
		{"bgp_announce bad prefix", bgpWith("") + "bgp_announce \"a\" {\n  prefixes = [\"203.0.113.10/33\"]\n}\n", "is not an address or prefix", 11, 15},
		{"bgp_announce host bits", bgpWith("") + "bgp_announce \"a\" {\n  prefixes = [\"203.0.113.10/24\"]\n}\n", "has host bits set", 11, 15},
		{"bgp_announce unknown check", bgpWith("") + "bgp_announce \"a\" {\n  prefixes = [\"203.0.113.10\"]\n  track_check \"nginx\" {}\n}\n", `track_check "nginx" names no check`, 12, 3},
		{"bgp_announce no prefixes", bgpWith("") + "bgp_announce \"a\" {\n}\n", `bgp_announce "a" has no prefixes`, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseWith([]byte(tt.src), "t.hcl", testHost)
			if !diags.HasErrors() {
				t.Fatalf("no error; want %q\nsource:\n%s", tt.summary, tt.src)
			}
			if errs := diags.Errs(); len(errs) != 1 {
				t.Errorf("want exactly one error, got %d:\n%s", len(errs), formatAll(diags))
			}
			d := firstError(diags)
			if !strings.Contains(d.Summary, tt.summary) {
				t.Errorf("summary = %q, want it to contain %q", d.Summary, tt.summary)
			}
			if d.Subject == nil || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %v, want t.hcl:%d:%d (%s)", d.Subject, tt.line, tt.col, FormatDiagnostic(d))
			}
		})
	}
}

func TestBGPAccepts(t *testing.T) {
	src := nginxCheck + `bgp {
  asn            = 65010
  router_id      = "198.51.100.1"
  bind_interface = "dummy0"
  peer "tor1" {
    address   = "198.51.100.254"
    asn       = 65000
    port      = 1179
    password  = "s3cret"
    hold_time = "9s"
  }
  peer "tor2" {
    address = "2001:db8:51::fe"
    asn     = 65000
  }
}
bgp_announce "anycast" {
  prefixes = ["203.0.113.10", "203.0.113.64/26", "2001:db8:52::10"]
  track_check "nginx" {}
}
` + instanceWith("announce = \"bgp\"\n  backup_med = 100")
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if diags.HasErrors() {
		t.Fatal(formatAll(diags))
	}
	b := cfg.BGP
	if b == nil || b.ASN != 65010 || b.RouterID != netip.MustParseAddr("198.51.100.1") || b.BindInterface != "dummy0" || len(b.Peers) != 2 {
		t.Fatalf("bgp = %+v", b)
	}
	want := BGPPeer{Name: "tor1", Address: netip.MustParseAddr("198.51.100.254"), ASN: 65000, Port: 1179, Password: "s3cret", HoldTime: 9 * time.Second}
	if b.Peers[0] != want {
		t.Errorf("peer = %+v, want %+v", b.Peers[0], want)
	}
	a := cfg.BGPAnnounces
	if len(a) != 1 || a[0].Name != "anycast" || len(a[0].Prefixes) != 3 || a[0].Prefixes[0] != netip.MustParsePrefix("203.0.113.10/32") ||
		a[0].Prefixes[2] != netip.MustParsePrefix("2001:db8:52::10/128") || len(a[0].TrackChecks) != 1 {
		t.Errorf("bgp_announce = %+v", a)
	}
	if in := cfg.Instances[0]; in.Announce != "bgp" || in.BackupMED != 100 {
		t.Errorf("instance announce %q, backup_med %d", in.Announce, in.BackupMED)
	}
	// Without a bgp block nothing changes.
	cfg, diags = ParseWith([]byte(instanceWith("")), "t.hcl", testHost)
	if diags.HasErrors() || cfg.BGP != nil || cfg.BGPAnnounces != nil {
		t.Fatalf("%v %+v", diags, cfg)
	}
}
