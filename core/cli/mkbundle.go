package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/pkid/pkid/core/aia"
	"github.com/pkid/pkid/core/egress"
)

// Bounds of mkbundle's work on what it reads and fetches.
const (
	mkbundleMaxFile  = 64 << 20 // one input file
	mkbundleMaxCRL   = 32 << 20 // one CRL
	mkbundleMaxOCSP  = 64 << 10 // one OCSP response
	mkbundleMaxFiles = 100000
)

func mkbundleCmd(e *env) *command {
	return &command{
		synopsis: "Build a certificate pool file from directories of certificates (CFSSL's mkbundle)",
		help: `
Usage: pkid mkbundle [-f OUT] [-nw N] [-strict] [-timeout D] PATH...

  Reads every certificate (PEM or DER) in the files and directory trees
  given, and writes to OUT (default cert-bundle.crt) as PEM, sorted by
  subject and serial, the ones worth offering a bundler. It drops, saying
  why on stderr:
    - certificates outside their validity period (expired, not yet valid);
    - revoked ones: each CRL distribution point and OCSP responder is
      asked (N concurrent workers, default 4; a progress bar on stderr on
      a terminal or with -progress, redrawn at most twice a second);
    - self-inconsistent ones: a validity period ending before it starts, a
      self-signature that does not verify, a CA without keyCertSign;
    - duplicates (silently).
  A certificate whose revocation could not be checked (responder down, no
  issuer found) is kept with a warning; -strict drops it, as CFSSL does.
  Issuers are looked up among the inputs, then through AIA.
`,
		run: func(args []string) error {
			fs := newFlags("mkbundle")
			out := fs.String("f", "cert-bundle.crt", "output file")
			nw := fs.Int("nw", 4, "number of concurrent revocation workers")
			strict := fs.Bool("strict", false, "drop certificates whose revocation could not be checked")
			timeout := fs.Duration("timeout", 10*time.Second, "time limit of each network request")
			fs.Int("loglevel", 1, "accepted for CFSSL compatibility")
			prog := progressFlag(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() == 0 {
				return usagef("give at least one file or directory")
			}
			if *nw < 1 || *nw > 256 {
				return usagef("-nw must be from 1 to 256, not %d", *nw)
			}
			if *timeout <= 0 {
				return usagef("-timeout must be positive")
			}
			m := &mkbundler{
				workers: *nw, strict: *strict, timeout: *timeout, now: time.Now(),
				policy: egress.Unrestricted(), stderr: e.stderr, progress: progressOn(e, *prog), redraw: isTerminal(e.stderr),
			}
			return m.run(context.Background(), fs.Args(), *out)
		},
	}
}

// isTerminal reports whether w is a terminal: the progress bar redraws
// itself there and is printed once, at the end, elsewhere.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// mkbundler holds one mkbundle run.
type mkbundler struct {
	workers  int
	strict   bool
	timeout  time.Duration
	now      time.Time
	policy   *egress.Policy
	stderr   io.Writer
	progress bool // show the bar while checking (a terminal, or -progress)
	redraw   bool // stderr is a terminal: redraw the bar in place
	lastBar  time.Time

	outMu   sync.Mutex // serialises stderr lines and the bar
	crls    sync.Map   // URL -> *crlEntry, one fetch per URL
	issuers sync.Map   // AIA URL -> *aiaEntry
	pool    []*x509.Certificate
}

// candidate is one certificate read, with the file it came from.
type candidate struct {
	cert *x509.Certificate
	file string
}

// verdict is what the checks decided.
type verdict struct {
	drop string // non-empty: why the certificate is dropped
	warn string // non-empty: kept, but something could not be checked
}

func (m *mkbundler) run(ctx context.Context, paths []string, out string) error {
	cands, err := m.collect(paths)
	if err != nil {
		return err
	}
	for _, c := range cands {
		m.pool = append(m.pool, c.cert)
	}
	verdicts := make([]verdict, len(cands))
	var done atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(m.workers, max(len(cands), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				verdicts[i] = m.check(ctx, cands[i].cert)
				m.report(cands[i], verdicts[i])
				m.bar(int(done.Add(1)), len(cands), false)
			}
		}()
	}
	for i := range cands {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	m.bar(len(cands), len(cands), true)

	var keep []*x509.Certificate
	for i, v := range verdicts {
		if v.drop == "" {
			keep = append(keep, cands[i].cert)
		}
	}
	sort.SliceStable(keep, func(i, j int) bool {
		si, sj := keep[i].Subject.String(), keep[j].Subject.String()
		if si != sj {
			return si < sj
		}
		return keep[i].SerialNumber.Cmp(keep[j].SerialNumber) < 0
	})
	var buf bytes.Buffer
	for _, c := range keep {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := writeFileAtomic(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("mkbundle: %w", err)
	}
	fmt.Fprintf(m.stderr, "mkbundle: wrote %d certificates to %s (%d dropped)\n", len(keep), out, len(cands)-len(keep))
	return nil
}

// collect walks the paths and reads every certificate once. Unreadable
// files and content that is not a certificate are reported, not fatal
// (CFSSL goes on too); a path that does not exist is an error.
func (m *mkbundler) collect(paths []string) ([]candidate, error) {
	var out []candidate
	seen := map[string]bool{}
	files := 0
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if files++; files > mkbundleMaxFiles {
				return fmt.Errorf("more than %d files", mkbundleMaxFiles)
			}
			certs, err := readCertificates(path)
			if err != nil {
				m.linef("mkbundle: skipped %s: %v", path, err)
				return nil
			}
			for _, c := range certs {
				if seen[string(c.Raw)] {
					continue
				}
				seen[string(c.Raw)] = true
				out = append(out, candidate{cert: c, file: path})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("mkbundle: %w", err)
		}
	}
	return out, nil
}

// readCertificates reads the certificates of a PEM (any number, other
// blocks ignored) or DER file. A PEM certificate that does not parse is
// an error naming its position.
func readCertificates(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, mkbundleMaxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > mkbundleMaxFile {
		return nil, fmt.Errorf("larger than %d MiB", mkbundleMaxFile>>20)
	}
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		certs, err := x509.ParseCertificates(b)
		if err != nil || len(certs) == 0 {
			return nil, errors.New("no certificate (neither PEM nor DER)")
		}
		return certs, nil
	}
	var out []*x509.Certificate
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		n++
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return out, fmt.Errorf("certificate %d does not parse: %w", n, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// linef prints one line on stderr, clearing the progress bar first.
func (m *mkbundler) linef(format string, a ...any) {
	m.outMu.Lock()
	defer m.outMu.Unlock()
	if m.redraw {
		fmt.Fprint(m.stderr, "\r\033[K")
	}
	fmt.Fprintf(m.stderr, format+"\n", a...)
}

func (m *mkbundler) report(c candidate, v verdict) {
	switch {
	case v.drop != "":
		m.linef("mkbundle: dropped %s (%s): %s", c.cert.Subject, c.file, v.drop)
	case v.warn != "":
		m.linef("mkbundle: warning: kept %s (%s): %s", c.cert.Subject, c.file, v.warn)
	}
}

// bar draws "checked 12/140 [====      ]": redrawn in place on a terminal,
// as lines with -progress elsewhere, at most two a second; once at the
// end always.
func (m *mkbundler) bar(done, total int, final bool) {
	if !m.progress && !final {
		return
	}
	if !final {
		m.outMu.Lock()
		due := time.Since(m.lastBar) >= progressInterval
		if due {
			m.lastBar = time.Now()
		}
		m.outMu.Unlock()
		if !due {
			return
		}
	}
	const width = 30
	fill := width
	if total > 0 {
		fill = done * width / total
	}
	m.outMu.Lock()
	defer m.outMu.Unlock()
	line := fmt.Sprintf("checked %d/%d [%s%s]", done, total, strings.Repeat("=", fill), strings.Repeat(" ", width-fill))
	if m.redraw {
		fmt.Fprint(m.stderr, "\r\033[K"+line)
		if final {
			fmt.Fprintln(m.stderr)
		}
		return
	}
	fmt.Fprintln(m.stderr, line)
}

// check decides about one certificate: validity, self-consistency, then
// revocation (not for self-signed certificates: nothing above them can
// revoke them).
func (m *mkbundler) check(ctx context.Context, c *x509.Certificate) verdict {
	switch {
	case c.NotAfter.Before(c.NotBefore):
		return verdict{drop: "validity period ends before it begins"}
	case !m.now.Before(c.NotAfter):
		return verdict{drop: "expired " + c.NotAfter.UTC().Format(time.RFC3339)}
	case m.now.Before(c.NotBefore):
		return verdict{drop: "not valid until " + c.NotBefore.UTC().Format(time.RFC3339)}
	case c.IsCA && c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
		return verdict{drop: "a CA certificate whose key usage lacks keyCertSign"}
	}
	if selfIssued(c) {
		if err := c.CheckSignatureFrom(c); err == nil {
			return verdict{}
		} else if len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			return verdict{drop: "self-signature does not verify: " + err.Error()}
		}
		// Self-issued by another key (a key rollover): checked as any other.
	}
	issuer, ierr := m.issuer(ctx, c)
	var incomplete []string
	for _, u := range c.CRLDistributionPoints {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			continue // LDAP and others: CFSSL skips them too
		}
		if issuer == nil {
			incomplete = append(incomplete, fmt.Sprintf("CRL %s: no issuer to verify it (%v)", u, ierr))
			continue
		}
		revoked, err := m.crlRevoked(ctx, u, c, issuer)
		if err != nil {
			incomplete = append(incomplete, fmt.Sprintf("CRL %s: %v", u, err))
			continue
		}
		if revoked {
			return verdict{drop: "revoked (CRL " + u + ")"}
		}
	}
	if len(c.OCSPServer) > 0 {
		if issuer == nil {
			incomplete = append(incomplete, fmt.Sprintf("OCSP: no issuer (%v)", ierr))
		} else {
			revoked, err := m.ocspRevoked(ctx, c, issuer)
			switch {
			case err != nil:
				incomplete = append(incomplete, "OCSP: "+err.Error())
			case revoked:
				return verdict{drop: "revoked (OCSP)"}
			}
		}
	}
	if len(incomplete) > 0 {
		msg := "revocation check incomplete: " + strings.Join(incomplete, "; ")
		if m.strict {
			return verdict{drop: msg}
		}
		return verdict{warn: msg}
	}
	return verdict{}
}

