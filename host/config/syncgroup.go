package config

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// SyncGroup is a `sync_group "NAME"` block: instances that move together,
// as keepalived's vrrp_sync_group. One member going to BACKUP or FAULT
// takes every member there; the group's track_check and track_interface
// apply to every member (and are merged into each member's), and so does a
// member's own weighted track_check, so that a weight moves the group as one;
// its notify scripts run for the group's own transitions
// (`SCRIPT GROUP NAME STATE 0`).
type SyncGroup struct {
	Name            string
	Instances       []string
	TrackChecks     []TrackCheck
	TrackInterfaces []string
	Notify          string
	// NotifyMaster … NotifyStop run when the group enters that state.
	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop []string

	DeclRange hcl.Range
}

func syncGroupSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "instances"}, {Name: "notify"},
			{Name: "notify_master"}, {Name: "notify_backup"}, {Name: "notify_fault"}, {Name: "notify_stop"},
		},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "track_check", LabelNames: []string{"check"}},
			{Type: "track_interface", LabelNames: []string{"name"}},
		},
	}
}

// syncGroups decodes the sync_group blocks, checks their members and merges
// the groups' tracking into each member (an instance's own track of the
// same check or link wins).
func (d *decoder) syncGroups(blocks []*hcl.Block, instances []Instance) []SyncGroup {
	byName := map[string]int{}
	for i, in := range instances {
		byName[in.Name] = i
	}
	memberOf := map[string]string{}
	var out []SyncGroup
	for _, blk := range blocks {
		content, diags := blk.Body.Content(syncGroupSchema())
		d.diags = append(d.diags, diags...)
		g := SyncGroup{Name: blk.Labels[0], DeclRange: blk.DefRange}
		const example = `["VI_1", "VI_2"]`
		if a, ok := content.Attributes["instances"]; ok {
			items, ok := d.stringList(a, example)
			if ok && len(items) == 0 {
				d.valueError(a, "instances is empty", "list the vrrp_instance names that move together, for example instances = "+example)
			}
			for _, it := range items {
				if _, ok := byName[it.value]; !ok {
					d.errorAt(it.expr.Range(), a.Range.Ptr(), fmt.Sprintf("%s = %q names no vrrp_instance", it.name, it.value),
						"list declared vrrp_instance names")
					continue
				}
				if other, taken := memberOf[it.value]; taken {
					d.errorAt(it.expr.Range(), a.Range.Ptr(), fmt.Sprintf("vrrp_instance %q is already in sync_group %q", it.value, other),
						"an instance belongs to one sync group at most")
					continue
				}
				memberOf[it.value] = g.Name
				g.Instances = append(g.Instances, it.value)
			}
		} else {
			d.errorAt(blk.DefRange, nil, fmt.Sprintf("sync_group %q has no instances", g.Name), "add instances = "+example)
		}
		if a, ok := content.Attributes["notify"]; ok {
			if s, ok := d.str(a, `"/etc/hasidecar/notify.sh"`); ok {
				if !filepath.IsAbs(s) {
					d.valueError(a, d.shown(a)+" is not an absolute path",
						`give the script's full path, for example notify = "/etc/hasidecar/notify.sh"`)
				}
				g.Notify = s
			}
		}
		// The same decoders as an instance's: notify_* commands and tracking.
		var tmp Instance
		d.notifyCommands(content.Attributes, &tmp)
		g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop = tmp.NotifyMaster, tmp.NotifyBackup, tmp.NotifyFault, tmp.NotifyStop
		d.trackBlocks(content.Blocks, &tmp)
		g.TrackChecks, g.TrackInterfaces = tmp.TrackChecks, tmp.TrackInterfaces
		// A member's weighted check moves the whole group: keepalived's
		// members only become master together, so a weight that lowered one
		// member alone would leave the other node unable to take over.
		shared := g
		shared.TrackChecks = slices.Clone(g.TrackChecks)
		for _, name := range g.Instances {
			for _, tc := range instances[byName[name]].TrackChecks {
				if tc.Weight != 0 && !slices.ContainsFunc(shared.TrackChecks, func(o TrackCheck) bool { return o.Check == tc.Check }) {
					shared.TrackChecks = append(shared.TrackChecks, tc)
				}
			}
		}
		for _, name := range g.Instances {
			d.mergeGroupTracking(&instances[byName[name]], shared)
		}
		out = append(out, g)
	}
	return out
}

// mergeGroupTracking adds g's tracked checks and links to a member.
func (d *decoder) mergeGroupTracking(in *Instance, g SyncGroup) {
	for _, tc := range g.TrackChecks {
		if slices.ContainsFunc(in.TrackChecks, func(o TrackCheck) bool { return o.Check == tc.Check }) {
			continue
		}
		if tc.Weight != 0 && in.Priority == ownerPriority {
			d.errorAt(tc.DeclRange, nil, fmt.Sprintf("track_check %q of sync_group %q cannot change the priority of %q, an address owner", tc.Check, g.Name, in.Name),
				"priority = 255 is fixed (as in keepalived); set weight = 0 or give the instance a priority below 255")
			continue
		}
		in.TrackChecks = append(in.TrackChecks, tc)
	}
	for _, name := range g.TrackInterfaces {
		if !slices.Contains(in.TrackInterfaces, name) {
			in.TrackInterfaces = append(in.TrackInterfaces, name)
		}
	}
}
