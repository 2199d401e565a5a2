package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// A retryable plugin failure is a 503 naming the part that failed, not
// "the certificate store" for everything, and never the plugin's own text.
func TestClassifyNamesThePart(t *testing.T) {
	full := fmt.Errorf("store-sqlite: put: %w: database or disk is full (13)", sdk.ErrUnavailable)
	storeFull := &pluginhost.InstanceError{Kind: sdk.KindCertStore, Instance: "main", Err: full}
	ksDown := &pluginhost.InstanceError{Kind: sdk.KindKeyStore, Instance: "dev", Err: fmt.Errorf("connection closed mid-call: %w", sdk.ErrUnavailable)}
	ksLocked := &pluginhost.InstanceError{Kind: sdk.KindKeyStore, Instance: "split", Err: fmt.Errorf("2 of 3: %w", sdk.ErrLocked)}
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		code    int
		want    string
		notWant string
	}{
		{"sign: record refused on a full disk", &ca.Error{Code: ca.CodeStoreUnavailable, Msg: "the certificate could not be recorded, so it is not returned", Err: storeFull},
			503, ca.CodeStoreUnavailable, `certstore "main" is unavailable`, "disk"},
		{"revoke: store full", storeFull, 503, ca.CodeStoreUnavailable, `certstore "main" is unavailable`, "disk"},
		{"keystore died mid-sign", fmt.Errorf("ca: signing: %w", ksDown), 503, 503, `keystore "dev" is unavailable`, "closed"},
		{"keystore locked", fmt.Errorf("ca: signing: %w", ksLocked), 503, 503, `keystore "split" is locked`, "2 of 3"},
		{"unnamed", fmt.Errorf("x: %w", sdk.ErrUnavailable), 503, ca.CodeStoreUnavailable, "the certificate store is unavailable", ""},
		{"internal", errors.New("boom"), 500, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, code, msg, internal := classify(tc.err)
			if st != tc.status || code != tc.code || !strings.Contains(msg, tc.want) || internal != (st == 500) {
				t.Errorf("classify = %d %d %q internal=%v; want %d %d containing %q", st, code, msg, internal, tc.status, tc.code, tc.want)
			}
			if tc.notWant != "" && strings.Contains(msg, tc.notWant) {
				t.Errorf("message %q leaks the plugin's text %q", msg, tc.notWant)
			}
		})
	}
	if got := storeUnavailable(storeFull); !strings.Contains(got, `certstore "main"`) {
		t.Errorf("revoke message %q does not name the certstore", got)
	}
}
