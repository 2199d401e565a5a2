package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/client"
	coredaemon "github.com/pkid/pkid/core/daemon"
	"github.com/pkid/pkid/core/revocation"
	"github.com/pkid/pkid/sdk"
)

// caSession is a loaded pkid configuration with its CAs.
type caSession struct {
	*session
	set *authority.Set
}

// loadCASession loads the pkid HCL -config of cf (or $PKID_CONFIG) and
// builds its CAs. A CFSSL JSON -config and -db-config are refused: the
// revocation commands work on a configured CA and its certstore.
func loadCASession(e *env, cf *compatFlags) (*caSession, error) {
	if cf.dbConfig != "" {
		return nil, errors.New("-db-config goes with -ca and -ca-key (CFSSL's file mode); a pkid -config declares its certstore (type \"cfssl\" reads a CFSSL certdb)")
	}
	if len(cf.config) > 0 && isCFSSLConfigFile(cf.config[0]) {
		return nil, fmt.Errorf("%s is a CFSSL signing configuration: this command needs a pkid HCL -config with ca and certstore blocks", cf.config[0])
	}
	s, err := (&configFlag{paths: cf.config}).load(e, false)
	if err != nil {
		return nil, err
	}
	set, diags := authority.Build(context.Background(), s.Loaded)
	if diags.HasErrors() {
		s.Close()
		return nil, printDiags(e, s.Config, diags)
	}
	return &caSession{session: s, set: set}, nil
}

// storeOf returns the certstore of the CA label, or nil.
func (s *caSession) storeOf(label string) sdk.CertStore {
	if iss := s.set.CAs[label]; iss != nil {
		return iss.Store()
	}
	return nil
}

func revokeCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Revoke certificates in a CA's certificate store",
		help: `
Usage: pkid revoke -config pkid.hcl -serial S (-aki HEX | -label CA) [-reason R]
       pkid revoke -config pkid.hcl -all (-label CA | -aki HEX) [-reason R] [-dry-run]
       pkid revoke -remote URL -serial S (-aki HEX | -label CA) [-reason R]
       pkid revoke -db-config DBCONFIG -serial S -aki HEX [-reason R]

  Marks a certificate revoked (time now) in its CA's certstore, then
  re-signs its stored OCSP response and regenerates the CRLs a daemon
  publishes from state_dir/crl (when there are some, and the CA's
  crl { on_revoke } is not false). The reason is an
  RFC 5280 name (keyCompromise, superseded, ...) or number (0-6, 8-10;
  default 0, unspecified). Revoking again with the same reason succeeds
  and keeps the original time; another reason is an error (except leaving
  certificateHold). The AKI is hex in any case, colons allowed.

  -all revokes every unexpired, not yet revoked certificate of one CA
  (-label) or CA key (-aki): it lists the store in batches of 1000 and
  revokes each batch before listing again, reporting progress on stderr
  (on a terminal, or with -progress: at most two lines a second).
  -dry-run only counts them.

  -remote posts to the server's /api/v1/cfssl/revoke instead
  (-tls-remote-ca, -mutual-tls-client-cert, -mutual-tls-client-key apply);
  with -label and no -aki, the AKI is the subject key identifier of the
  certificate the server's /info gives for that label (so it works with
  CFSSL servers too).

  -db-config marks the certificate revoked in CFSSL's certdb, as cfssl
  revoke does (no CA needed; pkid ocsprefresh -db-config and pkid crl
  -db-config then publish it; docs/cfssl-certdb.md).
`,
		run: func(args []string) error {
			fs := newFlags("revoke")
			serial := fs.String("serial", "", "serial number (decimal)")
			aki := fs.String("aki", "", "authority key identifier (hex)")
			reasonFlag := fs.String("reason", "", "revocation reason: RFC 5280 name or number")
			all := fs.Bool("all", false, "revoke every unexpired certificate of the CA (-label or -aki)")
			dryRun := fs.Bool("dry-run", false, "with -all: only count")
			prog := progressFlag(fs)
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			reason, ok := sdk.ParseReason(*reasonFlag)
			if !ok {
				return fmt.Errorf("invalid reason %q: want an RFC 5280 reason name or a number 0-6 or 8-10", *reasonFlag)
			}
			if cf.dbConfig != "" {
				return revokeDB(e, &cf, *serial, *aki, reason, *all || *dryRun)
			}
			if *all {
				if *serial != "" {
					return errors.New("-all and -serial exclude each other")
				}
				if cf.label == "" && *aki == "" {
					return errors.New("-all needs -label CA or -aki HEX to say whose certificates to revoke")
				}
				if cf.remote != "" {
					return errors.New("-all is not available with -remote")
				}
				return revokeAll(e, &cf, *aki, reason, *dryRun, progressOn(e, *prog))
			}
			if *dryRun {
				return errors.New("-dry-run goes with -all")
			}
			if *serial == "" {
				return errors.New("-serial is required")
			}
			if cf.remote != "" {
				if *aki == "" && cf.label == "" {
					return errors.New("-aki or -label is required")
				}
				return revokeRemote(e, fs, &cf, *serial, *aki, *reasonFlag)
			}
			if cf.label == "" && *aki == "" {
				return errors.New("-aki or -label is required")
			}
			return revokeOne(e, &cf, *serial, *aki, reason)
		},
	}
}

