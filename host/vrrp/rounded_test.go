package vrrp

import (
	"testing"
	"time"
)

func TestRounded(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{3414062500 * time.Nanosecond, "3.41s"},
		{360937500 * time.Nanosecond, "361ms"},
		{36093750 * time.Nanosecond, "36.1ms"},
		{3 * time.Second, "3s"},
		{10*time.Second + 996*time.Millisecond, "11s"},
		{999 * time.Nanosecond, "999ns"},
		{0, "0s"},
	} {
		if got := rounded(tc.in).String(); got != tc.want {
			t.Errorf("rounded(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
