package cli

import (
	"flag"
	"fmt"
	"io"
	"sync"
	"time"
)

// progressInterval is the least time between two progress lines: at most
// two lines a second, however fast the items go.
const progressInterval = 500 * time.Millisecond

// progressFlag registers -progress on fs.
func progressFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("progress", false, "report progress on stderr even when it is not a terminal (it is reported on a terminal)")
}

// progress reports the advance of a long operation on stderr: plain
// lines ("pkid: revoke: 12000 certificates (48%, 5210/s)"), at most one
// per progressInterval, only when on (stderr is a terminal or -progress),
// and a summary line at the end. Safe for concurrent use.
type progress struct {
	w     io.Writer
	on    bool
	what  string // the command: "revoke -all"
	unit  string // plural: "certificates"
	total int64  // 0: unknown
	now   func() time.Time

	mu          sync.Mutex
	start, last time.Time
	n           int64
}

// newProgress starts reporting on w when on; total 0 means unknown.
func newProgress(w io.Writer, on bool, what, unit string, total int64) *progress {
	p := &progress{w: w, on: on, what: what, unit: unit, total: total, now: time.Now}
	p.start = p.now()
	p.last = p.start
	return p
}

// progressOn is whether a command reports progress: -progress, or stderr
// is a terminal.
func progressOn(e *env, flagged bool) bool { return flagged || isTerminal(e.stderr) }

// add counts d more items.
func (p *progress) add(d int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += d
	p.tick()
}

// set sets the count of items done.
func (p *progress) set(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n = n
	p.tick()
}

// tick prints a line when one is due (p.mu held).
func (p *progress) tick() {
	if !p.on {
		return
	}
	now := p.now()
	if now.Sub(p.last) < progressInterval {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "pkid: %s: %s\n", p.what, p.status(now))
}

func (p *progress) status(now time.Time) string {
	s := fmt.Sprintf("%d", p.n)
	if p.total > 0 {
		s += fmt.Sprintf("/%d", p.total)
	}
	s += " " + p.unit
	rate := ""
	if el := now.Sub(p.start); el >= 100*time.Millisecond {
		rate = fmt.Sprintf("%.0f/s", float64(p.n)/el.Seconds())
	}
	switch {
	case p.total > 0 && rate != "":
		s += fmt.Sprintf(" (%d%%, %s)", p.n*100/p.total, rate)
	case p.total > 0:
		s += fmt.Sprintf(" (%d%%)", p.n*100/p.total)
	case rate != "":
		s += " (" + rate + ")"
	}
	return s
}

// done prints the summary line when on: the count, the time taken, and
// detail (may be empty).
func (p *progress) done(detail string) {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	el := p.now().Sub(p.start)
	line := fmt.Sprintf("pkid: %s: done: %d %s in %s", p.what, p.n, p.unit, el.Round(time.Millisecond))
	if detail != "" {
		line += "; " + detail
	}
	fmt.Fprintln(p.w, line)
}
