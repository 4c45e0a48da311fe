package control

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
