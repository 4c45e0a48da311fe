// Package packet encodes and decodes VRRP advertisements for IPv4, version 2
// (RFC 3768) and version 3 (RFC 5798), bit-exact with keepalived 2.2.7, and
// decides whether a received advertisement is acceptable for an instance.
//
// The byte slices handled here are the VRRP message only, without the IP
// header. Parsing never panics; every malformation is a sentinel error, and
// ReasonOf turns those errors into the drop reasons that Check and
// CheckDestination return for well-formed packets.
//
// # Wire layout
//
//	v2 (RFC 3768 5.3)                      v3 (RFC 5798 5.2)
//	0x21 VRID Priority Count               0x31 VRID Priority Count
//	AuthType AdverInt(s) Checksum          Rsvd(4 bits)|MaxAdverInt(12 bits, cs) Checksum
//	Count × IPv4 address                   Count × IPv4 address
//	8 bytes authentication data
//
// The v2 checksum covers the whole VRRP message including the 8 bytes of
// authentication data. The v3 checksum also covers an IPv4 pseudo-header:
// source, destination, a zero byte, protocol 112 and the VRRP message length.
//
// # keepalived 2.2.7 behaviour this package follows
//
// Read in keepalived/vrrp/vrrp.c (vrrp_check_packet, expected_vrrp_pkt_len,
// vrrp_build_vrrp_v2, vrrp_build_vrrp_v3, vrrp_update_pkt, vrrp_state_backup,
// vrrp_state_master_rx) and vrrp_parser.c (vrrp_auth_pass_handler), and
// confirmed against the log strings of Debian's 2.2.7 binary:
//
//   - Length is exact. The expected length is derived from the version nibble
//     and the count: 8 + 4×count, plus 8 authentication bytes for v2. A v2
//     packet without the 8 authentication bytes, or any packet with trailing
//     bytes, is dropped ("vrrp packet too short/long"). keepalived always sends
//     the 8 bytes in v2, zero when the auth type is none, and never in v3.
//   - v2 checksum: over the VRRP message with the authentication data
//     (vrrppkt_len += VRRP_AUTH_LEN). v3 checksum: pseudo-header source is the
//     IP header's source; destination is the IP header's destination as
//     received (ip->daddr), so for unicast it is the receiver's own address.
//     When sending unicast v3, keepalived puts the peer's address in the
//     pseudo-header (incremental update in vrrp_update_pkt). Exception,
//     "old_unicast_checksum" compatibility: a unicast instance whose checksum
//     fails with ip->daddr retries with 224.0.0.18 and, if that verifies,
//     switches to sending with 224.0.0.18 in the pseudo-header from then on.
//     To mimic it, call Unmarshal again with MulticastGroup() as dst after
//     ErrBadChecksum on a unicast instance, and Marshal with MulticastGroup()
//     as dst in compatibility mode.
//   - v3 reserved bits are masked off on reception (& 0x0FFF) and sent as zero.
//   - PASS: auth_pass is truncated to 8 bytes (with a warning) and zero padded
//     (memset 0 then memcpy); received data is compared over all 8 bytes with
//     a constant-time memcmp. See Password.
//   - v2 auth type: values other than 0, 1, 2 are dropped ("Invalid auth
//     type"); a type different from ours is dropped ("received a %d auth,
//     expecting %d"). With auth none the received authentication data is not
//     looked at. v3 has no authentication.
//   - v2 advertisement interval must equal ours, else the packet is dropped
//     ("advertisement interval mismatch"). v3 intervals are not checked; a
//     backup adopts the master's.
//   - TTL: must be 255 only when the instance has no unicast peers. With
//     unicast peers the TTL is not checked by default; only when
//     vrrp_check_unicast_src/check_unicast_src is on, and then against each
//     peer's min_ttl..max_ttl. Check follows that default.
//   - Destination: the IP destination must be multicast if and only if the
//     instance has no unicast peers ("Expected multicast packet but received
//     unicast packet"); see CheckDestination.
//   - VRID: keepalived looks the instance up by VRID on the socket; a packet
//     for another VRID is simply not for that instance.
//   - Addresses: the count must equal the number of configured VIPs ("received
//     an unexpected ip number count"), and every configured VIP must appear in
//     the packet, in any order ("ip address associated with VRID not present
//     in MASTER advert"). Both are drops, not warnings, in MASTER and BACKUP
//     state, whatever the priority (so also for the address owner, although
//     RFC 3768 7.1 would only log then), and vrrp_strict does not change it.
//     The only exception is skip_check_adv_addr, which skips the address
//     checks for adverts from the same master as the previous one.
package packet
