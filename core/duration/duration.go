// Package duration parses pkid durations: Go durations plus a leading days
// part ("14d", "1d12h"), accepted everywhere a duration is configured.
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDays keeps days*24h inside time.Duration.
const maxDays = int64(time.Duration(1<<63-1) / (24 * time.Hour))

// Parse parses a Go duration ("8760h", "90m", "1h30m") with an
// optional leading days part ("14d", "1d12h"), as pkid durations do
// everywhere. Negative and overflowing durations are refused; the error
// shows the accepted forms.
func Parse(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q: want a Go duration or days, e.g. 8760h, 90m, 14d, 1d12h", s)
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, bad
	}
	var days time.Duration
	if i := strings.IndexByte(in, 'd'); i >= 0 {
		n, err := strconv.ParseInt(in[:i], 10, 64)
		if err != nil || n < 0 || n > maxDays || strings.HasPrefix(in[:i], "+") {
			return 0, bad
		}
		days = time.Duration(n) * 24 * time.Hour
		in = in[i+1:]
		if in == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(in)
	if err != nil || d < 0 || strings.HasPrefix(in, "+") || d > time.Duration(1<<63-1)-days {
		return 0, bad
	}
	return days + d, nil
}
