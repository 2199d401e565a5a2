package keystoresplit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/pkid/pkid/sdk"
)

const commonFlags = `
  -dir STATE_DIR     the keystore's state_dir; or -keystore NAME (with
                     -config), or nothing when one split keystore is configured`

// Commands lists the plugin's commands.
func (*plugin) Commands() []sdk.Command {
	return []sdk.Command{
		{Kind: sdk.KindKeyStore, Name: "ceremony", Synopsis: "generate a key and split it among custodians",
			Help: `pkid keystore split ceremony -key K -m M -custodians NAME=age1...,NAME=passphrase,NAME=pkcs11-token:...,... [-algorithm ALG]
  Generates the key inside the plugin, splits its data key M-of-N and seals
  each share to its custodian (passphrases are read from stdin, one line
  each, in the order of -custodians). Prints the public key and the record
  of who holds which share, signed by the key. No share is printed.
  -cert FILE -cn CN [-days 3650] [-pathlen N] also writes a self-signed CA
  certificate of the key, made before it is split (a root's certificate,
  for the ca block that serves it).` + commonFlags},
		{Kind: sdk.KindKeyStore, Name: "delegate", Synopsis: "hand your share to the running keystore for a time and a number of signatures",
			Help: `pkid keystore split delegate -key K -custodian NAME -for 2h -uses 10 [-purpose TEXT] [-identity FILE]
  Decrypts NAME's share locally (with the age identity FILE, the
  passphrase read from stdin, or on NAME's PKCS#11 token) and seals it to
  the ephemeral key of the keystore process now running the state
  directory, which picks it up from its inbox. Waits (-wait, default 10s)
  for it to be accepted.
  A token custodian adds -pkcs11-module PATH [-token-label LABEL] and the
  PIN: -pin-file FILE, $` + pinEnv + `, or a line on stdin (-pin PIN
  exists, but puts the PIN in the process list).` + commonFlags},
		{Kind: sdk.KindKeyStore, Name: "token-recipient", Synopsis: "print the recipient of a custodian key on a PKCS#11 token (optionally generating it)",
			Help: `pkid keystore split token-recipient -pkcs11-module PATH -token-label LABEL [-key-label pkid-custodian | -key-id HEX] [-generate [-curve P-256]]
  Prints the token recipient (pkcs11-token:...) of the EC key pair
  labelled -key-label (or with CKA_ID -key-id) on the token, for
  -custodians NAME=pkcs11-token:...
  With -generate it first makes that key pair on the token (sensitive,
  not extractable, for ECDH only), which needs the user PIN: -pin-file
  FILE, $` + pinEnv + ` or a line on stdin. Shares are sealed with ECDH
  (P-256 or P-384) to the public key; delegate unseals them on the token.`},
		{Kind: sdk.KindKeyStore, Name: "list", Synopsis: "list live delegations and recently refused files", Help: "pkid keystore split list" + commonFlags},
		{Kind: sdk.KindKeyStore, Name: "revoke", Synopsis: "end delegations at once",
			Help: "pkid keystore split revoke (-delegation ID | -key K [-custodian NAME])" + commonFlags},
		{Kind: sdk.KindKeyStore, Name: "rotate", Synopsis: "re-split a key to a new custodian set inside the running keystore",
			Help: `pkid keystore split rotate -key K -m M -custodians NAME=age1...,NAME=passphrase,NAME=pkcs11-token:...,...
  The running keystore re-splits the key while M delegations are live,
  without the key leaving it; the old delegations end and the new
  custodians delegate afresh. Passphrases are read from stdin as for
  ceremony.` + commonFlags},
	}
}

// usageErr marks a bad invocation (exit 2).
type usageErr struct{ error }

func (u usageErr) Unwrap() error { return sdk.ErrInvalidArgument }

func usagef(format string, a ...any) error { return usageErr{fmt.Errorf(format, a...)} }

