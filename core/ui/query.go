package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/sdk"
)

// query is a page's validated query parameters.
type query struct {
	CA     string // a configured CA label, or "" for all
	Page   int    // 1-based
	Q      string // search text
	Serial string // decimal
}

// parseQuery checks the raw query against the page's parameters.
// Errors (400, with what is wrong): a query longer than MaxQueryBytes, one
// that does not parse, a parameter the page does not take or given twice,
// a required one missing, a page number outside 1..MaxPage, a CA that is
// not configured, a search text too long or holding control characters or
// invalid UTF-8, a serial that is not a decimal number.
func parseQuery(raw string, spec route, cas *authority.Set) (query, error) {
	q := query{Page: 1}
	if len(raw) > MaxQueryBytes {
		return q, errorf(http.StatusBadRequest, "the query string is %d bytes; at most %d are accepted", len(raw), MaxQueryBytes)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, errorf(http.StatusBadRequest, "the query string does not parse: %v", err)
	}
	for k, v := range vals {
		if !slices.Contains(spec.params, k) {
			return q, errorf(http.StatusBadRequest, "unknown query parameter %q", clip(k))
		}
		if len(v) > 1 {
			return q, errorf(http.StatusBadRequest, "query parameter %q is given %d times", k, len(v))
		}
	}
	for _, k := range spec.required {
		if vals.Get(k) == "" {
			return q, errorf(http.StatusBadRequest, "query parameter %q is required", k)
		}
	}
	if s := vals.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPage {
			return q, errorf(http.StatusBadRequest, "page must be a number from 1 to %d, not %q", MaxPage, clip(s))
		}
		q.Page = n
	}
	if s := vals.Get("ca"); s != "" {
		if cas == nil || cas.CAs[s] == nil {
			return q, errorf(http.StatusBadRequest, "ca %q is not a configured CA", clip(s))
		}
		q.CA = s
	}
	if s := vals.Get("serial"); s != "" {
		if len(s) > 64 || sdk.CheckSerial(s) != nil {
			return q, errorf(http.StatusBadRequest, "serial must be a decimal number (at most 64 digits), not %q", clip(s))
		}
		q.Serial = s
	}
	if s, ok := vals["q"]; ok {
		if err := checkText(s[0]); err != nil {
			return q, err
		}
		q.Q = s[0]
	}
	return q, nil
}

// checkText refuses search text that no certificate field could match
// and that would only clutter logs or pages.
func checkText(s string) error {
	if len(s) > MaxSearchBytes {
		return errorf(http.StatusBadRequest, "the search text is %d bytes; at most %d are accepted", len(s), MaxSearchBytes)
	}
	if !utf8.ValidString(s) {
		return errorf(http.StatusBadRequest, "the search text is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errorf(http.StatusBadRequest, "the search text holds a control character (%U)", r)
		}
	}
	return nil
}

// clip shortens a caller's value quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
