package scan

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	var log bytes.Buffer
	p := NewProgress(&log, 20, false)
	for i := range 20 {
		r := &HostResult{Grade: GradeGood}
		if i%5 == 0 {
			r.Grade = GradeBad
		}
		if i == 7 {
			r.Err = errors.New("denied")
		}
		p.done(r)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	// A log gets a line per tenth of the run (and the last), not per host.
	if len(lines) != 11 {
		t.Errorf("%d lines for 20 hosts, want 11:\n%s", len(lines), log.String())
	}
	last := regexp.MustCompile(`^\[={30}\] 20/20 hosts, 5 bad, [0-9.]+ hosts/s$`)
	if !last.MatchString(lines[len(lines)-1]) {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	var term bytes.Buffer
	p = NewProgress(&term, 3, true)
	for range 3 {
		p.done(&HostResult{Grade: GradeGood})
	}
	// A terminal gets one line redrawn in place, ended once.
	if strings.Count(term.String(), "\r") != 3 || strings.Count(term.String(), "\n") != 1 || !strings.Contains(term.String(), "\r[==========                    ] 1/3 hosts") {
		t.Errorf("terminal output %q", term.String())
	}
	(*Progress)(nil).done(&HostResult{}) // no bar: nothing to do
}