func selfIssued(c *x509.Certificate) bool { return bytes.Equal(c.RawIssuer, c.RawSubject) }

// issuer finds c's issuer among the inputs, else at its AIA URLs.
func (m *mkbundler) issuer(ctx context.Context, c *x509.Certificate) (*x509.Certificate, error) {
	for _, p := range m.pool {
		if p != c && bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return p, nil
		}
	}
	var last error = errors.New("not among the inputs and no AIA caIssuers URL")
	for _, u := range c.IssuingCertificateURL {
		certs, err := m.fetchIssuer(ctx, u)
		if err != nil {
			last = err
			continue
		}
		for _, p := range certs {
			if c.CheckSignatureFrom(p) == nil {
				return p, nil
			}
		}
		last = fmt.Errorf("%s: not the issuer", u)
	}
	return nil, last
}

// fetchIssuer fetches (once per URL: many certificates name the same
// issuer) the certificates at an AIA URL.
func (m *mkbundler) fetchIssuer(ctx context.Context, u string) ([]*x509.Certificate, error) {
	v, _ := m.issuers.LoadOrStore(u, &aiaEntry{})
	ent := v.(*aiaEntry)
	ent.once.Do(func() {
		f := &aia.Fetcher{Policy: m.policy, Timeout: m.timeout}
		ent.certs, ent.err = f.Fetch(ctx, u)
	})
	return ent.certs, ent.err
}

