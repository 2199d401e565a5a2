// Package cfsslimport copies a CFSSL certdb (its `certificates` and
// `ocsp_responses` tables, SQLite or PostgreSQL) into a pkid certstore. The
// source is read through the builtin "cfssl" certstore (store-cfssl),
// opened read-only and run out of process like every plugin, so the core
// needs no database driver. Importing is idempotent: importing again adds
// what is new and changes nothing else.
package cfsslimport

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// Stats counts what an import did.
type Stats struct {
	Certificates, Revoked, OCSP int
	// Skipped records could not be imported (a certificate that does not
	// parse or match its row, a conflict in the destination); each is
	// reported on the progress writer.
	Skipped int
}

// StoreType is the builtin certstore type that reads CFSSL's certdb.
const StoreType = "cfssl"

// Block returns the "cfssl" certstore block (as the JSON its plugin
// decodes) for a source: "sqlite:PATH" or a path to an SQLite file,
// "postgres://..." (or postgresql://) DSNs, or a CFSSL db-config JSON file
// ({"driver": ..., "data_source": ...}). Paths are made absolute, since the
// plugin process resolves them on its own.
func Block(from string, readOnly bool) (json.RawMessage, error) {
	block := map[string]any{"db_config": nil, "driver": nil, "data_source": nil, "read_only": readOnly, "unlabelled_ca": nil, "timeout": nil}
	switch {
	case strings.HasPrefix(from, "postgres://"), strings.HasPrefix(from, "postgresql://"):
		block["driver"], block["data_source"] = "postgres", from
	case strings.HasPrefix(from, "sqlite:"):
		p, err := filepath.Abs(strings.TrimPrefix(from, "sqlite:"))
		if err != nil {
			return nil, err
		}
		block["driver"], block["data_source"] = "sqlite3", p
	case strings.HasSuffix(from, ".json"):
		p, err := filepath.Abs(from)
		if err != nil {
			return nil, err
		}
		block["db_config"] = p
	default:
		if _, err := os.Stat(from); err != nil {
			return nil, fmt.Errorf("source %q: want sqlite:PATH, postgres://... or a db-config .json file", from)
		}
		p, err := filepath.Abs(from)
		if err != nil {
			return nil, err
		}
		block["driver"], block["data_source"] = "sqlite3", p
	}
	return json.Marshal(block)
}

// Open starts (or reuses) host's process of the builtin "cfssl" certstore
// and opens an instance named name on block (see Block). Configuration
// problems come back as one-line errors naming the attribute.
func Open(ctx context.Context, host *pluginhost.Host, name string, block json.RawMessage) (sdk.CertStore, error) {
	newPlugin, ok := catalog.LookupBuiltin(sdk.KindCertStore, StoreType)
	if !ok {
		return nil, errors.New("the cfssl certstore is not built into this binary")
	}
	inst, err := host.Open(ctx, pluginhost.OpenRequest{
		Spec: pluginhost.Spec{Kind: sdk.KindCertStore, Type: StoreType, New: newPlugin},
		Name: name, Config: block,
	})
	var de *sdk.DiagnosticsError
	if errors.As(err, &de) {
		var msgs []string
		for _, d := range de.Diagnostics {
			msgs = append(msgs, d.Detail)
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if err != nil {
		return nil, err
	}
	cs, ok := inst.(sdk.CertStore)
	if !ok {
		inst.Close()
		return nil, fmt.Errorf("the cfssl plugin's instance %T is not a certstore", inst)
	}
	return cs, nil
}

// OpenSource opens the CFSSL certdb from names (see Block) read-only.
func OpenSource(ctx context.Context, host *pluginhost.Host, from string) (sdk.CertStore, error) {
	block, err := Block(from, true)
	if err != nil {
		return nil, err
	}
	cs, err := Open(ctx, host, "cfssl-import-source", block)
	if err != nil {
		return nil, fmt.Errorf("CFSSL certdb %s: %w", from, err)
	}
	return cs, nil
}

// Options tune Import.
type Options struct {
	// IssuerLabel, when set, returns the label of the pkid CA whose key
	// has the subject key identifier aki, or "" when none has. A record
	// of such a CA is imported under that label whatever CFSSL's ca_label
	// says (often empty), so the CA's CRL and OCSP runs include it.
	IssuerLabel func(aki string) string
}

// Import copies every certificate of src, with its OCSP response when
// there is one, into dst. progress gets one line per skipped record. A
// response stored under a key no certificate has is not imported (it could
// not be served: pkid finds responses by the certificate's issuer and
// serial). Errors: reading src fails (the import stops; what was copied
// stays), or ctx ends.
func Import(ctx context.Context, src, dst sdk.CertStore, progress io.Writer, opts Options) (Stats, error) {
	var st Stats
	err := src.List(ctx, sdk.ListFilter{}, func(rec *sdk.CertRecord) error {
		if opts.IssuerLabel != nil {
			if l := opts.IssuerLabel(sdk.NormalizeAKI(rec.AKI)); l != "" {
				rec.IssuerLabel = l
			}
		}
		if err := importCert(ctx, dst, rec, &st); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			st.Skipped++
			fmt.Fprintf(progress, "skipped certificate serial %s: %v\n", rec.Serial, err)
			return nil
		}
		o, err := src.GetOCSP(ctx, rec.Serial, rec.AKI)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("reading the OCSP response of serial %s: %w", rec.Serial, err)
		}
		if err := dst.PutOCSP(ctx, o); err != nil {
			st.Skipped++
			fmt.Fprintf(progress, "skipped OCSP response for serial %s: %v\n", rec.Serial, err)
			return nil
		}
		st.OCSP++
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("cfssl import: %w", err)
	}
	return st, nil
}

func importCert(ctx context.Context, dst sdk.CertStore, rec *sdk.CertRecord, st *Stats) error {
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return err
	}
	if cert.SerialNumber.String() != rec.Serial {
		return fmt.Errorf("row serial %s does not match the certificate's %s", rec.Serial, cert.SerialNumber)
	}
	// Put as good, then revoke: a certificate imported before CFSSL
	// revoked it gets its revocation on the next import.
	good := *rec
	good.Status, good.RevocationReason, good.RevokedAt = sdk.StatusGood, 0, time.Time{}
	if err := dst.Put(ctx, &good); err != nil {
		return err
	}
	st.Certificates++
	if rec.Status == sdk.StatusRevoked {
		if err := dst.Revoke(ctx, sdk.RevokeRequest{Serial: rec.Serial, AKI: rec.AKI, Reason: rec.RevocationReason, RevokedAt: rec.RevokedAt}); err != nil {
			return fmt.Errorf("revoking: %w", err)
		}
		st.Revoked++
	}
	return nil
}
