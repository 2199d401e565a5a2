package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/internal/pgtest"
	storepostgres "github.com/pkid/pkid/plugins/store-postgres"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

// TestScale is make bench-scale's measurement (scripts/bench-scale.sh runs
// it; it is skipped unless PKID_SCALE_N is set): a certstore (SQLite, or
// PostgreSQL with PKID_SCALE_STORE=postgres) bulk-loaded with N
// certificate records through the store's batch interface (PutBatch,
// 1000 per transaction; 10% revoked up to 100,000, 1% expiring within 14
// days), then: sign throughput against that store next to an empty one
// (same run), `pkid certstore list -expiring-within 14d`, OCSP
// pre-signing of the whole set (RefreshOCSP), a full CRL, and the
// database size per certificate. Each figure is printed as a SCALE line.
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PKID_SCALE_N"))
	if n <= 0 {
		t.Skip("PKID_SCALE_N not set (make bench-scale)")
	}
	kind := os.Getenv("PKID_SCALE_STORE")
	if kind == "" {
		kind = "sqlite"
	}
	ctx := context.Background()
	dir := t.TempDir()
	if d := os.Getenv("PKID_SCALE_DIR"); d != "" {
		dir = d
	}
	type scaleStore interface {
		sdk.CertStore
		sdk.BatchPutter
		Close() error
	}
	var (
		open    func(name string) (scaleStore, string)
		sizeOf  func(name string) int64
		dsnFor  = map[string]string{}
		cluster *pgtest.Cluster
	)
	switch kind {
	case "sqlite":
		open = func(name string) (scaleStore, string) {
			path := filepath.Join(dir, name+".db")
			s, err := storesqlite.Open(ctx, storesqlite.Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			return s, fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n}\n", path)
		}
		sizeOf = func(name string) int64 {
			var total int64
			for _, suffix := range []string{".db", ".db-wal", ".db-shm"} {
				if fi, err := os.Stat(filepath.Join(dir, name+suffix)); err == nil {
					total += fi.Size()
				}
			}
			return total
		}
	case "postgres":
		cluster = pgtest.Shared(t)
		open = func(name string) (scaleStore, string) {
			dsn := cluster.NewDatabase(t)
			dsnFor[name] = dsn
			s, err := storepostgres.Open(ctx, storepostgres.Options{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			return s, postgresStore(dsn)
		}
		sizeOf = func(name string) int64 {
			pool, err := pgxpool.New(ctx, dsnFor[name])
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var size int64
			if err := pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
				t.Fatal(err)
			}
			return size
		}
	default:
		t.Fatalf("PKID_SCALE_STORE=%q: sqlite or postgres", kind)
	}
	report := func(format string, args ...any) {
		fmt.Printf("SCALE %s n=%d: %s\n", kind, n, fmt.Sprintf(format, args...))
	}

	// The CA and one real leaf whose DER every record carries (the size a
	// real record has); records differ in serial, names and dates.
	key, err := csr.DefaultKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: &csr.Request{CN: "scale CA", KeyRequest: csr.DefaultKeyRequest()}, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := profile.ParseCFSSL([]byte(`{"signing":{"default":{"usages":["digital signature","key encipherment","server auth"],"expiry":"2160h"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	bodies := signBodies(t, 8)
	aki := hex.EncodeToString(root.Cert.SubjectKeyId)
	sample, err := (func() (*ca.Certificate, error) {
		iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "main", Certificate: root.Cert, Signer: key, Profiles: profiles})
		if err != nil {
			return nil, err
		}
		return iss.Sign(ctx, ca.SignRequest{CSR: []byte(bodies[0]["certificate_request"])})
	})()
	if err != nil {
		t.Fatal(err)
	}

	full, fullCfg := open("full")
	defer full.Close()
	empty, _ := open("empty")
	defer empty.Close()

	// Bulk load.
	const batch = 1000
	revoked := min(n/10, 100_000)
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	recs := make([]*sdk.CertRecord, 0, batch)
	for k := 0; k < n; k++ {
		rec := &sdk.CertRecord{
			Serial: new(big.Int).SetUint64(uint64(1_000_000_000 + k)).String(), AKI: aki, IssuerLabel: "main",
			Subject: fmt.Sprintf("CN=host%d.example.com", k), SANs: []string{fmt.Sprintf("host%d.example.com", k)},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Duration(30+k%60) * 24 * time.Hour),
			Status: sdk.StatusGood, Profile: "server", DER: sample.DER, CreatedAt: now,
		}
		if k%100 == 0 {
			rec.NotAfter = now.Add(7 * 24 * time.Hour) // 1% expiring within 14 days
		}
		if k%10 == 5 && k/10 < revoked {
			rec.Status, rec.RevocationReason, rec.RevokedAt = sdk.StatusRevoked, 1, now.Add(-time.Minute)
		}
		recs = append(recs, rec)
		if len(recs) == batch || k == n-1 {
			per, err := full.PutBatch(ctx, recs)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range per {
				if e != nil {
					t.Fatal(e)
				}
			}
			recs = recs[:0]
		}
		if (k+1)%max(n/20, 1) == 0 {
			fmt.Fprintf(os.Stderr, "bench-scale %s: loaded %d/%d (%.0f records/s)\n", kind, k+1, n, float64(k+1)/time.Since(start).Seconds())
		}
	}
	load := time.Since(start)
	report("bulk load (PutBatch, %d per transaction): %.1f s, %.0f records/s", batch, load.Seconds(), float64(n)/load.Seconds())
	report("database size: %.1f MB, %.0f bytes per certificate (certificate DER %d bytes)", float64(sizeOf("full"))/1e6, float64(sizeOf("full"))/float64(n), len(sample.DER))

	// Sign throughput, 32 concurrent signers, in the same run against the
	// empty store and the full one.
	signRate := func(store sdk.CertStore) float64 {
		iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "main", Certificate: root.Cert, Signer: key, Profiles: profiles, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		const total, workers = 2000, 32
		var next atomic.Int64
		var wg sync.WaitGroup
		s := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := next.Add(1); k <= total; k = next.Add(1) {
					if _, err := iss.Sign(ctx, ca.SignRequest{CSR: []byte(bodies[(w+int(k))%len(bodies)]["certificate_request"])}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return total / time.Since(s).Seconds()
	}
	e1, f1 := signRate(empty), signRate(full)
	e2, f2 := signRate(empty), signRate(full)
	report("sign, 32 concurrent, in process: %.0f certificates/s at n vs %.0f empty = %.2fx", (f1+f2)/2, (e1+e2)/2, (f1+f2)/(e1+e2))

	// certstore list -expiring-within 14d, through the CLI and the plugin.
	cfg := nodeConfig(t, fullCfg)
	start = time.Now()
	var out strings.Builder
	if code := run([]string{"certstore", "main", "list", "-config", cfg, "-expiring-within", "14d"}, &env{stdout: &out, stderr: io.Discard, stdin: strings.NewReader("")}); code != 0 {
		t.Fatalf("certstore list: exit %d", code)
	}
	listed := strings.Count(out.String(), "\n")
	report("pkid certstore list -expiring-within 14d: %d lines in %.2f s", listed, time.Since(start).Seconds())

	// The full CRL.
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "main", Certificate: root.Cert, Signer: key, Profiles: profiles, Store: full})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	info, err := iss.WriteCRL(ctx, io.Discard, ca.CRLRequest{})
	if err != nil {
		t.Fatal(err)
	}
	report("full CRL: %d entries, %.1f MB in %.2f s", info.Entries, float64(info.Bytes)/1e6, time.Since(start).Seconds())

	// OCSP pre-signing of the whole set. PKID_SCALE_OCSP_SECONDS bounds it
	// (10 million responses take hours on two CPUs): the rate is then
	// measured over the part done, listing included, and the whole set's
	// time projected from it.
	octx := ctx
	bound, _ := strconv.Atoi(os.Getenv("PKID_SCALE_OCSP_SECONDS"))
	if bound > 0 {
		var cancel context.CancelFunc
		octx, cancel = context.WithTimeout(ctx, time.Duration(bound)*time.Second)
		defer cancel()
	}
	start = time.Now()
	res, err := iss.RefreshOCSP(octx, ca.RefreshRequest{Progress: func(r ca.RefreshResult) {
		if r.Checked%max(n/10, 1000) == 0 {
			fmt.Fprintf(os.Stderr, "bench-scale %s: OCSP %d checked, %d signed\n", kind, r.Checked, r.Signed)
		}
	}})
	el := time.Since(start)
	switch {
	case err != nil && bound > 0 && octx.Err() != nil && ctx.Err() == nil && res.Signed == 0:
		report("OCSP pre-signing, bounded to %d s: the listing of %d records did not finish", bound, n)
	case err != nil && bound > 0 && octx.Err() != nil && ctx.Err() == nil:
		rate := float64(res.Signed) / el.Seconds()
		report("OCSP pre-signing, bounded to %d s: %d of %d signed = %.0f responses/s (listing included); whole set projected %.1f h", bound, res.Signed, n, rate, float64(n)/rate/3600)
	case err != nil:
		t.Fatal(err)
	default:
		report("OCSP pre-signing: %d signed in %.1f s = %.0f responses/s", res.Signed, el.Seconds(), float64(res.Signed)/el.Seconds())
	}
	report("database size after OCSP: %.1f MB, %.0f bytes per certificate", float64(sizeOf("full"))/1e6, float64(sizeOf("full"))/float64(n))
}
