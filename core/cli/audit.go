package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/pkid/pkid/core/audit"
	"github.com/pkid/pkid/core/authority"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/sdk"
)

func auditVerifyCmd(e *env) *command {
	var cf configFlag
	return &command{
		synopsis: "Verify the audit log's hash chain and signed checkpoints",
		help: `
Usage: pkid audit verify [-config FILE | -log FILE] [-key PUBKEY] [-quiet]

  Reads the audit log (the pkid block's audit_log, or -log; or the chain
  kept in the audit_certstore, where "line" is the record's position in
  the chain) and checks
  that every record matches its hash and follows the one before it, and
  that every checkpoint is signed by the checkpoint key. It names each
  edited, deleted or reordered record by line and seq. Records after the
  last valid checkpoint are reported as an unverified tail: their
  deletion from the end of the log cannot be seen until the next
  checkpoint. A partial last line (a crash during a write) is reported
  but is not tampering.

  -key is the checkpoint public key (PEM). Keep a copy where the daemon
  cannot write and pass it here; without -key the key's .pub beside the
  daemon's checkpoint key is used, with a warning. -log without -key or
  a configuration checks the chain only (a keystore's own audit_file has
  no checkpoints): every record is then unverified tail.

  Exit status: 0 intact, 1 tampered or unreadable, 2 usage.
`,
		run: func(args []string) error {
			fs := newFlags("audit verify")
			cf.register(fs)
			logPath := fs.String("log", "", "audit log `FILE` (instead of -config)")
			keyPath := fs.String("key", "", "checkpoint public key `FILE` (PEM)")
			quiet := fs.Bool("quiet", false, "no progress output")
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			chainOnly := *logPath != "" && *keyPath == "" && len(cf.paths) == 0
			if chainOnly {
				fmt.Fprintln(e.stderr, "pkid: warning: no -key: the chain is checked, checkpoint signatures are not")
			}
			if !chainOnly && (*logPath == "" || *keyPath == "") {
				paths, err := cf.resolve()
				if err != nil {
					return err
				}
				cfg, diags := config.Load(paths...)
				if diags.HasErrors() {
					return printDiags(e, cfg, diags)
				}
				ops := cfg.Pkid.Ops
				if ops.AuditCertStore != "" && *logPath == "" {
					return verifyAuditStore(e, &cf, ops, *keyPath, *quiet)
				}
				if ops.AuditLog == "" && *logPath == "" {
					return usagef("the configuration sets no audit_log in its pkid block; pass -log FILE")
				}
				if *logPath == "" {
					*logPath = ops.AuditLog
				}
				switch k := ops.AuditCheckpointKey; {
				case *keyPath != "":
				case k == "" && ops.AuditLog == "":
					fmt.Fprintln(e.stderr, "pkid: warning: no -key and no audit_log configured: the chain is checked, checkpoint signatures are not")
				default:
					if k == "" {
						k = ops.AuditLog + ".key"
					}
					*keyPath = k + ".pub"
					fmt.Fprintf(e.stderr, "pkid: warning: using the public key beside the daemon's checkpoint key (%s); pass -key with a copy kept elsewhere\n", *keyPath)
				}
			}
			var key ed25519.PublicKey
			if *keyPath != "" {
				var err error
				if key, err = audit.ReadPublicKey(*keyPath); err != nil {
					return err
				}
			}
			return verifyAuditLog(e, *logPath, key, *quiet)
		},
	}
}

// auditProgressEvery is how many records verify reads between progress
// lines (tests lower it).
var auditProgressEvery int64 = 100000

func verifyAuditLog(e *env, path string, key ed25519.PublicKey, quiet bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("audit verify: %s is not a regular file", path)
	}
	opts := audit.VerifyOptions{Key: key, ProgressEvery: auditProgressEvery}
	if !quiet {
		opts.Progress = func(n int64) {
			pos, _ := f.Seek(0, 1) // the reader is ahead by at most its buffer
			fmt.Fprintf(e.stderr, "pkid: audit verify: %d records read (%d%%)\n", n, pos*100/max(fi.Size(), 1))
		}
	}
	rep, err := audit.Verify(context.Background(), f, opts)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if err := printAuditReport(e, rep, path); err != nil {
		return err
	}
	if rep.Records == 0 && len(rep.Problems) == 0 && fi.Size() > 0 {
		return errors.New("audit verify: no records read")
	}
	fmt.Fprintf(e.stdout, "OK: %s\n", path)
	return nil
}

