package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Record kinds.
const (
	KindIssuance    = "issuance"
	KindRevocation  = "revocation"
	KindKey         = "key"
	KindConfig      = "config"
	KindAuthFailure = "auth_failure"
	KindCheckpoint  = "checkpoint"
)

// MaxLine bounds one record line (bytes, newline excluded). Append refuses
// larger records and Verify reports larger lines, so neither holds more
// than this much of a line in memory.
const MaxLine = 64 << 10

// Record is one audit record.
type Record struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Kind string          `json:"kind"`
	Prev string          `json:"prev"`
	Data json.RawMessage `json:"data,omitempty"`
	// Hash is the record's own hash (hex); it is not part of the hashed
	// body.
	Hash string `json:"-"`
}

// genesis is the prev of the first record.
var genesis = hex.EncodeToString(make([]byte, sha256.Size))

const hashSuffixLen = len(`,"hash":""}`) + 2*sha256.Size

// errMalformed marks a line that is not a record at all.
var errMalformed = errors.New("not an audit record")

// encode returns r's line (without newline) and sets r.Hash.
func (r *Record) encode() ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding a record: %w", err)
	}
	sum := sha256.Sum256(body)
	r.Hash = hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(body)+hashSuffixLen)
	line = append(line, body[:len(body)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, r.Hash...)
	line = append(line, `"}`...)
	if len(line) > MaxLine {
		return nil, fmt.Errorf("audit: a %s record of %d bytes exceeds the %d-byte limit", r.Kind, len(line), MaxLine)
	}
	return line, nil
}

// ParseLine parses one record line (without its newline). ok reports
// whether the stored hash matches the line's body; a line whose hash does
// not match still returns its record when the body parses, so the caller
// can say which record was edited. Errors: a line that is not a record
// (bad JSON, missing or misplaced hash, missing fields).
func ParseLine(line []byte) (rec *Record, ok bool, err error) {
	if len(line) > MaxLine {
		return nil, false, fmt.Errorf("%w: longer than %d bytes", errMalformed, MaxLine)
	}
	if len(line) < hashSuffixLen+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, false, fmt.Errorf("%w: no trailing hash", errMalformed)
	}
	cut := len(line) - hashSuffixLen
	if !bytes.HasPrefix(line[cut:], []byte(`,"hash":"`)) {
		return nil, false, fmt.Errorf("%w: no trailing hash", errMalformed)
	}
	stored := string(line[cut+len(`,"hash":"`) : len(line)-2])
	if _, err := hex.DecodeString(stored); err != nil {
		return nil, false, fmt.Errorf("%w: the hash is not hex", errMalformed)
	}
	body := make([]byte, 0, cut+1)
	body = append(append(body, line[:cut]...), '}')
	var r Record
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, false, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if r.Seq == 0 || r.Kind == "" || len(r.Prev) != 2*sha256.Size || r.Time.IsZero() {
		return nil, false, fmt.Errorf("%w: seq, time, kind or prev missing", errMalformed)
	}
	sum := sha256.Sum256(body)
	r.Hash = stored
	return &r, hex.EncodeToString(sum[:]) == stored, nil
}
