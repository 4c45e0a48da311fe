package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/status"
)

// dropsDaemon has one instance and one socket that dropped nothing yet but
// one bad checksum and one packet from another interface.
type dropsDaemon struct{ fakeDaemon }

func (dropsDaemon) Status() status.Status {
	return status.Status{
		Instances: []status.InstanceStatus{{Name: "VI_1", State: "BACKUP", Dropped: map[string]uint64{"bad checksum": 1}}},
		Sockets:   []status.SocketStatus{{Interface: "eth0", Source: "198.51.100.1", Multicast: true, Dropped: map[string]uint64{"other interface": 1}}},
	}
}

func scrape(t *testing.T, src Source) string {
	t.Helper()
	srv := httptest.NewServer(New(src).Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Every reason is exported from the start, at 0 until counted.
func TestEveryDropReasonExported(t *testing.T) {
	text := scrape(t, dropsDaemon{})
	for _, r := range drops.InstanceReasons() {
		want := fmt.Sprintf(`hasidecar_adverts_dropped_total{instance="VI_1",reason=%q} 0`, r.String())
		if r.String() == "bad checksum" {
			want = `hasidecar_adverts_dropped_total{instance="VI_1",reason="bad checksum"} 1`
		}
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, r := range drops.SocketReasons() {
		n := 0
		if r == drops.OtherInterface {
			n = 1
		}
		want := fmt.Sprintf(`hasidecar_socket_dropped_total{interface="eth0",mode="multicast",reason=%q,source="198.51.100.1"} %d`, r.String(), n)
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if got, want := strings.Count(text, "hasidecar_adverts_dropped_total{"), len(drops.InstanceReasons()); got != want {
		t.Errorf("%d instance drop series, want %d", got, want)
	}
	// The codec's whole list but another VRID's, queue full and our own
	// looped back.
	if got, want := len(drops.InstanceReasons()), 2+len(drops.All())-4-1; got != want {
		t.Errorf("%d instance reasons, want %d", got, want)
	}
}