// verifyAuditStore verifies the chain the configuration keeps in its
// audit_certstore, with -key or the public half beside the checkpoint key.
func verifyAuditStore(e *env, cf *configFlag, ops config.Ops, keyPath string, quiet bool) error {
	if keyPath == "" {
		keyPath = ops.AuditCheckpointKey + ".pub"
		fmt.Fprintf(e.stderr, "pkid: warning: using the public key beside the daemon's checkpoint key (%s); pass -key with a copy kept elsewhere\n", keyPath)
	}
	key, err := audit.ReadPublicKey(keyPath)
	if err != nil {
		return err
	}
	s, err := cf.load(e, false)
	if err != nil {
		return err
	}
	defer s.Close()
	ds, ok := s.CertStores[ops.AuditCertStore].(sdk.DocStore)
	if !ok {
		return fmt.Errorf("audit verify: certstore %q keeps no documents, so it holds no audit chain", ops.AuditCertStore)
	}
	opts := audit.VerifyOptions{Key: key, ProgressEvery: auditProgressEvery}
	if !quiet {
		opts.Progress = func(n int64) { fmt.Fprintf(e.stderr, "pkid: audit verify: %d records read\n", n) }
	}
	rep, err := audit.VerifyDocs(context.Background(), ds, audit.DefaultChain, opts)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	name := fmt.Sprintf("certstore %s, chain %s", ops.AuditCertStore, audit.DefaultChain)
	if err := printAuditReport(e, rep, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "OK: %s\n", name)
	return nil
}

// printAuditReport prints the problems and the summary; errSilent when
// the chain was tampered with.
func printAuditReport(e *env, rep *audit.Report, name string) error {
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "%s\n", p)
	}
	if rep.Truncated {
		fmt.Fprintf(e.stdout, "more than %d problems: verification stopped\n", audit.MaxProblems)
	}
	fmt.Fprintf(e.stdout, "%d records, %d valid checkpoints; verified through seq %d; unverified tail: %d records after the last checkpoint\n",
		rep.Records, rep.Checkpoints, rep.VerifiedThrough, rep.Tail)
	if rep.Tampered() {
		fmt.Fprintf(e.stdout, "TAMPERED: %s\n", name)
		return errSilent
	}
	return nil
}

// cliAudit is the audit log of a command that acts without the daemon:
// the configuration's audit_log, appended to under the same file lock as
// the daemon's, or the chain in its audit_certstore. The zero value (no
// audit sink configured) records nothing.
type cliAudit struct {
	l       audit.Sink
	command string
}

// openCLIAudit opens the audit sink of l's configuration for command.
// Errors: the log cannot be opened, or the audit_certstore keeps no
// documents (the command then does nothing, as the daemon would refuse).
func openCLIAudit(l *catalog.Loaded, command string) (*cliAudit, error) {
	a := &cliAudit{command: command}
	if l == nil || l.Config == nil {
		return a, nil
	}
	ops := l.Config.Pkid.Ops
	switch {
	case ops.AuditCertStore != "":
		ds, ok := l.CertStores[ops.AuditCertStore].(sdk.DocStore)
		if !ok {
			return nil, fmt.Errorf("audit_certstore %q keeps no documents, so it cannot hold the audit chain", ops.AuditCertStore)
		}
		dl, err := audit.OpenDocs(ds, audit.DefaultChain, audit.Options{})
		if err != nil {
			return nil, err
		}
		a.l = dl
	case ops.AuditLog != "":
		fl, err := audit.Open(ops.AuditLog, audit.Options{})
		if err != nil {
			return nil, err
		}
		a.l = fl
	}
	return a, nil
}

func (a *cliAudit) by() audit.Requester {
	r := audit.Requester{Endpoint: "cli:" + a.command}
	if u, err := user.Current(); err == nil {
		r.User = u.Username
	}
	return r
}

// revoked records a revocation the command made.
func (a *cliAudit) revoked(res *authority.Revoked) error {
	if a.l == nil || res == nil {
		return nil
	}
	at := res.RevokedAt
	if at.IsZero() {
		at = time.Now().UTC()
	}
	rec := audit.Revocation{Serial: res.Request.Serial, AKI: res.Request.AKI, Reason: res.Request.Reason, Already: res.Already, RevokedAt: at, Requester: a.by()}
	if res.Issuer != nil {
		rec.CA = res.Issuer.Label()
	}
	return a.record(audit.KindRevocation, rec)
}

// record appends one record; its error says the operation is done but
// not audited.
func (a *cliAudit) record(kind string, data any) error {
	if a.l == nil {
		return nil
	}
	if err := a.l.Append(context.Background(), kind, data); err != nil {
		return fmt.Errorf("done, but not recorded in the audit log: %w", err)
	}
	return nil
}

func (a *cliAudit) Close() {
	if a != nil && a.l != nil {
		a.l.Close()
	}
}
