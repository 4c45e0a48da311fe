// Package systemd tells systemd about the daemon's life cycle (sd_notify):
// READY=1 once the instances run, STOPPING=1 on the way out.
package systemd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends state to the socket named by $NOTIFY_SOCKET. Outside systemd
// (no variable) it does nothing and reports false.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if path[0] == '@' { // abstract socket
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("connecting to systemd notify socket: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notifying systemd of %q: %w", state, err)
	}
	return true, nil
}

// WatchdogInterval is WatchdogSec as systemd passed it ($WATCHDOG_USEC, for
// this process's $WATCHDOG_PID), or 0 when there is no watchdog.
func WatchdogInterval() time.Duration {
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}
