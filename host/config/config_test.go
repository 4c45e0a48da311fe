package config

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// testHost keeps tests independent of the machine they run on.
var testHost = HostDefaults{NodeName: "test-node", PluginDir: "/opt/hasidecar"}

// instanceWith is a valid vrrp_instance "VI_1" whose line 2 is extra.
func instanceWith(extra string) string {
	return `vrrp_instance "VI_1" {
  ` + extra + `
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
}
`
}

// checkWith is a valid check "nginx" whose line 2 is extra.
func checkWith(extra string) string {
	return `check "nginx" {
  ` + extra + `
  plugin = "httpget"
}
`
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		summary string // a key phrase of the diagnostic's summary
		detail  string // a key phrase of its detail; "" to skip
		line    int
		col     int
	}{
		// Syntax, unknown keys, wrong types.
		{"syntax error", "node_name = \n", "Invalid expression", "", 1, 13},
		{"unknown top-level key", `colour = "red"`, "Unsupported argument", `"colour"`, 1, 1},
		{"unknown block", `vrrp_script "x" {}`, "Unsupported block type", "", 1, 1},
		{"unknown key in instance", instanceWith(`state = "MASTER"`), "Unsupported argument", `"state"`, 2, 3},
		{"unknown key in check", checkWith(`weight = 2`), "Unsupported argument", "", 2, 3},
		{"unknown key in track_check", instanceWith(`track_check "c" { reverse = true }`) + `check "c" { plugin = "tcp" }`, "Unsupported argument", "", 2, 21},
		{"instance without name", "vrrp_instance {\n}\n", "Missing name for vrrp_instance", "", 1, 15},
		{"wrong type list for string", `log_level = ["info"]`, `log_level = ["info"] is not a string`, "in quotes", 1, 13},
		{"variables not allowed", instanceWith(`version = var.v`), "Variables not allowed", "", 2, 13},
		{"null value", instanceWith(`version = null`), "version is null", "remove the line", 2, 13},

		// Top-level values.
		{"log_level enum", `log_level = "verbose"`, `log_level = "verbose" is not a valid log_level`, `"debug", "info", "warn" or "error"`, 1, 13},
		{"log_format enum", `log_format = "text"`, `log_format = "text" is not a valid log_format`, `"json" or "console"`, 1, 14},
		{"node_name empty", `node_name = ""`, "node_name is empty", "", 1, 13},
		{"plugin_dir empty", `plugin_dir = ""`, "plugin_dir is empty", "", 1, 14},
		{"control socket relative", `control { socket = "run/h.sock" }`, "is not an absolute path", "start", 1, 20},
		{"control socket too long", `control { socket = "/` + strings.Repeat("s", 120) + `" }`, "control socket path is 121 bytes long", "at most 107", 1, 20},
		{"duplicate control block", "control {}\ncontrol {}\n", "duplicate control block", "line 1", 2, 1},
		{"metrics without port", `metrics { listen = "127.0.0.1" }`, `listen = "127.0.0.1" is not host:port`, "127.0.0.1:9465", 1, 20},
		{"metrics port zero", `metrics { listen = "127.0.0.1:0" }`, "has no valid port", "1 to 65535", 1, 20},
		{"metrics port name", `metrics { listen = ":http" }`, "has no valid port", "", 1, 20},
		{"metrics without listen", "metrics {}\n", "metrics block has no listen", "remove the block", 1, 1},

		// Plugin pins.
		{"plugin pin not hex", `plugin "httpget" { sha256 = "abc" }`, `sha256 = "abc" is not a sha256 digest`, "sha256sum", 1, 29},
		{"plugin pin without sha256", `plugin "httpget" {}`, "Missing required argument", "", 1, 18},
		{"plugin pin bad name", `plugin "../x" { sha256 = "` + strings.Repeat("a", 64) + `" }`, `plugin "../x" is not a plugin name`, "letters, digits", 1, 8},
		{"plugin pinned twice", "plugin \"tcp\" { sha256 = \"" + strings.Repeat("a", 64) + "\" }\nplugin \"tcp\" { sha256 = \"" + strings.Repeat("a", 64) + "\" }\n", "duplicate", "", 2, 1},

		// Checks.
		{"check without plugin", "check \"nginx\" {\n  interval = \"1s\"\n}\n", `check "nginx" has no plugin`, "hasidecar-plugin-NAME", 1, 1},
		{"check plugin path", `check "nginx" { plugin = "../bin/evil" }`, `plugin = "../bin/evil" is not a plugin name`, "letters, digits", 1, 26},
		{"check plugin empty", `check "nginx" { plugin = "" }`, "is not a plugin name", "empty", 1, 26},
		{"check empty name", `check "" { plugin = "tcp" }`, "check name is empty", "", 1, 7},
		{"duplicate check", "check \"a\" { plugin = \"tcp\" }\ncheck \"a\" { plugin = \"tcp\" }\n", `duplicate check "a"`, "line 1", 2, 1},
		{"bad duration", checkWith(`interval = "5"`), `interval = "5" is not a duration`, `interval = "1s"`, 2, 14},
		{"duration as number", checkWith(`interval = 5`), `interval = 5 is not a duration`, "Go duration", 2, 14},
		{"interval zero", checkWith(`interval = "0s"`), `interval = "0s" must be greater than zero`, "", 2, 14},
		{"timeout negative", checkWith(`timeout = "-1s"`), "must be greater than zero", "", 2, 13},
		{"timeout longer than interval", checkWith(`timeout = "2s"`), `timeout = "2s" is longer than interval (1s)`, "at most the interval", 2, 13},
		{"rise zero", checkWith(`rise = 0`), "rise = 0 is out of range", "1 or more", 2, 10},
		{"fall fractional", checkWith(`fall = 1.5`), "fall = 1.5 is not a whole number", "", 2, 10},
		{"fall string", checkWith(`fall = "two"`), `fall = "two" is not a number`, "", 2, 10},
		{"two config blocks", checkWith("config {}\n  config {}"), "duplicate config block", "line 2", 3, 3},

		// Instances: required keys.
		{"missing interface", "vrrp_instance \"VI_1\" {\n  virtual_router_id = 51\n  priority = 150\n  virtual_ips = [\"198.51.100.10\"]\n}\n", `vrrp_instance "VI_1" has no interface`, `interface = "eth0"`, 1, 1},
		{"missing virtual_router_id", "vrrp_instance \"VI_1\" {\n  interface = \"eth0\"\n  priority = 150\n  virtual_ips = [\"198.51.100.10\"]\n}\n", "has no virtual_router_id", "", 1, 1},
		{"missing priority", "vrrp_instance \"VI_1\" {\n  interface = \"eth0\"\n  virtual_router_id = 51\n  virtual_ips = [\"198.51.100.10\"]\n}\n", "has no priority", "", 1, 1},
		{"missing virtual_ips", "vrrp_instance \"VI_1\" {\n  interface = \"eth0\"\n  virtual_router_id = 51\n  priority = 150\n}\n", "has no virtual_ips", "", 1, 1},
		{"duplicate instance", instanceWith("") + instanceWith(""), `duplicate vrrp_instance "VI_1"`, "line 1", 8, 1},
		{"instance empty name", `vrrp_instance "" {}`, "vrrp_instance name is empty", "", 1, 15},

		// Instances: ranges.
		{"vrid too high", strings.Replace(instanceWith(""), "= 51", "= 300", 1), "virtual_router_id = 300 is out of range", "use 1 to 255", 4, 23},
		{"vrid zero", strings.Replace(instanceWith(""), "= 51", "= 0", 1), "virtual_router_id = 0 is out of range", "use 1 to 255", 4, 23},
		{"vrid huge", strings.Replace(instanceWith(""), "= 51", "= 1e300", 1), "virtual_router_id = 1e300 is out of range", "", 4, 23},
		{"vrid infinite", strings.Replace(instanceWith(""), "= 51", "= 1e999999999", 1), "is out of range", "", 4, 23},
		{"priority 256", strings.Replace(instanceWith(""), "= 150", "= 256", 1), "priority = 256 is out of range", "255 for the address owner", 5, 23},
		{"priority zero", strings.Replace(instanceWith(""), "= 150", "= 0", 1), "priority = 0 is out of range", "", 5, 23},
		{"priority not a number", strings.Replace(instanceWith(""), "= 150", `= "high"`, 1), `priority = "high" is not a number`, "", 5, 23},
		{"version 4", instanceWith(`version = 4`), "version = 4 is out of range", "use 2 (RFC 3768) or 3 (RFC 5798)", 2, 13},
		{"v3 advert not 10ms step", instanceWith(`advert_interval = "15ms"`), `advert_interval = "15ms" is not a multiple of 10ms`, `"20ms"`, 2, 21},
		{"v3 advert too long", instanceWith(`advert_interval = "41s"`), "is out of range for VRRPv3", `"10ms" to "40.95s"`, 2, 21},
		{"v3 advert zero", instanceWith(`advert_interval = "0s"`), "is out of range for VRRPv3", "", 2, 21},
		{"bad advert duration", instanceWith(`advert_interval = "1"`), `advert_interval = "1" is not a duration`, "", 2, 21},
		{"v2 advert sub-second", "vrrp_instance \"VI_1\" {\n  advert_interval = \"500ms\"\n  version = 2\n  interface = \"eth0\"\n  virtual_router_id = 51\n  priority = 150\n  virtual_ips = [\"198.51.100.10\"]\n}\n", "is out of range for VRRPv2", "version = 3", 2, 21},
		{"v2 advert fractional", "vrrp_instance \"VI_1\" {\n  advert_interval = \"1.5s\"\n  version = 2\n  interface = \"eth0\"\n  virtual_router_id = 51\n  priority = 150\n  virtual_ips = [\"198.51.100.10\"]\n}\n", `advert_interval = "1.5s" is not a whole number of seconds`, `"2s"`, 2, 21},
		{"v2 advert too long", "vrrp_instance \"VI_1\" {\n  advert_interval = \"256s\"\n  version = 2\n  interface = \"eth0\"\n  virtual_router_id = 51\n  priority = 150\n  virtual_ips = [\"198.51.100.10\"]\n}\n", "is out of range for VRRPv2", `"255s"`, 2, 21},
		{"preempt_delay too long", instanceWith(`preempt_delay = "1001s"`), `preempt_delay = "1001s" is out of range`, `"0s" to "1000s"`, 2, 19},
		{"preempt_delay negative", instanceWith(`preempt_delay = "-1s"`), "is out of range", "", 2, 19},
		{"preempt not bool", instanceWith(`preempt = "maybe"`), `preempt = "maybe" is not a boolean`, "true or false", 2, 13},
		{"fast_preempt not bool", instanceWith(`fast_preempt = 3`), `fast_preempt = 3 is not a boolean`, "true or false", 2, 18},

		// Instances: addresses.
		{"vip not an address", strings.Replace(instanceWith(""), `["198.51.100.10/24"]`, `["198.51.100.10/24", "vip1"]`, 1), `virtual_ips[1] = "vip1" is not an IP address`, "198.51.100.10/24", 6, 44},
		{"vip bad prefix", strings.Replace(instanceWith(""), `"198.51.100.10/24"`, `"198.51.100.10/33"`, 1), "is not an address with a prefix length", "", 6, 24},
		{"vip multicast", strings.Replace(instanceWith(""), `"198.51.100.10/24"`, `"224.0.0.18"`, 1), "cannot be a virtual IP", "multicast", 6, 24},
		{"vip unspecified", strings.Replace(instanceWith(""), `"198.51.100.10/24"`, `"0.0.0.0"`, 1), "cannot be a virtual IP", "", 6, 24},
		{"vip empty list", strings.Replace(instanceWith(""), `["198.51.100.10/24"]`, `[]`, 1), "virtual_ips is empty", "at least one", 6, 23},
		{"vip not a list", strings.Replace(instanceWith(""), `["198.51.100.10/24"]`, `"198.51.100.10/24"`, 1), "is not a list", "brackets", 6, 23},
		{"vip repeated", strings.Replace(instanceWith(""), `["198.51.100.10/24"]`, `["198.51.100.10/24", "198.51.100.10"]`, 1), `virtual_ips[1] = "198.51.100.10" repeats virtual_ips[0]`, "once", 6, 44},
		{"unicast_source without peers", instanceWith(`unicast_source = "198.51.100.1"`), "unicast_source is set without unicast_peers", "unicast_peers =", 2, 20},
		{"unicast_source ipv6", instanceWith(`unicast_source = "2001:db8::1"` + "\n  " + `unicast_peers = ["198.51.100.2"]`), `unicast_source = "2001:db8::1" is an IPv6 address`, "speaks VRRP over IPv4", 2, 20},
		{"unicast_source with prefix", instanceWith(`unicast_source = "198.51.100.1/24"` + "\n  " + `unicast_peers = ["198.51.100.2"]`), "is not an IP address", "no prefix length", 2, 20},
		{"unicast peer bad", instanceWith(`unicast_peers = ["198.51.100.2", "peer-b"]`), `unicast_peers[1] = "peer-b" is not an IP address`, "", 2, 36},
		{"unicast peers empty", instanceWith(`unicast_peers = []`), "unicast_peers is empty", "multicast", 2, 19},
		{"unicast peer is source", "vrrp_instance \"VI_1\" {\n  unicast_source = \"198.51.100.1\"\n  unicast_peers = [\"198.51.100.1\"]\n  interface = \"eth0\"\n  virtual_router_id = 51\n  priority = 150\n  virtual_ips = [\"198.51.100.10\"]\n}\n", "is this node's unicast_source", "other nodes", 3, 20},
		{"unicast peer repeated", instanceWith(`unicast_peers = ["198.51.100.2", "198.51.100.2"]`), "repeats unicast_peers[0]", "", 2, 36},

		// Instances: auth, notify, interfaces, tracking.
		{"auth_pass too long", instanceWith(`version = 2` + "\n  " + `auth_pass = "123456789"`), "auth_pass is 9 bytes long", "at most 8", 3, 15},
		{"auth_pass empty", instanceWith(`version = 2` + "\n  " + `auth_pass = ""`), "auth_pass is empty", "", 3, 15},
		{"notify relative", instanceWith(`notify = "notify.sh"`), `notify = "notify.sh" is not an absolute path`, "/etc/hasidecar/notify.sh", 2, 12},
		{"interface too long", strings.Replace(instanceWith(""), `"eth0"`, `"a-very-long-interface0"`, 1), "is not an interface name", "at most 15 bytes", 3, 23},
		{"interface with slash", strings.Replace(instanceWith(""), `"eth0"`, `"eth0/1"`, 1), "is not an interface name", "", 3, 23},
		{"track_interface empty", instanceWith(`track_interface "" {}`), `track_interface "" is not an interface name`, "empty", 2, 19},
		{"track_interface repeated", instanceWith("track_interface \"eth1\" {}\n  track_interface \"eth1\" {}"), `track_interface "eth1" is repeated`, "line 2", 3, 3},
		{"track_check names no check", instanceWith(`track_check "nginx" { weight = -60 }`), `track_check "nginx" names no check`, `declare check "nginx"`, 2, 3},
		{"track_check names other check", `check "web" { plugin = "tcp" }` + "\n" + instanceWith(`track_check "nginx" {}`), `track_check "nginx" names no check`, `declared checks are "web"`, 3, 3},
		{"track_check weight too high", `check "c" { plugin = "tcp" }` + "\n" + instanceWith(`track_check "c" { weight = 254 }`), "weight = 254 is out of range", "-253 to 253", 3, 30},
		{"track_check weight too low", `check "c" { plugin = "tcp" }` + "\n" + instanceWith(`track_check "c" { weight = -254 }`), "weight = -254 is out of range", "", 3, 30},
		{"track_check weight on owner", `check "c" { plugin = "tcp" }` + "\n" + strings.Replace(instanceWith(`track_check "c" { weight = -60 }`), "= 150", "= 255", 1), "weight = -60 cannot change an address owner's priority", "weight = 0", 3, 30},
		{"track_check repeated", `check "c" { plugin = "tcp" }` + "\n" + instanceWith("track_check \"c\" {}\n  track_check \"c\" {}"), `track_check "c" is repeated`, "line 3", 4, 3},
		{"track_check empty name", instanceWith(`track_check "" {}`), "track_check names no check", "", 2, 15},
		{"same vrid same interface", instanceWith("") + strings.Replace(instanceWith(""), "VI_1", "VI_2", 1),
			`virtual_router_id = 51 is already used on eth0 by vrrp_instance "VI_1" (line 1)`, "different virtual_router_id", 11, 23},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := ParseWith([]byte(tt.src), "t.hcl", testHost)
			if !diags.HasErrors() {
				t.Fatalf("no error; want %q\nsource:\n%s", tt.summary, tt.src)
			}
			if cfg != nil {
				t.Errorf("Config is not nil despite errors")
			}
			errs := diags.Errs()
			if len(errs) != 1 {
				t.Errorf("want exactly one error, got %d:\n%s", len(errs), formatAll(diags))
			}
			d := firstError(diags)
			if !strings.Contains(d.Summary, tt.summary) {
				t.Errorf("summary = %q, want it to contain %q", d.Summary, tt.summary)
			}
			if tt.detail != "" && !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", d.Detail, tt.detail)
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic has no subject: %s", FormatDiagnostic(d))
			}
			if d.Subject.Filename != "t.hcl" || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %s:%d:%d, want t.hcl:%d:%d (%s)", d.Subject.Filename, d.Subject.Start.Line,
					d.Subject.Start.Column, tt.line, tt.col, FormatDiagnostic(d))
			}
		})
	}
}

