// Package status holds what the daemon says of itself: the snapshot that
// `hasidecar status` prints (its JSON keys are part of the product
// contract), that metrics are made from, and that instances, checks and the
// BGP speaker fill in. It is data only, so that those parts need not know
// the control socket that carries it.
package status

import "time"

// Status is what `hasidecar status --json` prints. Field names are part of
// the product contract (DESIGN.md).
type Status struct {
	NodeName string `json:"node_name"`
	// ConfigPath is the file the daemon was started with; reload reads it.
	ConfigPath string           `json:"config_path,omitempty"`
	Instances  []InstanceStatus `json:"instances"`
	Checks     []CheckStatus    `json:"checks"`
	// Warnings are what is legal but likely wrong (a weight too small to
	// move the VIPs), in the operator's words.
	Warnings []string   `json:"warnings,omitempty"`
	BGP      *BGPStatus `json:"bgp,omitempty"` // nil without a bgp block
	// Sockets are the VRRP sockets the instances share, with what they
	// dropped before any instance saw it.
	Sockets []SocketStatus `json:"sockets,omitempty"`
}

// SocketStatus is one VRRP socket, shared by the instances on its
// interface that send from the same source in the same mode.
type SocketStatus struct {
	Interface string `json:"interface"`
	Source    string `json:"source"`
	Multicast bool   `json:"multicast"`
	// Dropped counts, by reason, the packets dropped before any instance
	// saw them; only reasons counted at least once are listed.
	Dropped map[string]uint64 `json:"dropped,omitempty"`
}

// InstanceStatus describes one VRRP instance.
type InstanceStatus struct {
	Name              string   `json:"name"`
	State             string   `json:"state"`
	Priority          int      `json:"priority"`
	EffectivePriority int      `json:"effective_priority"`
	VirtualRouterID   int      `json:"virtual_router_id"`
	Interface         string   `json:"interface"`
	VirtualIPs        []string `json:"virtual_ips"`
	MasterAddress     string   `json:"master_address"`
	Transitions       int      `json:"transitions"`

	// Beyond the contract: why the instance is where it is.
	Version        int               `json:"version"`
	AdvertInterval string            `json:"advert_interval"`
	LastReason     string            `json:"last_transition_reason,omitempty"`
	Faults         []string          `json:"faults,omitempty"`
	AdvertsSent    uint64            `json:"adverts_sent"`
	AdvertsRecv    uint64            `json:"adverts_received"`
	Dropped        map[string]uint64 `json:"dropped,omitempty"`
	// Tracks says how each tracked check moves the priority now.
	Tracks []TrackStatus `json:"track_checks,omitempty"`
	// MasterPriority is what the master we follow advertises (BACKUP).
	MasterPriority int `json:"master_priority,omitempty"`
	// Conflicts are peers configured otherwise on our VRID, or other
	// machines answering for our VIPs, seen since start.
	Conflicts []ConflictStatus `json:"conflicts,omitempty"`
	// Maintenance is set while the instance is in maintenance.
	Maintenance *MaintenanceStatus `json:"maintenance,omitempty"`
	// LastTransition is when the state last changed (RFC 3339; absent
	// before the first transition), beside last_transition_reason.
	LastTransition time.Time `json:"last_transition,omitzero"`
}

// ConflictStatus is one conflict with one peer.
type ConflictStatus struct {
	Kind      string    `json:"kind"` // version, auth, interval, addresses, duplicate_vip
	Peer      string    `json:"peer"` // its address (or MAC, for a duplicate VIP)
	Message   string    `json:"message"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Active    bool      `json:"active"` // seen in the last 30 s
}

// MaintenanceStatus says why and since when an instance is in maintenance.
type MaintenanceStatus struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// TrackStatus is one track_check of an instance.
type TrackStatus struct {
	Check   string `json:"check"`
	Weight  int    `json:"weight"`
	Healthy bool   `json:"healthy"`
	Applied int    `json:"applied"` // added to the base priority now
	Fault   bool   `json:"fault"`   // holds the instance in FAULT
}

// CheckStatus describes one health check.
type CheckStatus struct {
	Name                string  `json:"name"`
	Plugin              string  `json:"plugin"`
	Healthy             bool    `json:"healthy"`
	LastMessage         string  `json:"last_message"`
	LastLatencyMS       float64 `json:"last_latency_ms"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
}

// BGPStatus is the embedded BGP speaker's part of the status.
type BGPStatus struct {
	Peers []BGPPeerStatus `json:"peers"`
	// Announced lists the prefixes this node announces now.
	Announced []string `json:"announced"`
}

// BGPPeerStatus describes one BGP session.
type BGPPeerStatus struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	ASN         uint32 `json:"asn"`
	State       string `json:"state"` // IDLE, CONNECT, ACTIVE, OPENSENT, OPENCONFIRM, ESTABLISHED
	Established bool   `json:"established"`
	UpSince     string `json:"up_since,omitempty"` // RFC 3339, while established
	Advertised  uint64 `json:"advertised"`         // prefixes sent to this peer
}