// aiaEntry is one AIA URL's fetch, shared by the workers.
type aiaEntry struct {
	once  sync.Once
	certs []*x509.Certificate
	err   error
}

// crlEntry is one CRL URL's fetch, shared by the workers.
type crlEntry struct {
	once sync.Once
	crl  *x509.RevocationList
	err  error
}

// crlRevoked fetches (once per URL) the CRL at u, checks its signature
// and freshness against issuer and looks c up.
func (m *mkbundler) crlRevoked(ctx context.Context, u string, c, issuer *x509.Certificate) (bool, error) {
	v, _ := m.crls.LoadOrStore(u, &crlEntry{})
	ent := v.(*crlEntry)
	ent.once.Do(func() {
		b, err := m.get(ctx, u, mkbundleMaxCRL)
		if err != nil {
			ent.err = err
			return
		}
		if blk, _ := pem.Decode(b); blk != nil && blk.Type == "X509 CRL" {
			b = blk.Bytes
		}
		ent.crl, ent.err = x509.ParseRevocationList(b)
	})
	if ent.err != nil {
		return false, ent.err
	}
	crl := ent.crl
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return false, fmt.Errorf("signature: %w", err)
	}
	if !crl.NextUpdate.IsZero() && m.now.After(crl.NextUpdate) {
		return false, fmt.Errorf("stale since %s", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, r := range crl.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
			return true, nil
		}
	}
	return false, nil
}

// ocspRevoked asks c's responders in turn; the first good or revoked
// answer decides.
func (m *mkbundler) ocspRevoked(ctx context.Context, c, issuer *x509.Certificate) (bool, error) {
	req, err := ocsp.CreateRequest(c, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return false, err
	}
	var last error
	for _, u := range c.OCSPServer {
		b, err := m.post(ctx, u, req)
		if err != nil {
			last = err
			continue
		}
		resp, err := ocsp.ParseResponseForCert(b, c, issuer)
		if err != nil {
			last = fmt.Errorf("%s: %w", u, err)
			continue
		}
		switch resp.Status {
		case ocsp.Good:
			return false, nil
		case ocsp.Revoked:
			return true, nil
		default:
			last = fmt.Errorf("%s: status unknown", u)
		}
	}
	return false, last
}

func (m *mkbundler) client() *http.Client {
	return &http.Client{Transport: m.policy.Transport(), Timeout: m.timeout}
}

func (m *mkbundler) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return m.do(req, limit)
}

func (m *mkbundler) post(ctx context.Context, u string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	return m.do(req, mkbundleMaxOCSP)
}

func (m *mkbundler) do(req *http.Request, limit int64) ([]byte, error) {
	resp, err := m.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", req.URL.Redacted(), resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", req.URL.Redacted(), limit)
	}
	return b, nil
}