func firstError(diags hcl.Diagnostics) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			return d
		}
	}
	return nil
}

func formatAll(diags hcl.Diagnostics) string {
	var b bytes.Buffer
	WriteDiagnostics(&b, diags)
	return b.String()
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, cfg *Config)
	}{
		{"empty file", "", func(t *testing.T, cfg *Config) {
			if len(cfg.Instances) != 0 || len(cfg.Checks) != 0 {
				t.Errorf("got %+v", cfg)
			}
		}},
		{"same vrid on different interfaces", instanceWith("") + strings.Replace(strings.Replace(instanceWith(""), "VI_1", "VI_2", 1), `"eth0"`, `"eth1"`, 1),
			func(t *testing.T, cfg *Config) {
				if len(cfg.Instances) != 2 {
					t.Errorf("got %d instances", len(cfg.Instances))
				}
			}},
		{"v2 with auth_pass of 8", instanceWith("version = 2\n  auth_pass = \"12345678\"\n  advert_interval = \"3s\""), func(t *testing.T, cfg *Config) {
			in := cfg.Instances[0]
			if in.Version != 2 || in.AuthPass != "12345678" || in.AdvertInterval != 3*time.Second {
				t.Errorf("got %+v", in)
			}
		}},
		{"v3 extremes", instanceWith(`advert_interval = "40.95s"`), func(t *testing.T, cfg *Config) {
			if got := cfg.Instances[0].AdvertInterval; got != 40950*time.Millisecond {
				t.Errorf("advert_interval = %v", got)
			}
		}},
		{"v3 shortest", instanceWith(`advert_interval = "10ms"`), nil},
		{"owner with weight zero", `check "c" { plugin = "tcp" }` + "\n" + strings.Replace(instanceWith(`track_check "c" { weight = 0 }`), "= 150", "= 255", 1),
			func(t *testing.T, cfg *Config) {
				if cfg.Instances[0].Priority != 255 {
					t.Errorf("priority = %d", cfg.Instances[0].Priority)
				}
			}},
		{"weight bounds", `check "a" { plugin = "tcp" }` + "\n" + `check "b" { plugin = "tcp" }` + "\n" +
			instanceWith("track_check \"a\" { weight = -253 }\n  track_check \"b\" { weight = 253 }"),
			func(t *testing.T, cfg *Config) {
				tc := cfg.Instances[0].TrackChecks
				if len(tc) != 2 || tc[0].Weight != -253 || tc[1].Weight != 253 {
					t.Errorf("track checks = %+v", tc)
				}
			}},
		{"numbers as strings", strings.Replace(instanceWith(""), "= 51", `= "51"`, 1), func(t *testing.T, cfg *Config) {
			if cfg.Instances[0].VRID != 51 {
				t.Errorf("vrid = %d", cfg.Instances[0].VRID)
			}
		}},
		{"plugin pin", `plugin "httpget" { sha256 = "` + strings.Repeat("AB", 32) + `" }`, func(t *testing.T, cfg *Config) {
			if cfg.PluginPins["httpget"] != strings.Repeat("ab", 32) {
				t.Errorf("pins = %v", cfg.PluginPins)
			}
		}},
		{"fast_preempt off", instanceWith(`fast_preempt = false`), func(t *testing.T, cfg *Config) {
			if cfg.Instances[0].FastPreempt {
				t.Error("fast_preempt = false not applied")
			}
		}},
		{"preempt_delay fractional", instanceWith(`preempt_delay = "4.12s"`), func(t *testing.T, cfg *Config) {
			if got := cfg.Instances[0].PreemptDelay; got != 4120*time.Millisecond {
				t.Errorf("preempt_delay = %v", got)
			}
		}},
		{"metrics on every address", `metrics { listen = ":9465" }`, func(t *testing.T, cfg *Config) {
			if cfg.Metrics == nil || cfg.Metrics.Listen != ":9465" {
				t.Errorf("metrics = %+v", cfg.Metrics)
			}
		}},
		{"timeout defaults to a short interval", checkWith(`interval = "200ms"`), func(t *testing.T, cfg *Config) {
			if c := cfg.Checks[0]; c.Interval != 200*time.Millisecond || c.Timeout != 200*time.Millisecond {
				t.Errorf("interval, timeout = %v, %v", c.Interval, c.Timeout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := ParseWith([]byte(tt.src), "t.hcl", testHost)
			if len(diags) != 0 {
				t.Fatalf("unexpected diagnostics:\n%s", formatAll(diags))
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

// designExample is the configuration in DESIGN.md, verbatim.
const designExample = `node_name  = "linux-01"                 # default: hostname
plugin_dir = "/usr/lib/hasidecar/plugins"  # where hasidecar-plugin-* live; default: next to the binary
log_level  = "info"                     # debug | info | warn | error
log_format = "json"                     # json | console

control { socket = "/run/hasidecar/hasidecar.sock" }
metrics { listen = "127.0.0.1:9465" }   # optional; Prometheus text format at /metrics

check "nginx" {
  plugin   = "httpget"                  # resolves to hasidecar-plugin-httpget in plugin_dir
  interval = "200ms"                    # durations are Go duration strings
  timeout  = "150ms"
  rise     = 2                          # consecutive passes to become healthy
  fall     = 2                          # consecutive failures to become unhealthy
  config {                              # schema declared BY THE PLUGIN; validated at load
    url         = "http://127.0.0.1/healthz"
    status_code = [200]
    digest      = "3858f62230ac3c915f300c664312c63f"   # optional MD5 of the body
  }
}

vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51                # 1..255
  priority          = 150               # 1..254 (255 = address owner)
  version           = 3                 # 2 (RFC 3768) or 3 (RFC 5798); default 3
  advert_interval   = "1s"              # v3: 10ms steps; v2: whole seconds
  preempt           = true
  preempt_delay     = "0s"
  virtual_ips       = ["192.168.238.100/24"]
  unicast_source    = "192.168.238.128" # optional
  unicast_peers     = ["192.168.238.130"]  # optional: unicast instead of 224.0.0.18
  auth_pass         = "secret1"         # optional, VRRPv2 simple password (as keepalived PASS)

  track_check "nginx" { weight = -60 }  # weight < 0: added while failing; > 0: added while
                                        # passing; 0: FAULT while failing (keepalived semantics)
  track_interface "eth0" {}             # link down => FAULT
  notify = "/etc/hasidecar/notify.sh"   # run on every transition: INSTANCE STATE PRIORITY
}
`

func TestDesignExample(t *testing.T) {
	cfg, diags := ParseWith([]byte(designExample), "hasidecar.hcl", testHost)
	if diags.HasErrors() {
		t.Fatalf("DESIGN.md example rejected:\n%s", formatAll(diags))
	}
	// The example sets auth_pass on a v3 instance: accepted and ignored, as by keepalived.
	if len(diags) != 1 || !strings.Contains(diags[0].Summary, "auth_pass is ignored by VRRPv3") ||
		diags[0].Subject.Start.Line != 33 || diags[0].Subject.Start.Column != 23 {
		t.Errorf("want one auth_pass warning at 33:23, got:\n%s", formatAll(diags))
	}
	wantExample(t, cfg, "192.168.238")
}

func TestLoadExampleFile(t *testing.T) {
	path := filepath.Join("testdata", "example.hcl")
	cfg, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("%s rejected:\n%s", path, formatAll(diags))
	}
	wantExample(t, cfg, "198.51.100")
}

// wantExample checks every value of DESIGN.md's example, with net as the
// first three octets of its addresses.
func wantExample(t *testing.T, cfg *Config, net string) {
	t.Helper()
	if cfg.NodeName != "linux-01" || cfg.PluginDir != "/usr/lib/hasidecar/plugins" ||
		cfg.LogLevel != "info" || cfg.LogFormat != "json" ||
		cfg.Control.Socket != "/run/hasidecar/hasidecar.sock" ||
		cfg.Metrics == nil || cfg.Metrics.Listen != "127.0.0.1:9465" {
		t.Errorf("top level = %+v, metrics %+v", cfg, cfg.Metrics)
	}
	if len(cfg.Checks) != 1 {
		t.Fatalf("checks = %+v", cfg.Checks)
	}
	c := cfg.Checks[0]
	if c.Name != "nginx" || c.Plugin != "httpget" || c.Interval != 200*time.Millisecond ||
		c.Timeout != 150*time.Millisecond || c.Rise != 2 || c.Fall != 2 {
		t.Errorf("check = %+v", c)
	}
	if c.DeclRange.Start.Line != 9 || c.PluginRange.Start.Line != 10 || c.PluginRange.Start.Column != 14 {
		t.Errorf("check ranges = %v, %v", c.DeclRange, c.PluginRange)
	}
	attrs, diags := c.Config.JustAttributes()
	if diags.HasErrors() || len(attrs) != 3 || attrs["url"] == nil || attrs["url"].Range.Start.Line != 16 {
		t.Errorf("check config attributes = %v, %s", attrs, formatAll(diags))
	}
	if len(cfg.Instances) != 1 {
		t.Fatalf("instances = %+v", cfg.Instances)
	}
	in := cfg.Instances[0]
	want := Instance{
		Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 150, Version: 3,
		AdvertInterval: time.Second, Preempt: true, PreemptDelay: 0,
		VirtualIPs:      []netip.Prefix{netip.MustParsePrefix(net + ".100/24")},
		UnicastSource:   netip.MustParseAddr(net + ".128"),
		UnicastPeers:    []netip.Addr{netip.MustParseAddr(net + ".130")},
		AuthPass:        "", // ignored by VRRPv3
		TrackInterfaces: []string{"eth0"},
		Notify:          "/etc/hasidecar/notify.sh",
	}
	if in.Name != want.Name || in.Interface != want.Interface || in.VRID != want.VRID ||
		in.Priority != want.Priority || in.Version != want.Version || in.AdvertInterval != want.AdvertInterval ||
		in.Preempt != want.Preempt || in.PreemptDelay != want.PreemptDelay ||
		!equalSlices(in.VirtualIPs, want.VirtualIPs) || in.UnicastSource != want.UnicastSource ||
		!equalSlices(in.UnicastPeers, want.UnicastPeers) || in.AuthPass != want.AuthPass ||
		!equalSlices(in.TrackInterfaces, want.TrackInterfaces) || in.Notify != want.Notify {
		t.Errorf("instance =\n%+v\nwant\n%+v", in, want)
	}
	if len(in.TrackChecks) != 1 || in.TrackChecks[0].Check != "nginx" || in.TrackChecks[0].Weight != -60 ||
		in.TrackChecks[0].DeclRange.Start.Line != 35 {
		t.Errorf("track checks = %+v", in.TrackChecks)
	}
	if in.DeclRange.Start.Line != 22 {
		t.Errorf("instance range = %v", in.DeclRange)
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDefaults(t *testing.T) {
	src := `check "c" { plugin = "tcp" }
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 7
  priority          = 100
  virtual_ips       = ["198.51.100.10"]
  track_check "c" {}
}
`
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if len(diags) != 0 {
		t.Fatalf("diagnostics:\n%s", formatAll(diags))
	}
	if cfg.NodeName != "test-node" || cfg.PluginDir != "/opt/hasidecar" || cfg.LogLevel != "info" ||
		cfg.LogFormat != "json" || cfg.Control.Socket != "/run/hasidecar/hasidecar.sock" || cfg.Metrics != nil {
		t.Errorf("top-level defaults = %+v", cfg)
	}
	c := cfg.Checks[0]
	if c.Interval != time.Second || c.Timeout != time.Second || c.Rise != 1 || c.Fall != 1 || c.Config == nil {
		t.Errorf("check defaults = %+v", c)
	}
	in := cfg.Instances[0]
	if in.Version != 3 || in.AdvertInterval != time.Second || !in.Preempt || !in.FastPreempt || in.PreemptDelay != 0 ||
		in.UnicastSource.IsValid() || len(in.UnicastPeers) != 0 || in.AuthPass != "" || in.Notify != "" {
		t.Errorf("instance defaults = %+v", in)
	}
	if want := netip.MustParsePrefix("198.51.100.10/32"); len(in.VirtualIPs) != 1 || in.VirtualIPs[0] != want {
		t.Errorf("bare VIP = %v, want %v", in.VirtualIPs, want)
	}
	if len(in.TrackChecks) != 1 || in.TrackChecks[0].Weight != 0 {
		t.Errorf("track_check default weight = %+v", in.TrackChecks)
	}
}

func TestParseUsesSystemDefaults(t *testing.T) {
	cfg, diags := Parse(nil, "empty.hcl")
	if diags.HasErrors() {
		t.Fatalf("diagnostics:\n%s", formatAll(diags))
	}
	host, _ := os.Hostname()
	exe, _ := os.Executable()
	if cfg.NodeName != host || cfg.PluginDir != filepath.Dir(exe) {
		t.Errorf("node_name, plugin_dir = %q, %q; want %q, %q", cfg.NodeName, cfg.PluginDir, host, filepath.Dir(exe))
	}
}

func TestUnknownHostDefaults(t *testing.T) {
	_, diags := ParseWith(nil, "t.hcl", HostDefaults{})
	if len(diags.Errs()) != 2 || !strings.Contains(diags[0].Summary, "node_name is not set") ||
		!strings.Contains(diags[1].Summary, "plugin_dir is not set") {
		t.Errorf("diagnostics:\n%s", formatAll(diags))
	}
}

// A plugin's schema is applied to Check.Config later; its diagnostics must keep
// file positions whether or not the check has a config block.
func TestCheckConfigKeepsPositions(t *testing.T) {
	src := `check "with" {
  plugin = "httpget"
  config {
    status_code = [200]
  }
}
check "without" {
  plugin = "httpget"
}
`
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if len(diags) != 0 {
		t.Fatalf("diagnostics:\n%s", formatAll(diags))
	}
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "status_code"}}}
	for i, want := range []hcl.Pos{{Line: 3, Column: 10}, {Line: 7, Column: 17}} {
		_, diags := cfg.Checks[i].Config.Content(schema)
		if len(diags) != 1 || diags[0].Subject == nil ||
			diags[0].Subject.Start.Line != want.Line || diags[0].Subject.Start.Column != want.Column {
			t.Errorf("check %q: want one diagnostic at %d:%d, got:\n%s", cfg.Checks[i].Name, want.Line, want.Column, formatAll(diags))
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.hcl")
	cfg, diags := Load(path)
	if cfg != nil || !diags.HasErrors() {
		t.Fatalf("cfg = %v, diags = %v", cfg, diags)
	}
	line := FormatDiagnostic(diags[0])
	if !strings.Contains(line, path) || !strings.Contains(line, "no such file") {
		t.Errorf("message = %q", line)
	}
}

func TestWriteDiagnostics(t *testing.T) {
	src := strings.Replace(instanceWith("notify = \"x\""), "= 51", "= 300", 1)
	_, diags := ParseWith([]byte(src), "/etc/hasidecar/hasidecar.hcl", testHost)
	var b bytes.Buffer
	WriteDiagnostics(&b, diags)
	want := `/etc/hasidecar/hasidecar.hcl:2:12: error: notify = "x" is not an absolute path; give the script's full path, for example notify = "/etc/hasidecar/notify.sh"
/etc/hasidecar/hasidecar.hcl:4:23: error: virtual_router_id = 300 is out of range; use 1 to 255
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	noPos := FormatDiagnostic(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "a\nb", Detail: ""})
	if noPos != "warning: a b" {
		t.Errorf("no position: %q", noPos)
	}
}