// revokeDB revokes one certificate in the CFSSL certdb of -db-config.
func revokeDB(e *env, cf *compatFlags, serial, aki string, reason int, all bool) error {
	switch {
	case all:
		return errors.New("-all and -dry-run are not available with -db-config")
	case cf.remote != "":
		return errors.New("-db-config and -remote exclude each other")
	case len(cf.config) > 0:
		return errors.New("-db-config and -config exclude each other: a pkid -config declares its certstore")
	case serial == "" || aki == "":
		return errors.New("-db-config needs -serial and -aki")
	}
	store, done, err := openDBConfig(cf.dbConfig, false)
	if err != nil {
		return err
	}
	defer done()
	err = store.Revoke(context.Background(), sdk.RevokeRequest{Serial: serial, AKI: sdk.NormalizeAKI(aki), Reason: reason})
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return fmt.Errorf("no certificate with serial %s and aki %s in the -db-config certdb", serial, sdk.NormalizeAKI(aki))
	case errors.Is(err, sdk.ErrFailedPrecondition):
		return fmt.Errorf("serial %s: %w", serial, err)
	}
	return err
}

// revokeOne revokes one certificate in config mode.
func revokeOne(e *env, cf *compatFlags, serial, aki string, reason int) error {
	s, err := loadCASession(e, cf)
	if err != nil {
		return err
	}
	defer s.Close()
	pub, err := s.revocationPublisher()
	if err != nil {
		return err
	}
	ctx := context.Background()
	a, err := openCLIAudit(s.Loaded, "revoke")
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := s.set.Revoke(ctx, authority.Revocation{Serial: serial, AKI: aki, Label: cf.label, Reason: reason, Store: s.onlyCertStore()}, pub)
	switch {
	case errors.Is(err, authority.ErrPublish):
		fmt.Fprintf(e.stderr, "pkid: warning: %v\n", err)
	case err != nil:
		return s.revokeError(cf.label, err)
	}
	if err := a.revoked(res); err != nil {
		return err
	}
	if res.Already {
		fmt.Fprintf(e.stderr, "pkid: serial %s already revoked (reason %d, at %s)\n", res.Request.Serial, reason, res.RevokedAt.UTC().Format(time.RFC3339))
	}
	if err := pub.RegeneratePublished(ctx); err != nil {
		fmt.Fprintf(e.stderr, "pkid: warning: serial %s revoked, but regenerating the published CRL failed: %v\n", res.Request.Serial, err)
	}
	return nil
}

// revocationPublisher re-signs OCSP responses after each revocation and
// notes whose CRLs a daemon publishes must be regenerated
// (RegeneratePublished).
func (s *caSession) revocationPublisher() (*revocation.Service, error) {
	return revocation.New(revocation.Options{CAs: s.set, Dir: coredaemon.CRLDir(s.Config), Offline: true})
}

// onlyCertStore is the configuration's certstore when it has one only:
// it records certificates of keys no configured CA has.
func (s *caSession) onlyCertStore() sdk.CertStore {
	if len(s.CertStores) == 1 {
		for _, st := range s.CertStores {
			return st
		}
	}
	return nil
}

// revokeError words a scope error for the command line.
func (s *caSession) revokeError(label string, err error) error {
	if errors.Is(err, authority.ErrNoStore) && label == "" {
		return fmt.Errorf("%v; give -label", err)
	}
	return err
}

// revokeBatch is how many serials -all collects before revoking them.
const revokeBatch = 1000

