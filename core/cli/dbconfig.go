package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pkid/pkid/core/cfsslimport"
	"github.com/pkid/pkid/core/server/responder"
	"github.com/pkid/pkid/sdk"
)

// openDBConfig opens the certdb of a CFSSL db-config file (for reading
// only when readOnly), as a "cfssl" certstore (store-cfssl) in its own plugin process
// like every store; done stops that process. Errors are one line naming
// -db-config and what is wrong (the file, its JSON, the driver, the
// database, CFSSL's tables).
func openDBConfig(path string, readOnly bool) (store sdk.CertStore, done func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("-db-config: %w", err)
	}
	block, err := json.Marshal(map[string]any{"db_config": abs, "driver": nil, "data_source": nil, "read_only": readOnly, "unlabelled_ca": nil, "timeout": nil})
	if err != nil {
		return nil, nil, err
	}
	host := newHost()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := cfsslimport.Open(ctx, host, "db-config", block)
	if err != nil {
		host.Close()
		return nil, nil, fmt.Errorf("-db-config %s: %w", path, err)
	}
	return cs, host.Close, nil
}

// dbResponses answers OCSP requests from the responses stored in a CFSSL
// certdb, found as CFSSL's responder finds them: by serial and the
// request's issuer key hash read as the AKI (so SHA-1 CertIDs of
// certificates whose AKI is the usual SHA-1 key hash). It never signs.
type dbResponses struct{ store sdk.CertStore }

func (d dbResponses) Response(ctx context.Context, req *responder.Request) ([]byte, error) {
	rec, err := d.store.GetOCSP(ctx, req.Serial.String(), hex.EncodeToString(req.KeyHash))
	if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) {
		return nil, fmt.Errorf("serial %s: %w", req.Serial, responder.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return rec.Response, nil
}
