package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diags to w, each with file:line:col, the block it
// is in, and the source line with the offending range underlined:
//
//	Error: Unknown keystore plugin type
//	  --> pkid.hcl:3:10 (in keystore "fiel" "dev")
//	   |
//	 3 | keystore "fiel" "dev" {
//	   |          ^^^^^^
//	There is no keystore plugin of type "fiel". Did you mean "file"?
//
// c may be nil (nothing loaded): then no snippets are shown. The error is w's.
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	if c != nil {
		files = c.Files
	}
	bw := bufio.NewWriter(w)
	for i, d := range diags {
		if i > 0 {
			bw.WriteString("\n")
		}
		writeDiagnostic(bw, files, d)
	}
	return bw.Flush()
}

func writeDiagnostic(w *bufio.Writer, files map[string]*hcl.File, d *hcl.Diagnostic) {
	sev := "Error"
	if d.Severity == hcl.DiagWarning {
		sev = "Warning"
	}
	fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
	if d.Subject != nil {
		r := *d.Subject
		var file *hcl.File
		if files != nil {
			file = files[r.Filename]
		}
		ctx := ""
		if file != nil {
			if nav, ok := file.Nav.(interface{ ContextString(int) string }); ok {
				if s := nav.ContextString(r.Start.Byte); s != "" {
					ctx = " (in " + s + ")"
				}
			}
		}
		fmt.Fprintf(w, "  --> %s:%d:%d%s\n", r.Filename, r.Start.Line, r.Start.Column, ctx)
		if file != nil {
			writeSnippet(w, file.Bytes, r)
		}
	}
	if d.Detail != "" {
		fmt.Fprintf(w, "%s\n", d.Detail)
	}
}

// writeSnippet prints the first line of r with a caret underline.
func writeSnippet(w *bufio.Writer, src []byte, r hcl.Range) {
	lines := bytes.Split(src, []byte("\n"))
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	line := strings.TrimRight(string(lines[r.Start.Line-1]), "\r")
	num := fmt.Sprint(r.Start.Line)
	pad := strings.Repeat(" ", len(num))
	// Columns count characters; tabs are shown as single spaces so the
	// underline stays aligned.
	runes := []rune(strings.ReplaceAll(line, "\t", " "))
	start := min(max(r.Start.Column-1, 0), len(runes))
	end := len(runes)
	if r.End.Line == r.Start.Line {
		end = min(max(r.End.Column-1, start+1), len(runes))
	}
	width := max(end-start, 1)
	fmt.Fprintf(w, " %s |\n", pad)
	fmt.Fprintf(w, " %s | %s\n", num, string(runes))
	fmt.Fprintf(w, " %s | %s%s\n", pad, strings.Repeat(" ", start), strings.Repeat("^", width))
}