// revokeAll revokes every unexpired good certificate of the scope. SQLite
// stores cannot write inside List's callback, so it lists at most
// revokeBatch good records, revokes them, and lists again (revoked ones no
// longer match) until none is left; memory stays bounded.
func revokeAll(e *env, cf *compatFlags, aki string, reason int, dryRun, showProgress bool) error {
	s, err := loadCASession(e, cf)
	if err != nil {
		return err
	}
	defer s.Close()
	_, scopeAKI, store, err := s.set.RevocationScope(cf.label, aki, s.onlyCertStore())
	if err != nil {
		return s.revokeError(cf.label, err)
	}
	ctx := context.Background()
	// -label: every certificate recorded under the label (whatever key
	// signed it); -aki: those of that key; both: the intersection.
	filter := sdk.ListFilter{IssuerLabel: cf.label, ExpiresAfter: time.Now()}
	if aki != "" {
		filter.AKI = scopeAKI
	}
	already := 0
	rf := filter
	rf.Status = sdk.StatusRevoked
	if err := store.List(ctx, rf, func(*sdk.CertRecord) error { already++; return nil }); err != nil {
		return fmt.Errorf("listing revoked certificates: %w", err)
	}
	gf := filter
	gf.Status = sdk.StatusGood
	n := 0
	if dryRun || showProgress { // the total, for the progress lines
		if err := store.List(ctx, gf, func(*sdk.CertRecord) error { n++; return nil }); err != nil {
			return fmt.Errorf("listing certificates: %w", err)
		}
	}
	if dryRun {
		fmt.Fprintf(e.stderr, "would revoke %d certificates (%d already revoked)\n", n, already)
		return nil
	}
	prog := newProgress(e.stderr, showProgress, "revoke -all", "certificates", int64(n))
	pub, err := s.revocationPublisher()
	if err != nil {
		return err
	}
	a, err := openCLIAudit(s.Loaded, "revoke -all")
	if err != nil {
		return err
	}
	defer a.Close()
	gf.Limit = revokeBatch
	revoked, warnings := 0, 0
	// The published CRLs are regenerated once at the end (also after a
	// failure part way), not per revocation.
	defer func() {
		if err := pub.RegeneratePublished(ctx); err != nil {
			fmt.Fprintf(e.stderr, "pkid: warning: regenerating the published CRLs failed: %v\n", err)
		}
	}()
	prev := map[string]bool{}
	for {
		var batch []*sdk.CertRecord
		err := store.List(ctx, gf, func(r *sdk.CertRecord) error {
			batch = append(batch, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("listing certificates (after revoking %d): %w", revoked, err)
		}
		if len(batch) == 0 {
			break
		}
		if prev[batch[0].Serial+"/"+batch[0].AKI] {
			// A store that still lists them as good would loop forever.
			return fmt.Errorf("the certstore still lists revoked certificates as good (serial %s); stopped after revoking %d", batch[0].Serial, revoked)
		}
		clear(prev)
		for _, r := range batch {
			prev[r.Serial+"/"+r.AKI] = true
		}
		for _, r := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			// The listed record saves Revoke reading it again.
			res, err := s.set.Revoke(ctx, authority.Revocation{Serial: r.Serial, AKI: r.AKI, Reason: reason, Store: store, Record: r}, pub)
			if aerr := a.revoked(res); aerr != nil && err == nil {
				err = fmt.Errorf("serial %s revoked, %w", r.Serial, aerr)
			}
			switch {
			case errors.Is(err, authority.ErrPublish):
				warnings++
				if warnings <= 10 {
					fmt.Fprintf(e.stderr, "pkid: warning: %v\n", err)
				}
			case err != nil:
				return fmt.Errorf("%v (after revoking %d)", err, revoked)
			}
			revoked++
			prog.add(1)
		}
	}
	if warnings > 10 {
		fmt.Fprintf(e.stderr, "pkid: warning: %d OCSP/CRL updates failed in all\n", warnings)
	}
	prog.done(fmt.Sprintf("%d already revoked, %d OCSP/CRL update warnings", already, warnings))
	fmt.Fprintf(e.stderr, "revoked %d certificates (%d already revoked)\n", revoked, already)
	return nil
}

// revokeRemote posts the revocation to the remotes of -remote in order
// (the next one only when a remote cannot be reached).
func revokeRemote(e *env, fs *flag.FlagSet, cf *compatFlags, serial, aki, reason string) error {
	c, err := remoteClient(e, fs, &remoteTarget{remotes: cf.remote})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.DefaultTimeout)
	defer cancel()
	if aki == "" {
		if aki, err = remoteCAKeyID(ctx, c, cf.label); err != nil {
			return err
		}
	}
	return c.Revoke(ctx, client.RevokeRequest{Serial: serial, AKI: aki, Reason: reason})
}

// remoteCAKeyID is the subject key identifier (hex) of the CA certificate
// the remote's info gives for label: what CFSSL's revoke body needs.
func remoteCAKeyID(ctx context.Context, c *client.Client, label string) (string, error) {
	info, err := c.Info(ctx, label, "")
	if err != nil {
		return "", fmt.Errorf("-label %q: %w", label, err)
	}
	cert, err := parseCertificatePEM([]byte(info.Certificate))
	if err != nil {
		return "", fmt.Errorf("-label %q: the remote's CA certificate: %w", label, err)
	}
	if len(cert.SubjectKeyId) == 0 {
		return "", fmt.Errorf("-label %q: the CA certificate has no subject key identifier: give -aki", label)
	}
	return hex.EncodeToString(cert.SubjectKeyId), nil
}

// issuerStore is the CA label's issuer and certstore.
func (s *caSession) issuerStore(label string) (*ca.Issuer, sdk.CertStore, error) {
	iss, err := s.set.Get(label)
	if err != nil {
		return nil, nil, err
	}
	st := s.storeOf(iss.Label())
	if st == nil {
		return nil, nil, fmt.Errorf("CA %q has no certstore", iss.Label())
	}
	return iss, st, nil
}
