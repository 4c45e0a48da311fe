package config

import "github.com/hashicorp/hcl/v2"

// Script is one program the daemon runs on a transition: a notify script
// or a notify_* command, with where the file declares it.
type Script struct {
	Path  string // the program, an absolute path
	Key   string // notify, notify_master, ...
	Owner string // `vrrp_instance "VI_1"` or `sync_group "G1"`
	Range hcl.Range
}

// Scripts lists every program the daemon may run on a transition, so that
// `validate` and the daemon's start can check them before the first
// failover needs them.
func (c *Config) Scripts() []Script {
	var out []Script
	add := func(owner string, rng hcl.Range, notify string, cmds map[string][]string) {
		if notify != "" {
			out = append(out, Script{Path: notify, Key: "notify", Owner: owner, Range: rng})
		}
		for _, key := range []string{"notify_master", "notify_backup", "notify_fault", "notify_stop"} {
			if argv := cmds[key]; len(argv) > 0 {
				out = append(out, Script{Path: argv[0], Key: key, Owner: owner, Range: rng})
			}
		}
	}
	for _, in := range c.Instances {
		add(`vrrp_instance "`+in.Name+`"`, in.DeclRange, in.Notify, map[string][]string{
			"notify_master": in.NotifyMaster, "notify_backup": in.NotifyBackup, "notify_fault": in.NotifyFault, "notify_stop": in.NotifyStop})
	}
	for _, g := range c.SyncGroups {
		add(`sync_group "`+g.Name+`"`, g.DeclRange, g.Notify, map[string][]string{
			"notify_master": g.NotifyMaster, "notify_backup": g.NotifyBackup, "notify_fault": g.NotifyFault, "notify_stop": g.NotifyStop})
	}
	return out
}