// RunCommand runs one command. Errors wrap sdk.ErrInvalidArgument for a
// bad invocation; the returned code is 2 then, else 1 on failure.
func (p *plugin) RunCommand(ctx context.Context, req sdk.CommandRequest) (int, error) {
	fs := flag.NewFlagSet(req.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "state directory")
	inst := fs.String("keystore", "", "configured split keystore instance")
	var run func() error
	switch req.Name {
	case "ceremony":
		key := fs.String("key", "", "key id")
		m := fs.Int("m", 0, "threshold")
		cs := fs.String("custodians", "", "custodians")
		alg := fs.String("algorithm", sdk.AlgECDSAP256, "algorithm")
		wf := fs.Int("work-factor", 18, "scrypt work factor for passphrase custodians")
		certFile := fs.String("cert", "", "write a self-signed CA certificate of the new key to FILE")
		cn := fs.String("cn", "", "the self-signed certificate's common name")
		days := fs.Int("days", 3650, "the self-signed certificate's validity in days")
		pathLen := fs.Int("pathlen", -1, "the self-signed certificate's path length constraint (-1: none)")
		run = func() error {
			return p.ceremony(ceremonyRequest{Cmd: req, Dir: *dir, Instance: *inst, Key: *key, Algorithm: *alg,
				Threshold: *m, Custodians: *cs, WorkFactor: *wf,
				Root: rootCertRequest{File: *certFile, CN: *cn, Days: *days, PathLen: *pathLen}})
		}
	case "delegate":
		key := fs.String("key", "", "key id")
		who := fs.String("custodian", "", "custodian")
		dur := fs.Duration("for", time.Hour, "duration")
		uses := fs.Int("uses", 1, "uses")
		purpose := fs.String("purpose", "none given", "why, recorded in the audit log")
		idFile := fs.String("identity", "", "age identity file")
		wait := fs.Duration("wait", 10*time.Second, "wait")
		tf := tokenFlags(fs)
		run = func() error {
			d, err := p.stateDir(*dir, *inst, true)
			if err != nil {
				return err
			}
			if *key == "" || *who == "" {
				return usagef("delegate needs -key and -custodian")
			}
			if err := checkDelegation(*key, *who, *purpose, *dur, *uses); err != nil {
				return err
			}
			ids, done, err := custodianIdentities(d, *key, *who, *idFile, tf, req.Stdin)
			if err != nil {
				return err
			}
			defer done()
			pub, err := readPublished(d)
			if err != nil {
				return err
			}
			id, err := delegate(delegateRequest{StateDir: d, Key: *key, Custodian: *who, Purpose: *purpose,
				For: *dur, Uses: *uses, Identities: ids})
			if err != nil {
				return err
			}
			fmt.Fprintf(req.Stdout, "Delegation %s: custodian %s, key %s, %d uses until %s, sealed to the keystore process %d (started %s).\n",
				id, *who, *key, *uses, time.Now().Add(*dur).UTC().Format(time.RFC3339), pub.PID, pub.Started.Format(time.RFC3339))
			return waitResult(ctx, d, id, *wait, req.Stdout)
		}
	case "token-recipient":
		tf := tokenFlags(fs)
		keyLabel := fs.String("key-label", "pkid-custodian", "the key's CKA_LABEL on the token")
		keyID := fs.String("key-id", "", "the key's CKA_ID in hex, instead of -key-label")
		generate := fs.Bool("generate", false, "generate the key pair on the token")
		curve := fs.String("curve", "P-256", "curve of a generated key: P-256 or P-384")
		run = func() error {
			if *tf.module == "" || *tf.label == "" {
				return usagef("token-recipient needs -pkcs11-module PATH and -token-label LABEL")
			}
			if !validTokenText(*keyLabel, 128) || *keyLabel == "" {
				return usagef("-key-label must be 1 to 128 printable characters")
			}
			if _, err := tokenCurve(*curve); err != nil {
				return usagef("-curve: %v", err)
			}
			id, err := hex.DecodeString(*keyID)
			if err != nil || len(id) > 64 {
				return usagef("-key-id must be at most 64 bytes in hex")
			}
			tr := tokenRequest{Module: *tf.module, Token: *tf.label, KeyLabel: *keyLabel, KeyID: id, Generate: *generate, Curve: *curve}
			var stdin func() (string, error)
			if *generate {
				stdin = func() (string, error) { return readLine(bufio.NewReader(req.Stdin)) }
			}
			pin, err := tokenPIN(*tf.pinFile, *tf.pin, os.Getenv, stdin)
			if err != nil && (*generate || *tf.pinFile != "") {
				return err
			}
			tr.PIN = pin
			rec, err := tokenRecipientFor(tr)
			if err != nil {
				return err
			}
			fmt.Fprintln(req.Stdout, rec.String())
			fmt.Fprintf(req.Stderr, "Token %q (serial %s), key %q (id %s), %s, SHA-256 fingerprint %s.\n",
				rec.Token, rec.Serial, rec.KeyLabel, rec.KeyID, rec.Curve, rec.fingerprint())
			return nil
		}
	case "list":
		run = func() error {
			d, err := p.stateDir(*dir, *inst, false)
			if err != nil {
				return err
			}
			return list(d, req.Stdout)
		}
	case "revoke":
		del := fs.String("delegation", "", "delegation id")
		key := fs.String("key", "", "key id")
		who := fs.String("custodian", "", "custodian")
		wait := fs.Duration("wait", 10*time.Second, "wait")
		run = func() error {
			d, err := p.stateDir(*dir, *inst, true)
			if err != nil {
				return err
			}
			if (*del == "") == (*key == "") {
				return usagef("revoke needs -delegation ID or -key K")
			}
			r := revocation{Version: fileVersion, ID: newToken(), Delegation: *del, Key: *key, Custodian: *who}
			b, _ := json.Marshal(r)
			if _, err := parseRevocation(b); err != nil {
				return usagef("revoke: %v", err)
			}
			if err := writeFile(filepath.Join(d, inboxDir), r.ID+suffixRevocation, b, 0o600, true); err != nil {
				return err
			}
			return waitResult(ctx, d, r.ID, *wait, req.Stdout)
		}
	case "rotate":
		key := fs.String("key", "", "key id")
		m := fs.Int("m", 0, "threshold")
		cs := fs.String("custodians", "", "custodians")
		wf := fs.Int("work-factor", 18, "scrypt work factor")
		wait := fs.Duration("wait", 30*time.Second, "wait")
		run = func() error {
			d, err := p.stateDir(*dir, *inst, true)
			if err != nil {
				return err
			}
			specs, err := custodiansWithPassphrases(*cs, *m, req.Stdin)
			if err != nil {
				return err
			}
			if !validID(*key) {
				return usagef("rotate needs -key K")
			}
			pub, err := readPublished(d)
			if err != nil {
				return err
			}
			r := rotation{Version: fileVersion, ID: newToken(), Session: pub.Session, Key: *key,
				Threshold: *m, Custodians: specs, WorkFactor: *wf}
			sealed, err := sealTo(pub.Recipient, r)
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(d, inboxDir), r.ID+suffixRotation, sealed, 0o600, true); err != nil {
				return err
			}
			return waitResult(ctx, d, r.ID, *wait, req.Stdout)
		}
	default:
		return 2, usagef("no command %q", req.Name)
	}
	if err := fs.Parse(req.Args); err != nil {
		return 2, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return 2, usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := run(); err != nil {
		if errors.Is(err, sdk.ErrInvalidArgument) {
			return 2, err
		}
		return 1, err
	}
	return 0, nil
}

