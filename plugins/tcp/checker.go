// Package tcp checks that a TCP port accepts connections
// (keepalived's TCP_CHECK).
package tcp

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"

	"github.com/hasidecar/hasidecar/sdk"
)

type checker struct{}

func (checker) Schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "address", Type: sdk.String, Required: true, Description: `"host:port" to connect to`},
	}}
}

type probe struct{ address string }

func (checker) New(c sdk.Config) (sdk.Probe, sdk.Diagnostics) {
	var cfg struct {
		Address string `json:"address"`
	}
	if err := c.Decode(&cfg); err != nil {
		return nil, sdk.Errorf("", "decoding the configuration: %v", err)
	}
	host, port, err := net.SplitHostPort(cfg.Address)
	if err != nil || host == "" {
		return nil, sdk.Errorf("address", "address %q is not host:port, e.g. \"127.0.0.1:80\"", cfg.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, sdk.Errorf("address", "port %q in %q is not a number from 1 to 65535", port, cfg.Address)
	}
	return probe{address: cfg.Address}, nil
}

func (p probe) Check(ctx context.Context) sdk.Result {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.address)
	if err != nil {
		return sdk.Unhealthy("%s", reason(ctx, err))
	}
	c.Close()
	return sdk.Healthy("connected to %s", p.address)
}

// reason says in a few words why a connection failed.
func reason(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case ctx.Err() != nil:
		return "no answer before the timeout"
	}
	return err.Error()
}

// New returns the tcp checker, for sdk.Serve.
func New() sdk.Checker { return checker{} }
