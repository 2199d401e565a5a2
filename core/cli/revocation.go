package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/revocation"
	"github.com/pkid/pkid/sdk"
)

// afterRevoke re-signs the revoked certificate's OCSP response, so every
// store-backed responder answers "revoked" at once. Commands call it after
// each revocation, and refreshPublishedCRLs once after all of them.
func afterRevoke(ctx context.Context, set *authority.Set, store sdk.CertStore, rr sdk.RevokeRequest) error {
	iss := set.ByAKI(rr.AKI)
	if iss == nil || iss.Store() == nil {
		return fmt.Errorf("no configured CA with a certstore has authority key id %s: its OCSP response was not re-signed", sdk.NormalizeAKI(rr.AKI))
	}
	return revocation.ResignOCSP(ctx, iss, rr.Serial)
}

// refreshPublishedCRLs regenerates, after offline revocations, the full
// CRL (and its delta) of each CA of labels that a daemon publishes from
// crlDir: a daemon serves those files until their nextUpdate, so without
// this a revocation made by `pkid revoke` would reach relying parties only
// at the daemon's next scheduled CRL. CAs with on_revoke = false, and CRLs
// that were never published (the daemon generates them when first asked),
// are left alone. The daemon may regenerate at the same time: files are
// renamed into place whole, so readers see one CRL or the other.
func refreshPublishedCRLs(ctx context.Context, cfg *config.Config, set *authority.Set, labels map[string]bool) error {
	dir := crlDir(cfg)
	var todo []string
	for label := range labels {
		if blk := set.Blocks[label]; blk != nil && blk.CRL != nil && !blk.CRL.OnRevoke {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, label+".crl.json")); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		todo = append(todo, label)
	}
	if len(todo) == 0 {
		return nil
	}
	sort.Strings(todo)
	svc, err := revocation.New(revocation.Options{CAs: set, Dir: dir})
	if err != nil {
		return err
	}
	var errs []error
	for _, label := range todo {
		if _, err := svc.GenerateFull(ctx, label); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, label+"-delta.crl.json")); err == nil {
			if _, err := svc.GenerateDelta(ctx, label); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
