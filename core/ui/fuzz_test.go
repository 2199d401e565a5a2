package ui

import (
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzParseQuery: any query string is either refused with a 400 or gives
// values within the documented bounds.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "page=2", "q=abc", "q=%00", "q=%ff", "page=0", "page=1&page=2", "a;b", "serial=123&ca=x", "q=" + string(make([]byte, 300))} {
		f.Add(s)
	}
	spec := route{params: []string{"page", "q", "serial", "ca"}}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw, spec, nil)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.status != http.StatusBadRequest || re.msg == "" || !utf8.ValidString(re.msg) {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if len(raw) > MaxQueryBytes || q.Page < 1 || q.Page > MaxPage || len(q.Q) > MaxSearchBytes || !utf8.ValidString(q.Q) || q.CA != "" || len(q.Serial) > 64 {
			t.Fatalf("%q accepted as %+v", raw, q)
		}
	})
}
