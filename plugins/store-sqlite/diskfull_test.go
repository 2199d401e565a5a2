package storesqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/plugintest"
)

// On a full disk, Put and Revoke fail with the retryable ErrUnavailable
// carrying SQLite's cause, and leave nothing half-written: once space is
// free again the revoked certificate is still good and the refused one
// absent.
func TestDiskFullIsUnavailable(t *testing.T) {
	dir := testtool.SmallDisk(t, 1<<20)
	s := openTest(t, filepath.Join(dir, "certs.db"))
	ctx := context.Background()
	kept := plugintest.NewCertRecord(1, "ab", "i", time.Now())
	if err := s.Put(ctx, kept); err != nil {
		t.Fatal(err)
	}
	free := testtool.FillDisk(t, dir)

	refused := plugintest.NewCertRecord(2, "ab", "i", time.Now())
	for name, err := range map[string]error{
		"put":    s.Put(ctx, refused),
		"revoke": s.Revoke(ctx, sdk.RevokeRequest{Serial: kept.Serial, AKI: kept.AKI, Reason: 1}),
	} {
		if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "disk is full") {
			t.Errorf("%s on a full disk: %v; want ErrUnavailable naming the full disk", name, err)
		}
	}

	free()
	got, err := s.Get(ctx, kept.Serial, kept.AKI)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != sdk.StatusGood {
		t.Errorf("status after the failed revoke = %q; want good", got.Status)
	}
	if _, err := s.Get(ctx, refused.Serial, refused.AKI); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("refused record: %v; want not found", err)
	}
	// The store works again.
	if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: kept.Serial, AKI: kept.AKI, Reason: 1}); err != nil {
		t.Errorf("revoke after freeing space: %v", err)
	}
}
