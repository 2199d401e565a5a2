package ca_test

import (
	"context"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// NotBefore is now rounded to the nearest minute, less the backdate, as
// CFSSL 1.6.5's signer and initca do (time.Now().Round(time.Minute)):
// 12:34:29 gives 12:29, 12:34:30 gives 12:30. core/cli's
// TestParityNotBefore compares with the oracle live.
func TestNotBeforeRoundsToMinute(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 34, 0, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Duration // after 12:34:00
		want time.Time
	}{
		{29*time.Second + 999*time.Millisecond, time.Date(2026, 3, 1, 12, 29, 0, 0, time.UTC)},
		{30 * time.Second, time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)},
		{59 * time.Second, time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)},
	} {
		now := base.Add(tc.now)
		clock := func() time.Time { return now }
		rootReq := &csr.Request{CN: "round root", KeyRequest: keyReq("ecdsa", 256)}
		key, err := rootReq.KeyRequest.Generate()
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: rootReq, Signer: key, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if !root.Cert.NotBefore.Equal(tc.want) {
			t.Errorf("initca at %s: NotBefore %s, want %s", now.Format(time.TimeOnly), root.Cert.NotBefore, tc.want)
		}
		iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root", Certificate: root.Cert, Signer: key, Profiles: mustProfiles(t), Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		leafCSR, _ := newCSR(t, &csr.Request{CN: "leaf.example", Hosts: []string{"leaf.example"}, KeyRequest: keyReq("ecdsa", 256)})
		leaf, err := iss.Sign(ctx, ca.SignRequest{CSR: leafCSR})
		if err != nil {
			t.Fatal(err)
		}
		if !leaf.Cert.NotBefore.Equal(tc.want) {
			t.Errorf("sign at %s: NotBefore %s, want %s", now.Format(time.TimeOnly), leaf.Cert.NotBefore, tc.want)
		}
		renewed, err := ca.RenewCA(ctx, root.Cert, key, now)
		if err != nil {
			t.Fatal(err)
		}
		if !renewed.Cert.NotBefore.Equal(tc.want) {
			t.Errorf("renewca at %s: NotBefore %s, want %s", now.Format(time.TimeOnly), renewed.Cert.NotBefore, tc.want)
		}
	}
}
