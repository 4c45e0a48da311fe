package packet

import (
	"crypto/subtle"
	"errors"
	"net/netip"
	"time"
)

// Reason says why a received packet was dropped; ReasonNone means it was not.
// The values are short and stable, fit for a metric label.
type Reason string

// Drop reasons. The first group comes from Unmarshal's errors (see ReasonOf),
// the second from Check and CheckDestination.
const (
	ReasonNone Reason = ""

	ReasonTooShort         Reason = "too short"
	ReasonBadVersion       Reason = "bad version"
	ReasonBadType          Reason = "bad type"
	ReasonLengthMismatch   Reason = "length mismatch"
	ReasonBadChecksum      Reason = "bad checksum"
	ReasonBadInterval      Reason = "bad interval"
	ReasonBadVRID          Reason = "bad vrid"
	ReasonUnknownAuthType  Reason = "unknown auth type"
	ReasonMalformed        Reason = "malformed" // any other decoding error
	ReasonVRIDMismatch     Reason = "vrid mismatch"
	ReasonBadTTL           Reason = "bad ttl"
	ReasonWrongDestination Reason = "wrong destination"
	ReasonVersionMismatch  Reason = "version mismatch"
	ReasonAuthTypeMismatch Reason = "auth type mismatch"
	ReasonAuthUnsupported  Reason = "auth unsupported"
	ReasonBadPassword      Reason = "bad password"
	ReasonIntervalMismatch Reason = "interval mismatch"
	ReasonAddressCount     Reason = "address count mismatch"
	ReasonAddressList      Reason = "address list mismatch"
)

// Reasons returns every drop reason (not ReasonNone), so that counters can
// be created up front.
func Reasons() []Reason {
	return []Reason{
		ReasonTooShort, ReasonBadVersion, ReasonBadType, ReasonLengthMismatch,
		ReasonBadChecksum, ReasonBadInterval, ReasonBadVRID, ReasonUnknownAuthType,
		ReasonMalformed, ReasonVRIDMismatch, ReasonBadTTL, ReasonWrongDestination,
		ReasonVersionMismatch, ReasonAuthTypeMismatch, ReasonAuthUnsupported,
		ReasonBadPassword, ReasonIntervalMismatch, ReasonAddressCount, ReasonAddressList,
	}
}

// DecodeReasons returns the reasons ReasonOf gives Unmarshal's errors: what
// can be said of a packet before knowing which instance it is for.
func DecodeReasons() []Reason {
	return []Reason{
		ReasonTooShort, ReasonBadVersion, ReasonBadType, ReasonLengthMismatch,
		ReasonBadChecksum, ReasonBadInterval, ReasonBadVRID, ReasonUnknownAuthType,
		ReasonMalformed,
	}
}

// ReasonOf maps an error from Unmarshal to its drop reason; nil maps to
// ReasonNone and an error it does not know to ReasonMalformed.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	for _, m := range []struct {
		err    error
		reason Reason
	}{
		{ErrTooShort, ReasonTooShort},
		{ErrBadVersion, ReasonBadVersion},
		{ErrBadType, ReasonBadType},
		{ErrLengthMismatch, ReasonLengthMismatch},
		{ErrBadChecksum, ReasonBadChecksum},
		{ErrBadInterval, ReasonBadInterval},
		{ErrBadVRID, ReasonBadVRID},
		{ErrUnknownAuthType, ReasonUnknownAuthType},
		{ErrAuthUnsupported, ReasonAuthUnsupported},
	} {
		if errors.Is(err, m.err) {
			return m.reason
		}
	}
	return ReasonMalformed
}

// Expectation is what an instance accepts from its peers.
type Expectation struct {
	Version  uint8
	VRID     uint8
	AuthType AuthType // v2 only; ignored for v3, which has no authentication
	// AuthPass is keepalived's auth_pass: compared as Password(AuthPass),
	// so only its first 8 bytes count. v2 with AuthPass only.
	AuthPass string
	// Interval is our advertisement interval. v2: the received one must be
	// equal (RFC 3768 7.1). v3: not checked; backups adopt the master's
	// (RFC 5798 6.4.2).
	Interval  time.Duration
	Addresses []netip.Addr // our virtual addresses
	// Multicast is true when the instance has no unicast peers. Then the TTL
	// must be 255 (RFC 3768 7.1, RFC 5798 7.1). With unicast peers keepalived
	// 2.2.7 does not check the TTL by default, and neither does Check.
	Multicast bool
}

// Check decides whether a decoded advertisement received with IP TTL ttl is
// acceptable for the instance described by want. It returns ReasonNone when
// it is. Every other reason is a drop: keepalived 2.2.7 drops address count
// and address list mismatches too (see the package documentation).
//
// Check does not know who sent the packet: dropping our own advertisements,
// and the RFC rule that an address owner ignores advertisements, belong to
// the caller.
func Check(ad *Advertisement, ttl uint8, want Expectation) Reason {
	// keepalived finds the instance by VRID before checking anything else.
	if ad.VRID != want.VRID {
		return ReasonVRIDMismatch
	}
	// RFC 3768 7.1 and RFC 5798 7.1: "MUST verify that the IP TTL is 255".
	if want.Multicast && ttl != TTL {
		return ReasonBadTTL
	}
	// RFC 3768 7.1 and RFC 5798 7.1: "MUST verify the VRRP version".
	if ad.Version != want.Version {
		return ReasonVersionMismatch
	}
	if ad.Version == 2 {
		if r := checkAuth(ad, want); r != ReasonNone {
			return r
		}
		// RFC 3768 7.1: "MUST verify that the Adver Interval in the packet
		// is the same as the locally configured for this virtual router".
		if ad.Interval != want.Interval {
			return ReasonIntervalMismatch
		}
	}
	return checkAddresses(ad.Addresses, want.Addresses)
}

// checkAuth follows RFC 2338 5.3.6 and 10.2 as keepalived implements them:
// the type must be ours, and with PASS the 8 bytes must be ours.
func checkAuth(ad *Advertisement, want Expectation) Reason {
	if ad.AuthType != want.AuthType {
		return ReasonAuthTypeMismatch
	}
	switch ad.AuthType {
	case AuthNone:
		// RFC 3768 5.3.10: authentication data is ignored on reception.
		return ReasonNone
	case AuthPass:
		pass, _ := Password(want.AuthPass)
		if subtle.ConstantTimeCompare(ad.AuthData[:], pass[:]) != 1 {
			return ReasonBadPassword
		}
		return ReasonNone
	}
	return ReasonAuthUnsupported
}

// checkAddresses is RFC 3768 7.1 / RFC 5798 7.1 "MAY verify that the IP
// address(es) associated with the VRID are valid", done as keepalived does:
// same count, and each of ours present in any order.
func checkAddresses(got, ours []netip.Addr) Reason {
	if len(got) != len(ours) {
		return ReasonAddressCount
	}
	for _, ip := range ours {
		found := false
		for _, g := range got {
			if g == ip {
				found = true
				break
			}
		}
		if !found {
			return ReasonAddressList
		}
	}
	return ReasonNone
}

// CheckDestination checks the IP destination of a received advertisement as
// keepalived 2.2.7 does: multicast if and only if the instance has no unicast
// peers.
func CheckDestination(dst netip.Addr, want Expectation) Reason {
	if dst.IsMulticast() != want.Multicast {
		return ReasonWrongDestination
	}
	return ReasonNone
}
