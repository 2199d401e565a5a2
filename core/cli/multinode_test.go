package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/internal/pgtest"
	storepostgres "github.com/pkid/pkid/plugins/store-postgres"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// The tests in this file run pkid as the HA deployment: stateless
// daemons (the real binary) sharing one PostgreSQL certificate store.

// nodeConfig writes a configuration with a file keystore, the given
// certstore block (named main) and one CA, "issuing", with a server
// profile. Every node started on the file reads the same key directory:
// keys are only read at serve time, so sharing it is safe.
func nodeConfig(tb testing.TB, certstore string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "passphrase"), []byte("test passphrase"), 0o600); err != nil {
		tb.Fatal(err)
	}
	body := `
keystore "file" "dev" {
  dir             = "DIR/keys"
  passphrase_file = "DIR/passphrase"
  kdf_work_factor = 10
}
` + certstore + `
ca "issuing" {
  keystore    = keystore.dev
  key         = "issuing"
  certificate = "DIR/ca/issuing.pem"
  certstore   = certstore.main
  profile "server" {
    usages = ["digital signature", "key encipherment", "server auth"]
    expiry = "90d"
  }
}
`
	cfg := filepath.Join(dir, "pkid.hcl")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(body, "DIR", dir)), 0o600); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// postgresStore is a certstore "postgres" "main" block on dsn.
func postgresStore(dsn string) string {
	return fmt.Sprintf("certstore \"postgres\" \"main\" {\n  dsn = %q\n}\n", dsn)
}

