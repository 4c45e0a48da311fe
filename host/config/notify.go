package config

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
)

// notifyCommands decodes notify_master, notify_backup, notify_fault and
// notify_stop: each a program (an absolute path: no shell, no PATH) and
// its arguments, run on entering that state as keepalived runs them.
func (d *decoder) notifyCommands(attrs hcl.Attributes, in *Instance) {
	for _, f := range []struct {
		name string
		into *[]string
	}{
		{"notify_master", &in.NotifyMaster},
		{"notify_backup", &in.NotifyBackup},
		{"notify_fault", &in.NotifyFault},
		{"notify_stop", &in.NotifyStop},
	} {
		a, ok := attrs[f.name]
		if !ok {
			continue
		}
		*f.into = d.command(a)
	}
}

// command decodes a list: a program's absolute path, then its arguments.
func (d *decoder) command(a *hcl.Attribute) []string {
	example := fmt.Sprintf(`["/etc/hasidecar/%s.sh", "arg"]`, a.Name)
	items, ok := d.stringList(a, example)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.valueError(a, a.Name+" is empty", "give the program and its arguments, for example "+a.Name+" = "+example+", or remove the line")
		return nil
	}
	if !filepath.IsAbs(items[0].value) {
		d.errorAt(items[0].expr.Range(), a.Range.Ptr(), fmt.Sprintf("%s = %q is not an absolute path", items[0].name, items[0].value),
			"commands run without a shell or PATH; give the program's full path, for example "+a.Name+" = "+example)
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.value
	}
	return out
}
