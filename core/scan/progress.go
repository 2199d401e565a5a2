package scan

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress draws a progress bar for a multi-target run. On a terminal it
// redraws one line in place; elsewhere (a log) it writes a line at each
// tenth of the run, so logs stay short. Calls come serialised from Run.
type Progress struct {
	w        io.Writer
	total    int
	terminal bool
	n, bad   int
	start    time.Time
	lastStep int
}

// NewProgress returns a bar for total hosts written to w; terminal says w
// is a terminal (redraw in place).
func NewProgress(w io.Writer, total int, terminal bool) *Progress {
	return &Progress{w: w, total: total, terminal: terminal, start: time.Now(), lastStep: -1}
}

const barWidth = 30

func (p *Progress) done(r *HostResult) {
	if p == nil {
		return
	}
	p.n++
	if r.Err != nil || r.Grade == GradeBad {
		p.bad++
	}
	if !p.terminal {
		if step := p.n * 10 / max(p.total, 1); step != p.lastStep || p.n == p.total {
			p.lastStep = step
			fmt.Fprintln(p.w, p.line())
		}
		return
	}
	fmt.Fprint(p.w, "\r"+p.line()+"\x1b[K") // clear what a longer line left
	if p.n == p.total {
		fmt.Fprintln(p.w)
	}
}

func (p *Progress) line() string {
	fill := 0
	if p.total > 0 {
		fill = min(barWidth, p.n*barWidth/p.total)
	}
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 1e-3)
	return fmt.Sprintf("[%s%s] %d/%d hosts, %d bad, %.1f hosts/s",
		strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), p.n, p.total, p.bad, rate)
}
