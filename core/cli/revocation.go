package cli

import (
	"context"
	"fmt"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/revocation"
	"github.com/pkid/pkid/sdk"
)

// afterRevoke re-signs the revoked certificate's OCSP response, so every
// store-backed responder answers "revoked" at once. CRLs follow with the
// daemon's next delta (or full) CRL. Commands call it after each
// revocation.
func afterRevoke(ctx context.Context, set *authority.Set, store sdk.CertStore, rr sdk.RevokeRequest) error {
	iss := set.ByAKI(rr.AKI)
	if iss == nil || iss.Store() == nil {
		return fmt.Errorf("no configured CA with a certstore has authority key id %s: its OCSP response was not re-signed", sdk.NormalizeAKI(rr.AKI))
	}
	return revocation.ResignOCSP(ctx, iss, rr.Serial)
}