// stateDir resolves the state directory a command works on. With running,
// the directory must be run by a keystore process other than this one.
func (p *plugin) stateDir(dir, inst string, running bool) (string, error) {
	p.mu.Lock()
	var s *store
	switch {
	case dir != "":
	case inst != "":
		if s = p.instances[inst]; s == nil {
			p.mu.Unlock()
			return "", usagef("no split keystore %q is configured", inst)
		}
	case len(p.instances) == 1:
		for _, v := range p.instances {
			s = v
		}
	default:
		p.mu.Unlock()
		return "", usagef("name the keystore: -dir STATE_DIR, or -keystore NAME with -config FILE")
	}
	p.mu.Unlock()
	if s != nil {
		dir = s.cfg.StateDir
		if running && s.lock != nil {
			return "", fmt.Errorf("no keystore process is running on %s (this command's own process took it): start pkid first", dir)
		}
		return dir, nil
	}
	if running {
		f, held, err := tryLock(dir)
		if err != nil {
			return "", fmt.Errorf("state directory %s: %w", dir, err)
		}
		if !held {
			f.Close()
			return "", fmt.Errorf("no keystore process is running on %s: start pkid first", dir)
		}
	}
	return dir, nil
}

// identities reads an age identity file, or a passphrase from stdin.
func identities(file string, stdin io.Reader) ([]age.Identity, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		ids, err := age.ParseIdentities(io.LimitReader(f, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("identity file %s: no age identity in it", file)
		}
		return ids, nil
	}
	pass, err := readLine(bufio.NewReader(stdin))
	if err != nil || pass == "" {
		return nil, usagef("give -identity FILE, or the passphrase on stdin")
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	return []age.Identity{id}, nil
}

func readLine(r *bufio.Reader) (string, error) {
	if r == nil {
		return "", io.EOF
	}
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// custodiansWithPassphrases parses -custodians and reads one passphrase
// line from stdin per passphrase custodian.
func custodiansWithPassphrases(cs string, m int, stdin io.Reader) ([]custodianSpec, error) {
	specs, err := parseCustodians(cs)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if err := checkSplit(m, specs); err != nil {
		return nil, usagef("%v", err)
	}
	var br *bufio.Reader
	if stdin != nil {
		br = bufio.NewReader(stdin)
	}
	for i := range specs {
		if specs[i].Kind != kindPassphrase {
			continue
		}
		pass, err := readLine(br)
		if err != nil || pass == "" {
			return nil, usagef("custodian %q: no passphrase line on stdin", specs[i].Name)
		}
		specs[i].Passphrase = pass
	}
	return specs, nil
}

// ceremonyRequest is one `ceremony` invocation.
type ceremonyRequest struct {
	Cmd           sdk.CommandRequest
	Dir, Instance string // where: -dir, or -keystore / the only instance
	Key           string
	Algorithm     string
	Threshold     int
	Custodians    string // NAME=age1...,NAME=passphrase
	WorkFactor    int
	Root          rootCertRequest
}

// ceremony generates a key inside this process and writes its split key
// file. What it prints is public.
func (p *plugin) ceremony(cr ceremonyRequest) error {
	req, key, alg, m, wf, inst := cr.Cmd, cr.Key, cr.Algorithm, cr.Threshold, cr.WorkFactor, cr.Instance
	d, err := p.stateDir(cr.Dir, cr.Instance, false)
	if err != nil {
		return err
	}
	if !validID(key) {
		return usagef("ceremony needs -key K (%s)", idPattern)
	}
	if !supportedAlgorithm(alg) {
		return usagef("unsupported algorithm %q", alg)
	}
	if wf < 10 || wf > 22 {
		return usagef("-work-factor must be from 10 to 22")
	}
	if err := cr.Root.check(); err != nil {
		return err
	}
	specs, err := custodiansWithPassphrases(cr.Custodians, m, req.Stdin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(d, keysDir), 0o700); err != nil {
		return err
	}
	signer, err := sdk.GenerateKey(alg)
	if err != nil {
		return err
	}
	defer wipe(signer)
	// The self-signed certificate is made while the key is whole, before
	// it is split: afterwards it would take M custodians and a running
	// keystore, and a root's certificate must exist before pkid serves it.
	var certDER []byte
	if cr.Root.File != "" {
		if certDER, err = cr.Root.selfSign(signer); err != nil {
			return err
		}
	}
	kf, err := splitKey(splitRequest{ID: key, Algorithm: alg, Signer: signer, CreatedAt: time.Now(),
		Generation: 1, Threshold: m, Custodians: specs, WorkFactor: wf})
	for i := range specs {
		specs[i].Passphrase = ""
	}
	if err != nil {
		return err
	}
	if err := writeKeyFile(d, kf, true); err != nil {
		if errors.Is(err, errExists) {
			return fmt.Errorf("key %q already exists in %s", key, d)
		}
		return err
	}
	detail := fmt.Sprintf("%s, %d of %d", alg, m, len(specs))
	if certDER != nil {
		sum := sha256.Sum256(certDER)
		if err := writeNew(cr.Root.File, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})); err != nil {
			return fmt.Errorf("key %q is split, but its certificate was not written: %w", key, err)
		}
		detail += fmt.Sprintf(", self-signed certificate %s sha256 %x", cr.Root.File, sum)
		fmt.Fprintf(req.Stderr, "Wrote the self-signed certificate %s (CN %q, SHA-256 %x).\n", cr.Root.File, cr.Root.CN, sum)
	}
	if a, err := p.openAuditor(p.auditPath(d, inst)); err == nil {
		var names []string
		for _, c := range specs {
			names = append(names, c.Name)
		}
		a.Record(AuditEvent{Time: time.Now().UTC(), Event: EventCeremony, Keystore: inst, Key: key, Custodians: names,
			Detail: detail})
		a.Close()
	}
	der, _ := x509.MarshalPKIXPublicKey(signer.Public())
	pem.Encode(req.Stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
	rec, _ := json.MarshalIndent(struct {
		Record    record `json:"record"`
		Signature []byte `json:"signature"`
	}{kf.Record, kf.Signature}, "", "  ")
	fmt.Fprintf(req.Stdout, "%s\n", rec)
	return nil
}

// openAuditor opens the auditor of an audit file outside a running
// instance (a ceremony).
func (p *plugin) openAuditor(path string) (Auditor, error) {
	if p.openAudit == nil {
		return openJSONLines(path)
	}
	return p.openAudit(path)
}

func (p *plugin) auditPath(dir, inst string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.instances[inst]; s != nil {
		return s.cfg.AuditFile
	}
	if p.auditName != "" {
		return filepath.Join(dir, p.auditName)
	}
	return filepath.Join(dir, auditFile)
}

// delegateRequest is one custodian's delegation.
type delegateRequest struct {
	StateDir, Key, Custodian, Purpose string
	For                               time.Duration
	Uses                              int
	Identities                        []age.Identity
}

// delegate opens the custodian's share and drops it, sealed to the
// running keystore's ephemeral key, into the inbox. It returns the
// delegation id.
func delegate(req delegateRequest) (string, error) {
	if err := checkDelegation(req.Key, req.Custodian, req.Purpose, req.For, req.Uses); err != nil {
		return "", err
	}
	kf, err := readKeyFile(req.StateDir, req.Key)
	if err != nil {
		return "", err
	}
	share, err := kf.openShare(req.Custodian, req.Identities...)
	if err != nil {
		return "", err
	}
	defer clear(share)
	pub, err := readPublished(req.StateDir)
	if err != nil {
		return "", err
	}
	if err := syscall.Kill(pub.PID, 0); errors.Is(err, syscall.ESRCH) {
		return "", fmt.Errorf("the process that published the ephemeral key in %s (pid %d) is gone: start pkid first", req.StateDir, pub.PID)
	}
	now := time.Now().UTC()
	d := delegation{Version: fileVersion, ID: newToken(), Session: pub.Session, Key: req.Key,
		Generation: kf.Record.Generation, Custodian: req.Custodian, Purpose: req.Purpose,
		IssuedAt: now, NotAfter: now.Add(req.For), Uses: req.Uses, Share: share}
	sealed, err := sealTo(pub.Recipient, d)
	if err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(req.StateDir, inboxDir), d.ID+suffixDelegation, sealed, 0o600, true); err != nil {
		return "", fmt.Errorf("writing the delegation: %w", err)
	}
	return d.ID, nil
}

