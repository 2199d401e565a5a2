package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
)

// Formats of WriteResult.
const (
	// FormatJSON is CFSSL's `scan` output: "=== HOST ===", the results
	// indented, a blank line.
	FormatJSON = "json"
	// FormatJSONL is one JSON object per host and line: host, ip, grade,
	// results (CFSSL's shape) and error.
	FormatJSONL = "jsonl"
	// FormatTable is a table for people: one row per scanner and a
	// summary row per host.
	FormatTable = "table"
)

// Formats lists the formats WriteResult knows.
var Formats = []string{FormatJSON, FormatJSONL, FormatTable}

// WriteResult writes one host's result in format. A host that was not
// scanned (r.Err) is written by FormatJSONL and FormatTable; FormatJSON,
// like CFSSL, has no place for it (the caller reports it on stderr).
func WriteResult(w io.Writer, format string, r *HostResult) error {
	switch format {
	case FormatJSON:
		if r.Err != nil {
			return nil
		}
		b, err := json.MarshalIndent(r.Results, "", "  ")
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		_, err = fmt.Fprintf(w, "=== %s ===\n%s\n\n", r.Host, b)
		return err
	case FormatJSONL:
		line := struct {
			*HostResult
			Error string `json:"error,omitempty"`
		}{r, ""}
		if r.Err != nil {
			line.Error = r.Err.Error()
		}
		b, err := json.Marshal(line)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case FormatTable:
		return writeTable(w, r)
	}
	return fmt.Errorf("scan: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// detailWidth bounds a table cell: the JSON formats carry the whole output.
const detailWidth = 72

func writeTable(w io.Writer, r *HostResult) error {
	var rows bytes.Buffer
	tw := tabwriter.NewWriter(&rows, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", "FAMILY", "SCANNER", "GRADE", "DETAIL")
	for _, fam := range slices.Sorted(maps.Keys(r.Results)) {
		fr := r.Results[fam]
		for _, name := range slices.Sorted(maps.Keys(fr)) {
			sr := fr[name]
			detail := sr.Error
			if detail == "" && len(sr.Output) > 0 {
				detail = string(sr.Output)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fam, name, sr.Grade, cell(detail))
		}
	}
	summary := r.Grade
	if r.Err != nil {
		summary += " (" + cell(r.Err.Error()) + ")"
	}
	ip := ""
	if r.IP != "" {
		ip = " at " + r.IP
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "== %s%s: %s\n", r.Host, ip, summary)
	if len(r.Results) > 0 {
		if err := tw.Flush(); err != nil {
			return err
		}
		for line := range strings.Lines(rows.String()) {
			out.WriteString(strings.TrimRight(line, " \n") + "\n")
		}
	}
	out.WriteString("\n")
	_, err := w.Write(out.Bytes())
	return err
}

// cell makes s one printable line of at most detailWidth runes: a check's
// output or reason comes from the scanned server and must not move the
// cursor or forge rows.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\t' {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if rs := []rune(s); len(rs) > detailWidth {
		s = string(rs[:detailWidth-3]) + "..."
	}
	return s
}
