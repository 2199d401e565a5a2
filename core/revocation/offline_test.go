package revocation

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/config"
)

// pkid revoke without a daemon: the one revoke operation with an offline
// Service re-signs OCSP and, once at the end, regenerates the CRLs a
// daemon published (full and delta) of the CAs it revoked in, leaving
// unpublished CRLs and on_revoke = false CAs alone.
func TestRegeneratePublished(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bOnRevoke bool
		publishB  bool
		wantB     bool // b's published CRL lists the revocation
	}{
		{"b never published", true, false, false},
		{"b published", true, true, true},
		{"b published, on_revoke off", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, func(label string, c *config.CA) {
				if label == "b" {
					c.CRL.OnRevoke = tc.bOnRevoke
				}
			})
			ca, cb := e.issue(t, "a", "a.example"), e.issue(t, "b", "b.example")
			if _, err := os.Stat(e.dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("CRL dir exists before any daemon: %v", err)
			}
			offline := e.service(t, func(o *Options) { o.Offline = true })
			if _, err := os.Stat(e.dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("an offline service created the CRL dir: %v", err)
			}
			daemon := e.service(t, nil)
			labels := []string{"a"}
			if tc.publishB {
				labels = append(labels, "b")
			}
			for _, l := range labels {
				if _, err := daemon.GenerateDelta(ctx, l); err != nil { // and the full CRL
					t.Fatal(err)
				}
			}
			for _, r := range []authority.Revocation{
				{Serial: ca.SerialNumber.String(), Label: "a", Reason: 1},
				{Serial: cb.SerialNumber.String(), Label: "b", Reason: 1},
			} {
				res, err := e.set.Revoke(ctx, r, offline)
				if err != nil {
					t.Fatal(err)
				}
				// The OCSP response was re-signed and stored.
				if o, err := e.store.GetOCSP(ctx, res.Request.Serial, res.Request.AKI); err != nil || len(o.Response) == 0 {
					t.Errorf("%s: stored OCSP response %v %v", r.Label, o, err)
				}
			}
			if err := offline.RegeneratePublished(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				label  string
				serial string
				want   bool
			}{{"a", ca.SerialNumber.String(), true}, {"b", cb.SerialNumber.String(), tc.wantB}} {
				for _, delta := range []bool{false, true} {
					path := offline.path(c.label, delta)
					if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
						if c.label == "b" && !tc.publishB {
							continue // never published: still not
						}
						t.Fatalf("%s missing", path)
					}
					rl, _ := readCRL(t, path, e.cas[c.label].cert)
					if _, listed := entries(rl)[c.serial]; listed != c.want {
						t.Errorf("%s lists serial %s: %v, want %v", path, c.serial, listed, c.want)
					}
				}
			}
			if !tc.publishB {
				if _, err := os.Stat(offline.path("b", false)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("an unpublished CRL was generated: %v", err)
				}
			}
			// Nothing pending: a second call regenerates nothing.
			before := readMeta(t, offline.path("a", false))
			if err := offline.RegeneratePublished(ctx); err != nil {
				t.Fatal(err)
			}
			if after := readMeta(t, offline.path("a", false)); after.Number != before.Number {
				t.Errorf("regenerated again: CRL number %s → %s", before.Number, after.Number)
			}
		})
	}
}