// runPkid runs the pkid CLI in process and fails tb on a non-zero exit.
func runPkid(tb testing.TB, args ...string) string {
	tb.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}); code != 0 {
		tb.Fatalf("pkid %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// initIssuing creates the issuing CA's key and certificate (pkid ca init).
func initIssuing(tb testing.TB, cfg string) {
	tb.Helper()
	runPkid(tb, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "pkid HA test CA")
}

// listCount is the number of records `pkid certstore main list` prints.
func listCount(t *testing.T, cfg string) int {
	t.Helper()
	var recs []json.RawMessage
	out := runPkid(t, "certstore", "main", "list", "-config", cfg, "-format", "json")
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("certstore list: %v: %.200q", err, out)
	}
	return len(recs)
}

// signBodies pre-generates n sign requests (distinct keys and names) for
// the server profile; load generators reuse them round robin.
func signBodies(tb testing.TB, n int) []map[string]string {
	tb.Helper()
	bodies := make([]map[string]string, n)
	for i := range bodies {
		name := fmt.Sprintf("node%d.ha.example.com", i)
		req := &csr.Request{CN: name, Hosts: []string{name}}
		key, err := req.KeyRequest.Generate()
		if err != nil {
			tb.Fatal(err)
		}
		csrPEM, err := csr.Generate(req, key)
		if err != nil {
			tb.Fatal(err)
		}
		bodies[i] = map[string]string{"certificate_request": string(csrPEM), "profile": "server"}
	}
	return bodies
}

// resultCert returns the DER certificate of a sign result, or nil when the
// result carries none.
func resultCert(env envelope) (*x509.Certificate, error) {
	var res struct {
		Certificate string `json:"certificate"`
	}
	if len(env.Result) > 0 {
		if err := json.Unmarshal(env.Result, &res); err != nil {
			// An error envelope's result may be null or a non-object.
			return nil, nil
		}
	}
	if res.Certificate == "" {
		return nil, nil
	}
	block, _ := pem.Decode([]byte(res.Certificate))
	if block == nil {
		return nil, fmt.Errorf("result certificate is not PEM: %.80q", res.Certificate)
	}
	return x509.ParseCertificate(block.Bytes)
}

// storedDER reads every record of the database at dsn straight from
// PostgreSQL: serial → DERs stored under it (more than one would be a
// collision across issuers or a duplicate).
func storedDER(t *testing.T, dsn string) map[string][][]byte {
	t.Helper()
	ctx := context.Background()
	store, err := storepostgres.Open(ctx, storepostgres.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored := map[string][][]byte{}
	if err := store.List(ctx, sdk.ListFilter{}, func(r *sdk.CertRecord) error {
		stored[r.Serial] = append(stored[r.Serial], r.DER)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return stored
}

// issued is one certificate a client received.
type issued struct {
	node int
	cert *x509.Certificate
}

// checkStored fails t unless every received certificate is in stored,
// exactly once and byte for byte, and no serial was handed out twice.
func checkStored(t *testing.T, received []issued, stored map[string][][]byte) {
	t.Helper()
	seen := map[string]bool{}
	var dup, missing, twice, differ int
	for _, r := range received {
		serial := r.cert.SerialNumber.String()
		if seen[serial] {
			dup++
		}
		seen[serial] = true
		switch ders := stored[serial]; {
		case len(ders) == 0:
			missing++
		case len(ders) > 1:
			twice++
		case !bytes.Equal(ders[0], r.cert.Raw):
			differ++
		}
	}
	if dup+missing+twice+differ > 0 {
		t.Errorf("of %d received certificates: %d serials handed out twice, %d missing from PostgreSQL, %d stored more than once, %d stored with other bytes",
			len(received), dup, missing, twice, differ)
	}
}

// Two pkid daemons on one PostgreSQL database: 16 clients split across
// both issue 2,000 certificates concurrently; every certificate returned
// is stored exactly once with its bytes, no serial collides, and the
// store's listing (through pkid certstore list) counts exactly the
// returned certificates.
func TestTwoNodesOnePostgres(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	cfg := nodeConfig(t, postgresStore(dsn))
	initIssuing(t, cfg)
	// Whatever ca init records (nothing today) is counted, not assumed.
	before := listCount(t, cfg)

	nodes := []*daemon{
		startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0"),
		startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0"),
	}
	bodies := signBodies(t, 8)
	const clients, total = 16, 2000
	var (
		next     atomic.Int64
		mu       sync.Mutex
		received []issued
		perNode  [2]int
		wg       sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := c % len(nodes)
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				resp, env, err := post(nodes[node].base, "sign", bodies[int(n)%len(bodies)])
				if err != nil || resp.StatusCode != 200 || !env.Success {
					t.Errorf("node %d sign: %v %+v", node, err, env)
					return
				}
				cert, err := resultCert(env)
				if err != nil || cert == nil {
					t.Errorf("node %d sign: no certificate (%v): %s", node, err, env.Result)
					return
				}
				mu.Lock()
				received = append(received, issued{node, cert})
				perNode[node]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d certificates through 2 nodes (%d + %d) by %d clients in %v: %.0f/s",
		len(received), perNode[0], perNode[1], clients, elapsed.Round(time.Millisecond), float64(len(received))/elapsed.Seconds())
	if t.Failed() {
		t.FailNow()
	}
	if len(received) != total || perNode[0] == 0 || perNode[1] == 0 {
		t.Fatalf("received %d certificates (%d + %d per node), want %d through both", len(received), perNode[0], perNode[1], total)
	}

	stored := storedDER(t, dsn)
	checkStored(t, received, stored)
	if len(stored) != before+total {
		t.Errorf("PostgreSQL holds %d serials; want %d before + %d issued", len(stored), before, total)
	}
	if got := listCount(t, cfg); got != before+total {
		t.Errorf("pkid certstore main list: %d records; want %d before + %d issued", got, before, total)
	}

	// A revocation through one node: the other node's OCSP responder says
	// revoked at once (the re-signed response is in the shared store), and
	// its delta CRL (same CRL directory) lists it.
	victim := received[0].cert
	resp, env, err := post(nodes[0].base, "revoke", map[string]string{"serial": victim.SerialNumber.String(), "authority_key_id": hex.EncodeToString(victim.AuthorityKeyId), "reason": "cessationOfOperation"})
	if err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("revoke on node 0: %v %+v", err, env)
	}
	caCerts, err := authority.ReadCertificates(filepath.Join(filepath.Dir(cfg), "ca", "issuing.pem"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponseForCert(ocspGET(t, nodes[1].base+"/ocsp", victim, caCerts[0], crypto.SHA1), victim, caCerts[0])
	if err != nil || r.Status != ocsp.Revoked || r.RevocationReason != ocsp.CessationOfOperation {
		t.Fatalf("node 1 OCSP after revocation on node 0: %v %+v", err, r)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		delta, err := x509.ParseRevocationList(httpGet(t, nodes[1].base+"/crl/issuing-delta.crl"))
		if err != nil || delta.CheckSignatureFrom(caCerts[0]) != nil {
			t.Fatalf("node 1 delta CRL: %v", err)
		}
		if listed(delta, victim) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 1's delta CRL does not list the certificate revoked on node 0")
		}
	}
}

// signOutcome is one sign request of TestPostgresRestartUnderLoad.
type signOutcome struct {
	start, end time.Time
	status     int
	codes      []int
	cert       *x509.Certificate
	err        error
}

// PostgreSQL restarts in the middle of a load on one daemon: while it is
// down, sign fails fast with 503/11000 and no certificate; once it is back
// the same pkid process issues again; no client ever received a
// certificate that is not in the database afterwards.
func TestPostgresRestartUnderLoad(t *testing.T) {
	cluster := pgtest.New(t)
	dsn := cluster.NewDatabase(t)
	cfg := nodeConfig(t, postgresStore(dsn))
	initIssuing(t, cfg)
	d := startDaemon(t, "serve", "-config", cfg, "-listen", "127.0.0.1:0")
	bodies := signBodies(t, 4)

	var (
		mu       sync.Mutex
		outcomes []signOutcome
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	// successesSince counts 200s among requests started at or after t0.
	successesSince := func(t0 time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if o.status == 200 && !o.start.Before(t0) {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, t0 time.Time, n int) {
		deadline := time.Now().Add(20 * time.Second)
		for successesSince(t0) < n {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("%s: fewer than %d certificates within 20s", what, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := c; !stop.Load(); n++ {
				o := signOutcome{start: time.Now()}
				resp, env, err := post(d.base, "sign", bodies[n%len(bodies)])
				o.end, o.err = time.Now(), err
				if err == nil {
					o.status = resp.StatusCode
					for _, e := range env.Errors {
						o.codes = append(o.codes, e.Code)
					}
					o.cert, o.err = resultCert(env)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		}()
	}

	loadStart := time.Now()
	waitFor("before the restart", loadStart, 200)
	stopping := time.Now()
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(2 * time.Second)
	// The server accepts connections a little before pg_ctl start returns:
	// the outage is from Stop's return to Start's call.
	starting := time.Now()
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	waitFor("after the restart", up, 200)
	stop.Store(true)
	wg.Wait()

	var (
		received                       []issued
		ok, unavailable, other, errs   int
		downOK, down503                int
		maxDown503                     time.Duration
		firstOKAfterStart              time.Duration = -1
		unavailableWithCert, otherCode int
	)
	for _, o := range outcomes {
		inOutage := !o.start.Before(down) && o.end.Before(starting)
		switch {
		case o.err != nil:
			errs++
			t.Errorf("request at %v: %v", o.start.Sub(loadStart).Round(time.Millisecond), o.err)
		case o.status == 200:
			if o.cert == nil {
				t.Errorf("200 without a certificate")
				continue
			}
			ok++
			received = append(received, issued{0, o.cert})
			if inOutage {
				downOK++
			}
			if !o.start.Before(starting) && (firstOKAfterStart < 0 || o.end.Sub(starting) < firstOKAfterStart) {
				firstOKAfterStart = o.end.Sub(starting)
			}
		case o.status == 503:
			unavailable++
			if o.cert != nil {
				unavailableWithCert++
			}
			if len(o.codes) != 1 || o.codes[0] != ca.CodeStoreUnavailable {
				otherCode++
				t.Logf("503 with codes %v", o.codes)
			}
			if inOutage {
				down503++
				maxDown503 = max(maxDown503, o.end.Sub(o.start))
			}
		default:
			other++
			t.Errorf("status %d codes %v", o.status, o.codes)
		}
	}
	t.Logf("%d requests: %d certificates, %d × 503 (%d while PostgreSQL was down, slowest %v), %d other statuses, %d transport errors",
		len(outcomes), ok, unavailable, down503, maxDown503.Round(time.Millisecond), other, errs)
	t.Logf("stop took %v, outage %v, start took %v; first certificate %v after starting; load ran %v",
		down.Sub(stopping).Round(time.Millisecond), starting.Sub(down).Round(time.Millisecond), up.Sub(starting).Round(time.Millisecond),
		firstOKAfterStart.Round(time.Millisecond), time.Since(loadStart).Round(time.Millisecond))

	if down503 == 0 {
		t.Errorf("no 503 while PostgreSQL was down")
	}
	if otherCode > 0 {
		t.Errorf("%d of %d 503 responses do not carry exactly code %d", otherCode, unavailable, ca.CodeStoreUnavailable)
	}
	if unavailableWithCert > 0 {
		t.Errorf("%d 503 responses carry a certificate", unavailableWithCert)
	}
	if downOK > 0 {
		t.Errorf("%d certificates issued while PostgreSQL was down", downOK)
	}
	// Failing fast: a 503 comes within the connect timeout, not after a
	// client-side timeout.
	if limit := storepostgres.DefaultConnectTimeout + time.Second; maxDown503 > limit {
		t.Errorf("slowest 503 during the outage took %v; want under %v", maxDown503, limit)
	}
	checkStored(t, received, storedDER(t, dsn))
}
