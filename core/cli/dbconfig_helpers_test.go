package cli

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"testing"

	storecfssl "github.com/pkid/pkid/plugins/store-cfssl"
	"github.com/pkid/pkid/sdk"
)

// insertCFSSLRow records c in the SQLite certdb at path with CFSSL's empty
// ca_label, as cfssl sign without -label does.
func insertCFSSLRow(t *testing.T, path string, c *x509.Certificate) {
	t.Helper()
	ctx := context.Background()
	s, err := storecfssl.Open(ctx, storecfssl.Options{DBConfig: storecfssl.DBConfig{Driver: storecfssl.DriverSQLite, DataSource: path}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := &sdk.CertRecord{Serial: c.SerialNumber.String(), AKI: hex.EncodeToString(c.AuthorityKeyId), Subject: c.Subject.String(),
		SANs: c.DNSNames, NotBefore: c.NotBefore, NotAfter: c.NotAfter, DER: c.Raw}
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
}
