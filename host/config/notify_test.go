package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestNotifyCommands(t *testing.T) {
	host := HostDefaults{NodeName: "n", PluginDir: "/p"}
	src := instanceWith(`notify_master = ["/etc/hasidecar/master.sh", "a b", "c"]` + "\n" +
		`  notify_backup = ["/bin/logger", "backup"]` + "\n" +
		`  notify_fault = ["/bin/true"]` + "\n" +
		`  notify_stop = ["/bin/logger", "stop"]`)
	cfg, diags := ParseWith([]byte(src), "t.hcl", host)
	if diags.HasErrors() {
		t.Fatal(formatAll(diags))
	}
	in := cfg.Instances[0]
	if !reflect.DeepEqual(in.NotifyMaster, []string{"/etc/hasidecar/master.sh", "a b", "c"}) ||
		!reflect.DeepEqual(in.NotifyBackup, []string{"/bin/logger", "backup"}) ||
		!reflect.DeepEqual(in.NotifyFault, []string{"/bin/true"}) ||
		!reflect.DeepEqual(in.NotifyStop, []string{"/bin/logger", "stop"}) {
		t.Errorf("got %+v", in)
	}

	for _, tc := range []struct{ name, line, want string }{
		{"relative", `notify_master = ["master.sh"]`, `notify_master[0] = "master.sh" is not an absolute path`},
		{"empty", `notify_backup = []`, "notify_backup is empty"},
		{"not a list", `notify_fault = "/bin/true"`, "is not a list"},
		{"not strings", `notify_stop = [["/bin/true"]]`, "is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := ParseWith([]byte(instanceWith(tc.line)), "t.hcl", host)
			if cfg != nil || !strings.Contains(formatAll(diags), tc.want) || !strings.Contains(formatAll(diags), "t.hcl:2:") {
				t.Errorf("got %v, want an error at line 2 containing %q", formatAll(diags), tc.want)
			}
		})
	}
}