func readPublished(dir string) (*published, error) {
	data, err := readLimited(filepath.Join(dir, ephemeralFile), 4096)
	if err != nil {
		return nil, fmt.Errorf("no running keystore published its ephemeral key in %s: %w", dir, err)
	}
	var p published
	if err := json.Unmarshal(data, &p); err != nil || !validToken(p.Session) {
		return nil, fmt.Errorf("%s in %s is malformed", ephemeralFile, dir)
	}
	return &p, nil
}

func readStatus(dir string) (*statusDoc, error) {
	data, err := readLimited(filepath.Join(dir, statusFile), maxFileSize)
	if err != nil {
		return nil, err
	}
	var st statusDoc
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s is malformed", statusFile)
	}
	return &st, nil
}

// waitResult waits until the running keystore reports on request id.
func waitResult(ctx context.Context, dir, id string, wait time.Duration, w io.Writer) error {
	deadline := time.Now().Add(wait)
	for {
		if st, err := readStatus(dir); err == nil {
			if res, ok := st.Results[id]; ok {
				if strings.HasPrefix(res, "refused") {
					return fmt.Errorf("the keystore %s", res)
				}
				fmt.Fprintf(w, "The keystore (pid %d) %s it.\n", st.PID, res)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the keystore has not read %s within %s (is it running? `pkid keystore split list` shows its state)", id, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func list(dir string, w io.Writer) error {
	st, err := readStatus(dir)
	if err != nil {
		return fmt.Errorf("no running keystore reports in %s: %w", dir, err)
	}
	fmt.Fprintf(w, "Keystore process %d (updated %s)\n\n", st.PID, st.Updated.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tGENERATION\tLIVE\tNEEDED\tSTATE")
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range st.Keys {
			if !yield(k) {
				return
			}
		}
	}) {
		ks := st.Keys[k]
		state := "locked"
		if ks.Unlocked {
			state = "unlocked"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", k, ks.Generation, ks.Live, ks.Threshold, state)
	}
	fmt.Fprintln(tw, "\nDELEGATION\tKEY\tCUSTODIAN\tUSES LEFT\tEXPIRES\tPURPOSE")
	for _, d := range st.Delegations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Key, d.Custodian, d.UsesLeft, d.NotAfter.Format(time.RFC3339), d.Purpose)
	}
	tw.Flush()
	if len(st.Refused) > 0 {
		fmt.Fprintln(w, "\nRecently refused:")
		for _, r := range st.Refused {
			fmt.Fprintf(w, "  %s %s: %s\n", r.Time.Format(time.RFC3339), r.File, r.Reason)
		}
	}
	return nil
}

// checkDelegation checks delegate's arguments. Errors wrap
// sdk.ErrInvalidArgument.
func checkDelegation(key, custodian, purpose string, dur time.Duration, uses int) error {
	if !validID(key) || !validName(custodian) {
		return usagef("invalid key or custodian name")
	}
	if dur <= 0 || uses < 1 || uses > maxUses || !validPurpose(purpose) {
		return usagef("-for must be positive, -uses from 1 to %d, -purpose 1 to %d printable characters", maxUses, maxPurpose)
	}
	return nil
}

// readKeyFile reads and verifies keys/<key>.split.json of dir.
func readKeyFile(dir, key string) (*keyFile, error) {
	data, err := readLimited(filepath.Join(dir, keysDir, key+keySuffix), maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	kf, _, err := parseKeyFile(data, key)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	return kf, nil
}

// tokenOpts are the flags naming a custodian's token.
type tokenOpts struct {
	module, label, pin, pinFile *string
}

func tokenFlags(fs *flag.FlagSet) tokenOpts {
	return tokenOpts{
		module:  fs.String("pkcs11-module", "", "the PKCS#11 library of the custodian's token"),
		label:   fs.String("token-label", "", "the token's label"),
		pin:     fs.String("pin", "", "the token's user PIN (prefer -pin-file or $"+pinEnv+")"),
		pinFile: fs.String("pin-file", "", "a file holding the token's user PIN"),
	}
}

// custodianIdentities returns what opens custodian's share of key: their
// token (a pkcs11 custodian), else their age identity file or passphrase.
// done releases the token.
func custodianIdentities(dir, key, custodian, idFile string, tf tokenOpts, stdin io.Reader) (ids []age.Identity, done func(), err error) {
	done = func() {}
	kf, err := readKeyFile(dir, key)
	if err != nil {
		return nil, done, err
	}
	c, ok := kf.custodian(custodian)
	if !ok || c.Kind != kindPKCS11 {
		if *tf.module != "" {
			return nil, done, usagef("custodian %q does not hold their share of key %q on a token: leave out -pkcs11-module", custodian, key)
		}
		ids, err := identities(idFile, stdin)
		return ids, done, err
	}
	if idFile != "" {
		return nil, done, usagef("custodian %q holds their share of key %q on a PKCS#11 token: give -pkcs11-module (and the PIN), not -identity", custodian, key)
	}
	if *tf.module == "" {
		return nil, done, usagef("custodian %q holds their share of key %q on a PKCS#11 token: give -pkcs11-module PATH", custodian, key)
	}
	want, err := parseTokenRecipient(c.Recipient)
	if err != nil {
		return nil, done, fmt.Errorf("custodian %q: %w", custodian, err)
	}
	label := *tf.label
	if label == "" {
		label = want.Token
	}
	pin, err := tokenPIN(*tf.pinFile, *tf.pin, os.Getenv, func() (string, error) { return readLine(bufio.NewReader(stdin)) })
	if err != nil {
		return nil, done, err
	}
	id, closeTok, err := openTokenIdentity(tokenRequest{Module: *tf.module, Token: label, PIN: pin}, want, custodian)
	if err != nil {
		return nil, done, err
	}
	return []age.Identity{id}, closeTok, nil
}
