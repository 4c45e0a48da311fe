package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// The lab test runs the speaker in a node's namespace, which needs a process
// of its own (GoBGP dials from goroutines on any thread): this test binary,
// started again with speakerEnv set, reading commands on stdin.
const speakerEnv = "HASIDECAR_BGP_TEST_SPEAKER"

func TestMain(m *testing.M) {
	if os.Getenv(speakerEnv) != "" {
		serveCommands(os.Stdin, os.Stdout)
		return
	}
	os.Exit(m.Run())
}

// serveCommands runs a speaker driven by one command a line, answering each
// with one line: "ok", "err ...", or the status as JSON.
func serveCommands(in io.Reader, out io.Writer) {
	ctx := context.Background()
	var s *Speaker
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		reply := "ok"
		switch f[0] {
		case "start": // start ASN ROUTER-ID
			asn, _ := strconv.Atoi(f[1])
			s, err = Start(ctx, Config{ASN: uint32(asn), RouterID: netip.MustParseAddr(f[2])}, zap.NewNop())
		case "peers": // peers NAME,ADDR,ASN,HOLD ...
			var peers []Peer
			for _, p := range f[1:] {
				v := strings.Split(p, ",")
				asn, _ := strconv.Atoi(v[2])
				hold, _ := time.ParseDuration(v[3])
				peers = append(peers, Peer{Name: v[0], Address: netip.MustParseAddr(v[1]), ASN: uint32(asn), HoldTime: hold})
			}
			err = s.SetPeers(ctx, peers)
		case "announce": // announce PREFIX MED
			med, _ := strconv.Atoi(f[2])
			err = s.Announce(ctx, Route{Prefix: netip.MustParsePrefix(f[1]), MED: uint32(med)})
		case "withdraw":
			err = s.Withdraw(ctx, netip.MustParsePrefix(f[1]))
		case "status":
			var st []PeerStatus
			st, err = s.Peers(ctx)
			b, _ := json.Marshal(st)
			reply = string(b)
		case "stop":
			err = s.Stop(ctx)
		}
		if err != nil {
			reply = "err " + strings.ReplaceAll(err.Error(), "\n", " ")
		}
		fmt.Fprintln(out, reply)
		if f[0] == "stop" {
			return
		}
	}
}

// speakerProc is the speaker process of a lab test.
type speakerProc struct {
	in  io.Writer
	out *bufio.Scanner
}

func startSpeaker(t *testing.T, n *netlab.Node) *speakerProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := n.Command(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), speakerEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cancel()
		cmd.Wait()
	})
	return &speakerProc{in: in, out: bufio.NewScanner(out)}
}

func (s *speakerProc) do(t *testing.T, format string, args ...any) string {
	t.Helper()
	fmt.Fprintf(s.in, format+"\n", args...)
	if !s.out.Scan() {
		t.Fatalf("speaker gave no answer to %q", fmt.Sprintf(format, args...))
	}
	reply := s.out.Text()
	if strings.HasPrefix(reply, "err ") {
		t.Fatalf("%s: %s", fmt.Sprintf(format, args...), reply)
	}
	return reply
}

func (s *speakerProc) status(t *testing.T) []PeerStatus {
	t.Helper()
	var st []PeerStatus
	if err := json.Unmarshal([]byte(s.do(t, "status")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func routerConfig(speaker netip.Addr) string {
	return fmt.Sprintf(`frr defaults traditional
hostname router
router bgp 65000
 bgp router-id %s
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor %s remote-as 65010
 neighbor %s timers 3 9
 neighbor %s timers connect 1
`, netlab.Address(1), speaker, speaker, speaker)
}

// TestSpeakerAgainstFRR checks the speaker against FRRouting's bgpd: the
// router learns an announced /32 from it and loses it on withdrawal, gets
// it again after the router restarts, keeps the session when the peers are
// set again unchanged, and loses the route at once when the speaker stops.
func TestSpeakerAgainstFRR(t *testing.T) {
	netlab.RequireFRR(t)
	lab := netlab.New(t, 2)
	router, node := lab.Nodes[0], lab.Nodes[1]
	bgpd := router.StartBGPD(t, routerConfig(node.Addr))
	sp := startSpeaker(t, node)
	sp.do(t, "start 65010 %s", node.Addr)
	peer := fmt.Sprintf("tor1,%s,65000,9s", router.Addr)
	sp.do(t, "peers %s", peer)

	const route = "show bgp ipv4 unicast 203.0.113.10/32"
	sp.do(t, "announce 203.0.113.10/32 0")
	out := bgpd.WaitShow(t, route, node.Addr.String(), true, 30*time.Second)
	t.Logf("router learned the VIP:\n%s", out)

	st := sp.status(t)
	if len(st) != 1 || !st[0].Established || st[0].Name != "tor1" || st[0].Advertised != 1 || st[0].Since.IsZero() {
		t.Fatalf("status %+v; want tor1 established with 1 prefix advertised", st)
	}
	since := st[0].Since
	sp.do(t, "peers %s", peer) // a reload that changes nothing
	if st := sp.status(t); !st[0].Established || !st[0].Since.Equal(since) {
		t.Fatalf("setting the same peers again reset the session: %+v (up since %v)", st, since)
	}

	sp.do(t, "announce 203.0.113.10/32 200") // a backup's worse MED
	bgpd.WaitShow(t, route, "metric 200", true, 10*time.Second)

	sp.do(t, "withdraw 203.0.113.10/32")
	bgpd.WaitShow(t, route, node.Addr.String(), false, 10*time.Second)

	// The router restarts: the current announcements reach it again.
	sp.do(t, "announce 203.0.113.10/32 0")
	bgpd.WaitShow(t, route, node.Addr.String(), true, 10*time.Second)
	bgpd.Stop(5 * time.Second)
	bgpd = router.StartBGPD(t, routerConfig(node.Addr))
	bgpd.WaitShow(t, route, node.Addr.String(), true, 60*time.Second)

	// Stopping withdraws at once: far sooner than the 9 s hold time.
	start := time.Now()
	sp.do(t, "stop")
	bgpd.WaitShow(t, route, node.Addr.String(), false, 5*time.Second)
	t.Logf("route gone %v after stop", time.Since(start).Round(time.Millisecond))
}
