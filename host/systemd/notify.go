// Package systemd tells systemd about the daemon's life cycle through
// coreos/go-systemd: READY=1 once the instances run, RELOADING=1 and READY=1
// around a reload, STOPPING=1 on the way out, and WATCHDOG=1 pings.
package systemd

import (
	"fmt"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Notify sends state to systemd. Outside systemd (no $NOTIFY_SOCKET) it does
// nothing and reports false.
func Notify(state string) (bool, error) {
	sent, err := sd.SdNotify(false, state)
	if err != nil {
		return false, fmt.Errorf("notifying systemd of %q: %w", state, err)
	}
	return sent, nil
}

// WatchdogInterval is WatchdogSec as systemd passed it for this process, or 0
// when there is no watchdog.
func WatchdogInterval() time.Duration {
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}
