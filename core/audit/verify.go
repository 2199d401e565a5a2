package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Problem kinds Verify reports.
const (
	ProblemEdited     = "edited"       // a record's content does not match its own hash
	ProblemBroken     = "chain broken" // a record does not follow the one before it (that one was replaced)
	ProblemDeleted    = "deleted"      // records are missing before this one
	ProblemReordered  = "reordered"    // a record appears after a later one
	ProblemSignature  = "bad checkpoint"
	ProblemMalformed  = "malformed"
	ProblemTornRecord = "torn write" // a partial last line: a crash mid-write, not tampering
)

// Problem is one finding, located by line number (1-based) and seq.
type Problem struct {
	Line   int64
	Seq    uint64
	Kind   string
	Detail string
}

func (p Problem) String() string {
	if p.Seq == 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Kind, p.Detail)
	}
	return fmt.Sprintf("line %d (seq %d): %s: %s", p.Line, p.Seq, p.Kind, p.Detail)
}

// Report is Verify's result.
type Report struct {
	Records     int64 // lines read as records, checkpoints included
	Checkpoints int64 // valid checkpoints
	// VerifiedThrough is the seq of the last valid checkpoint: records up
	// to it are covered by a signature. Zero: none.
	VerifiedThrough uint64
	// Tail counts the records after the last valid checkpoint: chained,
	// but not yet signed, so their deletion from the end cannot be seen.
	Tail int64
	// Problems lists what breaks the chain, at most MaxProblems; a torn
	// last line alone does not make the log tampered.
	Problems  []Problem
	Truncated bool // more problems than MaxProblems; verification stopped

	lastSeq uint64 // the highest seq read
}

// Tampered reports whether any problem other than a torn last line was
// found.
func (r *Report) Tampered() bool {
	for _, p := range r.Problems {
		if p.Kind != ProblemTornRecord {
			return true
		}
	}
	return false
}

// MaxProblems bounds Report.Problems: a garbage file stops early.
const MaxProblems = 100

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Key checks checkpoint signatures; nil: checkpoints are reported as
	// unverifiable and every record is tail.
	Key ed25519.PublicKey
	// Progress, when set, is called every ProgressEvery records.
	Progress      func(records int64)
	ProgressEvery int64
}

// Verify reads a log from r and checks its chain and checkpoints. It
// holds at most one line (MaxLine) in memory. Errors: reading r, or ctx
// ending; problems in the log are in the Report, not errors.
func Verify(ctx context.Context, r io.Reader, opts VerifyOptions) (*Report, error) {
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 100000
	}
	br := bufio.NewReaderSize(r, MaxLine+1)
	rep := &Report{}
	v := verifier{rep: rep, opts: opts, prev: genesis}
	var lineNo int64
	for {
		if lineNo%4096 == 0 && ctx.Err() != nil {
			return rep, ctx.Err()
		}
		line, long, err := readLine(br)
		if err == io.EOF && len(line) == 0 && !long {
			break
		}
		if err != nil && err != io.EOF {
			return rep, fmt.Errorf("audit: reading: %w", err)
		}
		lineNo++
		switch {
		case long:
			v.problem(Problem{Line: lineNo, Kind: ProblemMalformed, Detail: fmt.Sprintf("longer than %d bytes", MaxLine)})
		case err == io.EOF: // no newline: the last write was cut short
			if _, _, perr := ParseLine(line); perr != nil {
				v.problem(Problem{Line: lineNo, Kind: ProblemTornRecord, Detail: "the last line is incomplete (a crash during a write); the next append cuts it"})
			} else {
				v.record(lineNo, line)
			}
		default:
			v.record(lineNo, line)
		}
		if rep.Truncated || err == io.EOF {
			break
		}
		if opts.Progress != nil && lineNo%opts.ProgressEvery == 0 {
			opts.Progress(lineNo)
		}
	}
	return rep, nil
}

// readLine returns the next line without its newline; long reports a
// line beyond MaxLine, which is skipped without being held in memory.
// err is io.EOF for a last line without a newline.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	line, err = br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		long = true
		_, err = br.ReadSlice('\n')
	}
	if long {
		if err == io.EOF {
			err = nil
		}
		return nil, true, err
	}
	if err == nil {
		line = line[:len(line)-1]
	}
	return line, false, err
}

type verifier struct {
	rep  *Report
	opts VerifyOptions
	// Chain state: the seq and hash of the last record read.
	seq  uint64
	prev string
}

func (v *verifier) problem(p Problem) {
	if len(v.rep.Problems) >= MaxProblems {
		v.rep.Truncated = true
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

func (v *verifier) record(lineNo int64, line []byte) {
	r, ok, err := ParseLine(line)
	if err != nil {
		v.problem(Problem{Line: lineNo, Kind: ProblemMalformed, Detail: err.Error()})
		return
	}
	v.rep.Records++
	v.rep.Tail++
	v.rep.lastSeq = max(v.rep.lastSeq, r.Seq)
	if !ok {
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemEdited, Detail: "its content does not match its hash"})
	}
	want := v.seq + 1
	switch {
	case r.Seq > want:
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemDeleted, Detail: deletedDetail(want, r.Seq)})
	case r.Seq < want:
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemReordered, Detail: fmt.Sprintf("seq %d comes after seq %d", r.Seq, v.seq)})
	case r.Prev != v.prev:
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemBroken, Detail: fmt.Sprintf("it does not follow the record before it: seq %d was edited or replaced", v.seq)})
	}
	chainOK := ok && r.Seq == want && r.Prev == v.prev
	// Resynchronise on this record, so later problems are reported on
	// their own; a record moved back does not rewind the chain.
	if r.Seq >= want {
		v.seq, v.prev = r.Seq, r.Hash
	}
	if r.Kind == KindCheckpoint {
		v.checkpoint(lineNo, r, chainOK)
	}
}

func (v *verifier) checkpoint(lineNo int64, r *Record, chainOK bool) {
	var cd checkpointData
	if err := json.Unmarshal(r.Data, &cd); err != nil || len(cd.Sig) != ed25519.SignatureSize {
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemSignature, Detail: "the checkpoint carries no signature"})
		return
	}
	if v.opts.Key == nil {
		return // unverifiable: stays tail
	}
	if cd.Key != KeyID(v.opts.Key) {
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemSignature, Detail: fmt.Sprintf("signed by key %s, not by the given key %s", cd.Key, KeyID(v.opts.Key))})
		return
	}
	if !ed25519.Verify(v.opts.Key, signedMessage(r), cd.Sig) {
		v.problem(Problem{Line: lineNo, Seq: r.Seq, Kind: ProblemSignature, Detail: "the signature does not match: the records before it were rewritten"})
		return
	}
	if !chainOK || v.rep.Tampered() {
		return // a signature over a broken chain verifies nothing before it
	}
	v.rep.Checkpoints++
	v.rep.VerifiedThrough = r.Seq
	v.rep.Tail = 0
}

func deletedDetail(want, got uint64) string {
	if got == want+1 {
		return fmt.Sprintf("seq %d is missing before it", want)
	}
	return fmt.Sprintf("seq %d to %d are missing before it", want, got-1)
}
