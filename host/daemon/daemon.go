// Package daemon assembles hasidecar from a loaded configuration: one runner
// per VRRP instance with its socket, address manager and ARP announcer, the
// link watcher that puts instances in FAULT, and the control socket.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/garp"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/linkwatch"
	"github.com/hasidecar/hasidecar/host/systemd"
	"github.com/hasidecar/hasidecar/host/vip"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// Daemon is a running hasidecar.
type Daemon struct {
	cfg     *config.Config
	log     *zap.Logger
	runners []*tracked
}

// tracked is a runner and the interfaces whose link state it follows.
type tracked struct {
	*instance.Runner
	links []string
}

// Run starts everything the configuration describes and blocks until ctx
// ends; then every master resigns and removes its addresses before Run
// returns. A setup error (a missing interface, a socket that cannot be
// opened) stops everything already started and is returned.
func Run(ctx context.Context, cfg *config.Config, log *zap.Logger) (err error) {
	d := &Daemon{cfg: cfg, log: log}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	for _, ic := range cfg.Instances {
		r, closeFn, err := d.newRunner(ctx, ic)
		if err != nil {
			return err
		}
		closers = append(closers, closeFn)
		d.runners = append(d.runners, r)
	}

	l, err := control.Listen(cfg.Control.Socket)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(d.runners)+2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := control.Serve(ctx, l, d, log); err != nil {
			errs <- err
		}
	}()

	if err := d.watchLinks(ctx, &wg); err != nil {
		cancel()
		wg.Wait()
		return err
	}

	for _, r := range d.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	log.Info("hasidecar running", zap.String("node", cfg.NodeName),
		zap.Int("instances", len(d.runners)), zap.String("control_socket", cfg.Control.Socket))
	if _, err := systemd.Notify("READY=1"); err != nil {
		log.Warn("telling systemd we are ready", zap.Error(err))
	}

	<-ctx.Done()
	_, _ = systemd.Notify("STOPPING=1")
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

func (d *Daemon) newRunner(ctx context.Context, ic config.Instance) (*tracked, func(), error) {
	conn, err := vrrpconn.Open(ctx, vrrpconn.Options{
		Interface: ic.Interface,
		Source:    ic.UnicastSource,
		Multicast: len(ic.UnicastPeers) == 0,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	addrs, err := vip.New(ic.Interface, d.log)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	ann, err := garp.NewAnnouncer(ic.Interface)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	r, err := instance.New(instance.Spec{
		Name:                       ic.Name,
		Interface:                  ic.Interface,
		VRID:                       ic.VRID,
		Priority:                   ic.Priority,
		Version:                    ic.Version,
		AdvertInterval:             ic.AdvertInterval,
		Preempt:                    ic.Preempt,
		PreemptDelay:               ic.PreemptDelay,
		VirtualIPs:                 ic.VirtualIPs,
		UnicastPeers:               ic.UnicastPeers,
		AuthPass:                   ic.AuthPass,
		LowerPriorityIsResignation: ic.FastPreempt,
	}, conn, addrs, ann, d.log)
	if err != nil {
		conn.Close()
		ann.Close()
		return nil, nil, err
	}
	// The instance's own interface always counts: VRRP on a dead link is
	// meaningless (keepalived does the same).
	links := []string{ic.Interface}
	for _, name := range ic.TrackInterfaces {
		if name != ic.Interface {
			links = append(links, name)
		}
	}
	closeFn := func() {
		conn.Close()
		ann.Close()
	}
	return &tracked{Runner: r, links: links}, closeFn, nil
}

// watchLinks raises "link X down" on every instance that follows X while X is
// down, and clears it when X comes back.
func (d *Daemon) watchLinks(ctx context.Context, wg *sync.WaitGroup) error {
	var names []string
	seen := map[string]bool{}
	for _, r := range d.runners {
		for _, n := range r.links {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	events, err := linkwatch.Watch(ctx, names, d.log)
	if err != nil {
		return fmt.Errorf("watching links %v: %w", names, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range events {
			reason := "link " + ev.Interface + " down"
			if ev.Up {
				d.log.Info("link up", zap.String("interface", ev.Interface))
			} else {
				d.log.Warn("link down", zap.String("interface", ev.Interface))
			}
			for _, r := range d.runners {
				for _, n := range r.links {
					if n == ev.Interface {
						r.Deliver(ctx, vrrp.FaultChanged{Reason: reason, Active: !ev.Up})
					}
				}
			}
		}
	}()
	return nil
}

// Status implements control.Handler.
func (d *Daemon) Status() control.Status {
	st := control.Status{NodeName: d.cfg.NodeName, Instances: []control.InstanceStatus{}, Checks: []control.CheckStatus{}}
	for _, r := range d.runners {
		st.Instances = append(st.Instances, r.Status())
	}
	return st
}

// Reload implements control.Handler.
func (d *Daemon) Reload(context.Context, string) error {
	return errors.New("reload is not supported yet: restart the daemon to apply a new configuration")
}
