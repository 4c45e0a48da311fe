package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hasidecar/hasidecar/host/status"
)

func writeJSON(w io.Writer, st *status.Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// writeTable prints the status as aligned columns, instances first.
func writeTable(w io.Writer, st *status.Status) error {
	return writeTableAt(w, st, time.Now())
}

// writeTableAt is writeTable with the time the ages are counted to.
func writeTableAt(w io.Writer, st *status.Status, now time.Time) error {
	fmt.Fprintf(w, "node %s\n\n", st.NodeName)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tPRIORITY\tEFFECTIVE\tVRID\tINTERFACE\tVIRTUAL IPS\tMASTER\tTRANSITIONS\tSINCE\tWHY")
	for _, in := range st.Instances {
		why := in.LastReason
		if len(in.Faults) > 0 {
			why = "fault: " + strings.Join(in.Faults, ", ")
		}
		if m := in.Maintenance; m != nil {
			why = fmt.Sprintf("maintenance since %s: %s", clock(m.Since, now), m.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n",
			in.Name, in.State, in.Priority, in.EffectivePriority, in.VirtualRouterID, in.Interface,
			strings.Join(in.VirtualIPs, ","), dash(in.MasterAddress), in.Transitions, since(in.LastTransition, now), dash(why))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, in := range st.Instances {
		for _, c := range in.Conflicts {
			if c.Active {
				notes = append(notes, fmt.Sprintf("CONFLICT %s (%s, %d seen, last %s): %s", in.Name, c.Kind, c.Count,
					clock(c.LastSeen, now), c.Message))
			}
		}
	}
	for _, warn := range st.Warnings {
		notes = append(notes, "WARNING "+warn)
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
	if len(st.Checks) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "CHECK\tPLUGIN\tHEALTHY\tLATENCY\tFAILURES\tLAST MESSAGE")
		for _, c := range st.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%d\t%s\n", c.Name, c.Plugin, c.Healthy, latency(c.LastLatencyMS), c.ConsecutiveFailures, dash(c.LastMessage))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if st.BGP == nil {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "BGP PEER\tADDRESS\tASN\tSTATE\tUP SINCE\tADVERTISED")
	for _, p := range st.BGP.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\n", p.Name, p.Address, p.ASN, p.State, rfc3339Since(p.UpSince, now), p.Advertised)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "announced: %s\n", dash(strings.Join(st.BGP.Announced, ", ")))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
