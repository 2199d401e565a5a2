package keystoresplit

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/pkid/pkid/sdk"
)

// keyState is one key and what this process holds for it.
type keyState struct {
	file *keyFile
	info sdk.KeyInfo
	dels map[string]*delegation // live delegations by id
	// signer is the rebuilt key while enough delegations are live.
	signer crypto.Signer
}

// store is a configured instance; it implements sdk.KeyStore and
// sdk.KeyImporter.
//
// Exactly one process runs a state directory: the one holding its flock
// (active). It publishes the ephemeral key, reads the inbox and can sign.
// Another process configuring the same directory (a CLI run while the
// daemon serves) is passive: it lists keys but never signs.
type store struct {
	name string
	cfg  *config

	mu      sync.Mutex // guards everything below; Sign holds it
	closed  bool
	keys    map[string]*keyState
	lock    *os.File // nil when passive
	eph     *age.X25519Identity
	session string
	seen    map[string]bool // delegation and request ids of this run
	refused []refusal
	// statusDirty: use counts changed since status.json was written.
	statusDirty bool
	results     map[string]string // outcomes by delegation or request id
	order       []string          // results' ids, oldest first (bounded)
	audit       Auditor
	// customAudit replaces the JSON-lines log when set (plugin.audit).
	customAudit Auditor
	openAudit   OpenAuditor // opens cfg.AuditFile; nil: JSON lines

	inboxMod  time.Time // inbox mtime at the last scan
	lastScan  time.Time
	keysMod   time.Time
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// refusal is an inbox file the keystore did not accept.
type refusal struct {
	Time   time.Time `json:"time"`
	File   string    `json:"file"`
	ID     string    `json:"id,omitempty"`
	Reason string    `json:"reason"`
}

var _ interface {
	sdk.KeyStore
	sdk.KeyImporter
} = (*store)(nil)

var errClosed = fmt.Errorf("keystore-split: keystore is closed: %w", sdk.ErrFailedPrecondition)

// open prepares the state directory, loads the keys and, if no other
// process runs the directory, becomes its active process.
func open(ctx context.Context, name string, cfg *config, audit Auditor, openAudit OpenAuditor) (*store, error) {
	for _, d := range []string{cfg.StateDir, filepath.Join(cfg.StateDir, keysDir), filepath.Join(cfg.StateDir, inboxDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("keystore-split: creating %s: %w", d, err)
		}
	}
	s := &store{name: name, cfg: cfg, seen: map[string]bool{}, results: map[string]string{}, openAudit: openAudit}
	keys, err := s.loadKeys(ctx, true)
	if err != nil {
		return nil, err
	}
	s.keys, s.customAudit = keys, audit
	if err := s.activate(audit); err != nil {
		return nil, err
	}
	return s, nil
}

// activate makes s the process running the state directory if no other
// process does: it takes the lock, opens the audit log, publishes a new
// ephemeral key and starts the watcher. It returns nil, leaving s passive,
// when another process holds the lock. A passive instance tries again on
// each Sign, so a daemon that started while a CLI run held the directory
// takes it over once that run ends. Called without s.mu, or from Sign
// with it held (then s.stop is nil and the watcher is started after).
func (s *store) activate(audit Auditor) error {
	cfg := s.cfg
	lf, held, err := tryLock(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("keystore-split: locking %s: %w", cfg.StateDir, err)
	}
	if held {
		return nil
	}
	if audit == nil {
		open := s.openAudit
		if open == nil {
			open = func(path string) (Auditor, error) { return openJSONLines(path) }
		}
		if audit, err = open(cfg.AuditFile); err != nil {
			lf.Close()
			return fmt.Errorf("keystore-split: %w", err)
		}
	}
	s.lock, s.audit = lf, audit
	if s.eph, err = age.GenerateX25519Identity(); err != nil {
		s.release()
		return err
	}
	s.session = newToken()
	pub, _ := json.MarshalIndent(published{Version: fileVersion, Recipient: s.eph.Recipient().String(),
		Session: s.session, PID: os.Getpid(), Started: time.Now().UTC()}, "", "  ")
	if err := writeFile(cfg.StateDir, ephemeralFile, append(pub, '\n'), 0o644, false); err != nil {
		s.release()
		return fmt.Errorf("keystore-split: publishing the ephemeral key: %w", err)
	}
	// Files left from an earlier run were sealed to its key: refuse them
	// now, with reasons, rather than on the first signature.
	s.scanInbox()
	s.writeStatus()
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.watch()
	return nil
}

// published is ephemeral.json: the running keystore's recipient.
type published struct {
	Version   int       `json:"v"`
	Recipient string    `json:"recipient"`
	Session   string    `json:"session"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
}

func (s *store) release() {
	if s.audit != nil {
		s.audit.Close()
		s.audit = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

// loadKeys reads keys/. strict: a bad key file is an error (start-up);
// otherwise it is logged and skipped (a reload while running keeps the
// key it had).
func (s *store) loadKeys(ctx context.Context, strict bool) (map[string]*keyState, error) {
	dir := filepath.Join(s.cfg.StateDir, keysDir)
	if st, err := os.Stat(dir); err == nil {
		s.keysMod = st.ModTime()
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore-split: reading %s: %w", dir, err)
	}
	keys := map[string]*keyState{}
	for _, de := range ents {
		id, ok := strings.CutSuffix(de.Name(), keySuffix)
		if !ok || !validID(id) || !de.Type().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ks, err := loadKey(filepath.Join(dir, de.Name()), id)
		if err != nil {
			err = fmt.Errorf("keystore-split: key %q: %w", id, err)
			if strict {
				return nil, err
			}
			sdk.Logger().Error("keeping the loaded key", "error", err)
			continue
		}
		keys[id] = ks
	}
	return keys, nil
}

func loadKey(path, id string) (*keyState, error) {
	data, err := readLimited(path, maxFileSize)
	if err != nil {
		return nil, err
	}
	kf, pub, err := parseKeyFile(data, id)
	if err != nil {
		return nil, err
	}
	alg, err := sdk.AlgorithmOf(pub)
	if err != nil {
		return nil, err
	}
	if alg != kf.Record.Algorithm {
		return nil, fmt.Errorf("key is %s, recorded as %s", alg, kf.Record.Algorithm)
	}
	return &keyState{file: kf, dels: map[string]*delegation{},
		info: sdk.KeyInfo{ID: id, Algorithm: alg, PublicKey: pub, CreatedAt: kf.Record.CreatedAt,
			Attributes: kf.Record.Attributes}}, nil
}

// reloadKeys picks up keys added (ceremony) or rotated on disk.
func (s *store) reloadKeys() {
	st, err := os.Stat(filepath.Join(s.cfg.StateDir, keysDir))
	if err != nil || st.ModTime().Equal(s.keysMod) {
		return
	}
	keys, err := s.loadKeys(context.Background(), false)
	if err != nil {
		sdk.Logger().Error("reloading keys", "error", err)
		return
	}
	for id, nk := range keys {
		old, ok := s.keys[id]
		if ok && old.file.Record.Generation == nk.file.Record.Generation && string(old.file.Signature) == string(nk.file.Signature) {
			continue
		}
		if ok && nk.file.Record.Generation < old.file.Record.Generation {
			// An older split put back (from a backup?) would let the
			// custodians a rotation removed sign again.
			sdk.Logger().Error("refusing a key file of an older generation", "key", id,
				"loaded", old.file.Record.Generation, "on disk", nk.file.Record.Generation)
			continue
		}
		if ok {
			s.lockKey(old, "the key file changed on disk")
			for did := range old.dels {
				s.endDelegation(old, did, "the key file changed on disk")
			}
		}
		s.keys[id] = nk
	}
}

// watch enforces expiries and reads the inbox between signatures.
func (s *store) watch() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if !s.closed {
				s.refresh(false)
				if s.statusDirty {
					s.writeStatus()
				}
			}
			s.mu.Unlock()
		}
	}
}

// refresh brings the state up to date: keys on disk, the inbox (always if
// force, else when it changed), expiries. Called with s.mu held.
func (s *store) refresh(force bool) {
	s.reloadKeys()
	changed := false
	if s.lock != nil {
		if st, err := os.Stat(filepath.Join(s.cfg.StateDir, inboxDir)); err == nil {
			// A change within the file system's timestamp granularity of
			// the last scan could share its mtime: rescan then too.
			if force || !st.ModTime().Equal(s.inboxMod) || st.ModTime().After(s.lastScan.Add(-50*time.Millisecond)) {
				changed = s.scanInbox() || changed
			}
		}
	}
	changed = s.expire(time.Now()) || changed
	if changed {
		s.writeStatus()
	}
}

// scanInbox processes inbox files (at most 256 per call, bounded work) and
// removes them. It reports whether anything changed.
func (s *store) scanInbox() bool {
	dir := filepath.Join(s.cfg.StateDir, inboxDir)
	s.lastScan = time.Now()
	if st, err := os.Stat(dir); err == nil {
		s.inboxMod = st.ModTime()
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		sdk.Logger().Error("reading the inbox", "error", err)
		return false
	}
	// Delegations first, then revocations, then rotations: a rotation
	// dropped together with the delegations it needs finds them.
	rank := func(name string) int {
		switch {
		case strings.HasSuffix(name, suffixDelegation):
			return 0
		case strings.HasSuffix(name, suffixRevocation):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(ents, func(a, b os.DirEntry) int { return rank(a.Name()) - rank(b.Name()) })
	changed, n := false, 0
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") {
			continue // being written
		}
		if n++; n > 256 {
			break
		}
		path := filepath.Join(dir, de.Name())
		changed = true
		if !de.Type().IsRegular() {
			// A FIFO would block the read, a symbolic link point anywhere.
			os.Remove(path)
			s.refuse(de.Name(), "", "not a regular file")
			continue
		}
		data, err := readInboxFile(path)
		os.Remove(path)
		if err != nil {
			s.refuse(de.Name(), "", err.Error())
			continue
		}
		switch {
		case strings.HasSuffix(de.Name(), suffixDelegation):
			s.acceptDelegation(de.Name(), data)
		case strings.HasSuffix(de.Name(), suffixRevocation):
			s.applyRevocation(de.Name(), data)
		case strings.HasSuffix(de.Name(), suffixRotation):
			s.applyRotation(de.Name(), data)
		default:
			s.refuse(de.Name(), "", "unknown kind of file (want .dlg, .revoke or .rotate)")
		}
		clear(data)
	}
	return changed
}

// refuse records a refused inbox file: logged, audited, shown by list.
func (s *store) refuse(file, id, reason string) {
	sdk.Logger().Warn("refused inbox file", "file", file, "reason", reason)
	s.record(AuditEvent{Event: EventDelegationRefused, Delegation: id, Detail: file + ": " + reason})
	s.refused = append(s.refused, refusal{Time: time.Now().UTC(), File: file, ID: id, Reason: reason})
	if len(s.refused) > 50 {
		s.refused = slices.Delete(s.refused, 0, len(s.refused)-50)
	}
	if id != "" {
		s.setResult(id, "refused: "+reason)
	}
}

// setResult publishes the outcome of an inbox file for the command that
// wrote it to wait for; the last 500 are kept.
func (s *store) setResult(id, res string) {
	if _, ok := s.results[id]; !ok {
		s.order = append(s.order, id)
	}
	s.results[id] = res
	if len(s.order) > 500 {
		delete(s.results, s.order[0])
		s.order = s.order[1:]
	}
}

// record writes an audit event; a failure is logged (Sign checks its own).
func (s *store) record(ev AuditEvent) error {
	if s.audit == nil {
		return errors.New("no audit log")
	}
	ev.Time = time.Now().UTC()
	ev.Keystore = s.name
	err := s.audit.Record(ev)
	if err != nil {
		sdk.Logger().Error("audit", "error", err)
	}
	return err
}

// acceptDelegation checks a delegation file against this run and the key.
func (s *store) acceptDelegation(file string, data []byte) {
	d, err := parseDelegation(data, s.eph)
	if err != nil {
		s.refuse(file, "", err.Error())
		return
	}
	defer func() {
		if d.Share != nil && s.findDelegation(d.ID) != d {
			clear(d.Share)
		}
	}()
	now := time.Now()
	reason := ""
	ks := s.keys[d.Key]
	switch {
	case s.seen[d.ID]:
		reason = "replayed: delegation " + d.ID + " was already received by this run"
	case d.Session != s.session:
		reason = "sealed for another run of the keystore"
	case ks == nil:
		reason = fmt.Sprintf("for key %q, which this keystore does not hold", d.Key)
	case d.Generation != ks.file.Record.Generation:
		reason = fmt.Sprintf("for generation %d of key %q, which is now at generation %d (rotated): delegate again", d.Generation, d.Key, ks.file.Record.Generation)
	case !now.Before(d.NotAfter):
		reason = "expired at " + d.NotAfter.UTC().Format(time.RFC3339)
	case d.NotAfter.Sub(now) > s.cfg.MaxDelegation+time.Minute:
		reason = fmt.Sprintf("lasts longer than max_delegation %s", s.cfg.MaxDelegation)
	}
	if reason == "" {
		if err := ks.file.checkShare(d.Custodian, d.Share); err != nil {
			reason = err.Error()
		}
	}
	s.seen[d.ID] = true
	if reason != "" {
		s.refuse(file, d.ID, fmt.Sprintf("delegation of custodian %q for key %q: %s", d.Custodian, d.Key, reason))
		return
	}
	ks.dels[d.ID] = d
	s.setResult(d.ID, "accepted")
	s.record(AuditEvent{Event: EventDelegationAccepted, Key: d.Key, Custodians: []string{d.Custodian},
		Purpose: d.Purpose, Delegation: d.ID,
		Detail: fmt.Sprintf("until %s, %d uses", d.NotAfter.UTC().Format(time.RFC3339), d.Uses)})
}

func (s *store) findDelegation(id string) *delegation {
	for _, ks := range s.keys {
		if d, ok := ks.dels[id]; ok {
			return d
		}
	}
	return nil
}

func (s *store) applyRevocation(file string, data []byte) {
	r, err := parseRevocation(data)
	if err != nil {
		s.refuse(file, "", err.Error())
		return
	}
	n := s.revoke(r.Delegation, r.Key, r.Custodian)
	s.setResult(r.ID, fmt.Sprintf("revoked %d delegations", n))
}

// revoke ends delegations by id, or of a key (and custodian). It returns
// how many ended. Called with s.mu held.
func (s *store) revoke(id, key, custodian string) int {
	n := 0
	for kid, ks := range s.keys {
		for did, d := range ks.dels {
			if (id != "" && did == id) || (id == "" && kid == key && (custodian == "" || d.Custodian == custodian)) {
				s.endDelegation(ks, did, "revoked")
				n++
			}
		}
	}
	return n
}

// endDelegation drops a delegation and wipes its share; the key is locked
// again when fewer than M remain.
func (s *store) endDelegation(ks *keyState, id, why string) {
	d := ks.dels[id]
	if d == nil {
		return
	}
	delete(ks.dels, id)
	clear(d.Share)
	s.record(AuditEvent{Event: EventDelegationEnded, Key: d.Key, Custodians: []string{d.Custodian},
		Purpose: d.Purpose, Delegation: id, Detail: why})
	if ks.signer != nil && s.liveCustodians(ks) < ks.file.Record.Threshold {
		s.lockKey(ks, fmt.Sprintf("a delegation of %s ended (%s)", d.Custodian, why))
	}
}

// lockKey wipes the rebuilt key.
func (s *store) lockKey(ks *keyState, why string) {
	if ks.signer == nil {
		return
	}
	wipe(ks.signer)
	ks.signer = nil
	s.record(AuditEvent{Event: EventKeyLocked, Key: ks.info.ID, Detail: why})
}

// liveCustodians counts the distinct custodians with a live delegation.
func (s *store) liveCustodians(ks *keyState) int {
	seen := map[string]bool{}
	for _, d := range ks.dels {
		seen[d.Custodian] = true
	}
	return len(seen)
}

// expire ends delegations past their time. Called with s.mu held.
func (s *store) expire(now time.Time) bool {
	changed := false
	for _, ks := range s.keys {
		for id, d := range ks.dels {
			if !now.Before(d.NotAfter) {
				s.endDelegation(ks, id, "expired")
				changed = true
			}
		}
	}
	return changed
}

// unlockKey rebuilds the key from one live delegation per custodian.
func (s *store) unlockKey(ks *keyState) error {
	shares := map[string][]byte{}
	var names []string
	for _, id := range slices.Sorted(maps.Keys(ks.dels)) {
		d := ks.dels[id]
		if _, ok := shares[d.Custodian]; !ok {
			shares[d.Custodian] = d.Share
			names = append(names, d.Custodian)
		}
	}
	signer, err := ks.file.unlock(shares)
	if err != nil {
		return fmt.Errorf("keystore-split: key %q: %w", ks.info.ID, err)
	}
	ks.signer = signer
	slices.Sort(names)
	s.record(AuditEvent{Event: EventKeyUnlocked, Key: ks.info.ID, Custodians: names})
	return nil
}

// status.json: what `pkid keystore split list` shows.
type statusDoc struct {
	Session     string               `json:"session"`
	PID         int                  `json:"pid"`
	Updated     time.Time            `json:"updated"`
	Keys        map[string]keyStatus `json:"keys"`
	Delegations []delegationStatus   `json:"delegations"`
	Refused     []refusal            `json:"refused"`
	Results     map[string]string    `json:"results"`
}

type keyStatus struct {
	Threshold  int  `json:"threshold"`
	Live       int  `json:"live"`
	Unlocked   bool `json:"unlocked"`
	Generation int  `json:"generation"`
}

type delegationStatus struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Custodian string    `json:"custodian"`
	Purpose   string    `json:"purpose"`
	NotAfter  time.Time `json:"not_after"`
	UsesLeft  int       `json:"uses_left"`
}

// writeStatus publishes the delegation state (no shares). Called with
// s.mu held, only by the active process.
func (s *store) writeStatus() {
	if s.lock == nil {
		return
	}
	s.statusDirty = false
	st := statusDoc{Session: s.session, PID: os.Getpid(), Updated: time.Now().UTC(),
		Keys: map[string]keyStatus{}, Refused: s.refused, Results: s.results}
	for id, ks := range s.keys {
		st.Keys[id] = keyStatus{Threshold: ks.file.Record.Threshold, Live: s.liveCustodians(ks),
			Unlocked: ks.signer != nil, Generation: ks.file.Record.Generation}
		for _, d := range ks.dels {
			st.Delegations = append(st.Delegations, delegationStatus{ID: d.ID, Key: d.Key,
				Custodian: d.Custodian, Purpose: d.Purpose, NotAfter: d.NotAfter.UTC(), UsesLeft: d.Uses})
		}
	}
	slices.SortFunc(st.Delegations, func(a, b delegationStatus) int {
		return strings.Compare(a.Key+a.Custodian+a.ID, b.Key+b.Custodian+b.ID)
	})
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := writeStatusFile(s.cfg.StateDir, append(b, '\n')); err != nil {
		sdk.Logger().Error("writing status", "error", err)
	}
}

// Close wipes every rebuilt key and share, stops the watcher, removes the
// published ephemeral key and releases the state directory. Closing twice
// is harmless.
func (s *store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true // no Sign activates s from now on
		stop, done := s.stop, s.done
		s.mu.Unlock()
		if stop != nil {
			close(stop)
			<-done
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, ks := range s.keys {
			s.lockKey(ks, "keystore closed")
			for _, d := range ks.dels {
				clear(d.Share)
			}
			ks.dels = nil
		}
		if s.lock != nil {
			os.Remove(filepath.Join(s.cfg.StateDir, ephemeralFile))
			os.Remove(filepath.Join(s.cfg.StateDir, statusFile))
		}
		s.release()
		s.closed = true
	})
	return nil
}
