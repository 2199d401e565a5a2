package pluginhost_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// testPluginType is a plugin compiled into this test binary only. The host
// runs it like a builtin: in process, or by re-executing the binary as
// `plugin serve KIND pkidtest`, which TestMain serves (the trust and
// scancheck builtins live in other packages; these tests are about the
// host's side of the kinds).
const testPluginType = "pkidtest"

// testPlugin provides a trust source over one PEM file, watched by polling
// it, and a scancheck with a TLS dial check.
type testPlugin struct{}

func (testPlugin) Info() sdk.Info {
	return sdk.Info{Name: testPluginType, Version: "0.0.1", Kinds: []string{sdk.KindTrust, sdk.KindScanCheck}}
}
func (testPlugin) Schema(string) *sdk.Schema                                  { return sdk.NewSchema() }
func (testPlugin) ValidateConfig(context.Context, sdk.Config) sdk.Diagnostics { return nil }

type testPluginConfig struct {
	File        string `json:"file"`         // trust: the PEM file
	WatchBreaks bool   `json:"watch_breaks"` // trust: every watch ends at once
	MarkerDir   string `json:"marker_dir"`   // scancheck: where the blocking check reports its end
}

func (testPlugin) Configure(_ context.Context, cfg sdk.Config) (sdk.Instance, error) {
	var c testPluginConfig
	if err := json.Unmarshal(cfg.JSON, &c); err != nil {
		return nil, fmt.Errorf("pkidtest: %w", sdk.ErrInvalidArgument)
	}
	if cfg.Kind == sdk.KindTrust {
		return &fileTrust{path: c.File, watchBreaks: c.WatchBreaks}, nil
	}
	return &dialCheck{markerDir: c.MarkerDir}, nil
}

type fileTrust struct {
	path        string
	watchBreaks bool
}

func (*fileTrust) Close() error { return nil }

func (f *fileTrust) Certificates(ctx context.Context, fn func(*sdk.TrustCert) error) error {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("pkidtest: %v: %w", err, sdk.ErrUnavailable)
	}
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("pkidtest: %v: %w", err, sdk.ErrUnavailable)
		}
		if err := fn(&sdk.TrustCert{DER: blk.Bytes, Root: bytes.Equal(c.RawIssuer, c.RawSubject), Source: f.path}); err != nil {
			return err
		}
	}
}

func (*fileTrust) Platforms(context.Context) ([]sdk.Platform, error) { return nil, nil }

// Watch polls the file's size and modification time.
func (f *fileTrust) Watch(ctx context.Context) (<-chan struct{}, error) {
	stamp := func() string {
		fi, err := os.Stat(f.path)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
	}
	ch := make(chan struct{})
	if f.watchBreaks {
		close(ch) // breaks the Trust contract, as a buggy source would
		return ch, nil
	}
	last := stamp()
	go func() {
		defer close(ch)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if s := stamp(); s != last {
				last = s
				select {
				case ch <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch, nil
}

type dialCheck struct{ markerDir string }

func (*dialCheck) Close() error { return nil }

func (*dialCheck) Families(context.Context) ([]sdk.ScanFamily, error) {
	return []sdk.ScanFamily{{Name: "connectivity", Checks: []sdk.ScanCheckInfo{{Name: "tls-dial", Description: "a TLS handshake succeeds"}}}}, nil
}

// blockCheck is a check Families does not list (the kit would wait on
// it): it makes one finding, waits for its context and records the end.
const blockCheck = "block"

func (d *dialCheck) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	host, port, err := net.SplitHostPort(req.Host)
	if err != nil {
		host, port = req.Host, "443"
	}
	if p, perr := strconv.Atoi(port); host == "" || perr != nil || p < 1 || p > 65535 || bytes.ContainsAny([]byte(host), " /") {
		return fmt.Errorf("target %q: %w", req.Host, sdk.ErrInvalidArgument)
	}
	if req.IP != "" && net.ParseIP(req.IP) == nil {
		return fmt.Errorf("ip %q: %w", req.IP, sdk.ErrInvalidArgument)
	}
	f := sdk.Finding{Family: req.Family, Check: req.Check, Grade: sdk.GradeGood}
	switch {
	case req.Family == "connectivity" && req.Check == blockCheck:
		if err := fn(&f); err != nil {
			return err
		}
		<-ctx.Done()
		_ = os.WriteFile(filepath.Join(d.markerDir, "block-ended"), []byte(ctx.Err().Error()), 0o600)
		return ctx.Err()
	case req.Family != "connectivity" || req.Check != "tls-dial":
		return fmt.Errorf("no check %s/%s: %w", req.Family, req.Check, sdk.ErrNotFound)
	}
	addr := req.Host
	if req.IP != "" {
		addr = net.JoinHostPort(req.IP, port)
	}
	conn, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", addr)
	if err != nil {
		f.Grade, f.Reason = sdk.GradeBad, err.Error()
	} else {
		conn.Close()
	}
	return fn(&f)
}

// testCA makes a CA certificate, self-signed when parent is nil.
func testCA(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// appendPEM appends certs to the PEM file at path, replacing the file in
// one rename so that the plugin's watcher never sees half a write.
func appendPEM(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
