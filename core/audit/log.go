package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Sink stores audit records in a chain. Implementations are safe for
// concurrent use.
type Sink interface {
	// Append chains one record of kind with data (marshalled as JSON)
	// and returns once it is durable. Errors: data that does not
	// marshal or exceeds MaxLine, a log whose last record cannot be read
	// (run Verify), or a failed write or fsync; the record is then not
	// stored.
	Append(ctx context.Context, kind string, data any) error
	Close() error
}

// Options configures a Log.
type Options struct {
	// CheckpointKey signs checkpoints; nil: Checkpoint fails.
	CheckpointKey ed25519.PrivateKey
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Log is the file Sink: an append-only file of chained records.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
	opts Options
	// Head of the chain as of size bytes: the last record's seq, hash
	// and kind. Another process appending changes the size.
	size     int64
	mtime    time.Time
	seq      uint64
	hash     string
	lastKind string
}

var _ Sink = (*Log)(nil)

// Open opens (creating 0600, with its directory 0700) the log at path for
// appending. Errors: the file cannot be opened.
func Open(path string, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	// The new file's directory entry must survive a crash too.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return &Log{f: f, path: path, opts: opts, size: -1}, nil
}

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Append implements Sink.
func (l *Log) Append(ctx context.Context, kind string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit: encoding %s data: %w", kind, err)
	}
	return l.append(ctx, kind, func(*Record) (json.RawMessage, error) { return raw, nil })
}

// Checkpoint appends a checkpoint signed by Options.CheckpointKey unless
// the last record already is one. Errors: no key, or Append's.
func (l *Log) Checkpoint(ctx context.Context) error {
	key := l.opts.CheckpointKey
	if key == nil {
		return errors.New("audit: no checkpoint key")
	}
	return l.append(ctx, KindCheckpoint, func(r *Record) (json.RawMessage, error) {
		if l.lastKind == KindCheckpoint || l.seq == 0 {
			return nil, errNothingToCheckpoint
		}
		return json.Marshal(checkpointData{Key: KeyID(key.Public().(ed25519.PublicKey)), Sig: ed25519.Sign(key, signedMessage(r))})
	})
}

var errNothingToCheckpoint = errors.New("nothing new")

// RunCheckpoints checkpoints every interval until ctx ends, and once more
// then; failures go to onErr (may be nil).
func (l *Log) RunCheckpoints(ctx context.Context, every time.Duration, onErr func(error)) {
	runCheckpoints(ctx, l.Checkpoint, every, onErr)
}

// CheckpointSink is a Sink that signs checkpoints: the file Log and the
// certstore DocLog.
type CheckpointSink interface {
	Sink
	// Checkpoint appends a signed checkpoint unless the last record is
	// one. Errors: no checkpoint key, or Append's.
	Checkpoint(ctx context.Context) error
	// RunCheckpoints calls Checkpoint every interval until ctx ends, and
	// once more then; failures go to onErr (may be nil).
	RunCheckpoints(ctx context.Context, every time.Duration, onErr func(error))
}

var (
	_ CheckpointSink = (*Log)(nil)
	_ CheckpointSink = (*DocLog)(nil)
)

func runCheckpoints(ctx context.Context, checkpoint func(context.Context) error, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			if err := checkpoint(context.WithoutCancel(ctx)); err != nil && onErr != nil {
				onErr(err)
			}
			return
		}
		if err := checkpoint(ctx); err != nil && onErr != nil {
			onErr(err)
		}
	}
}

// append writes one record under the process lock and the file lock.
// data builds the record's data once seq, time and prev are known.
func (l *Log) append(_ context.Context, kind string, data func(*Record) (json.RawMessage, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit: log closed")
	}
	if err := lockFile(l.f); err != nil {
		return fmt.Errorf("audit: locking %s: %w", l.path, err)
	}
	defer unlockFile(l.f)
	if err := l.syncHead(); err != nil {
		return err
	}
	r := &Record{Seq: l.seq + 1, Time: l.opts.Now().UTC(), Kind: kind, Prev: l.hash}
	raw, err := data(r)
	if errors.Is(err, errNothingToCheckpoint) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	r.Data = raw
	line, err := r.encode()
	if err != nil {
		return err
	}
	n, err := l.f.Write(append(line, '\n'))
	if err != nil {
		l.size = -1 // a partial line: the next append reads and cuts it
		return fmt.Errorf("audit: writing %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		l.size = -1
		return fmt.Errorf("audit: syncing %s: %w", l.path, err)
	}
	l.size += int64(n)
	l.seq, l.hash, l.lastKind = r.Seq, r.Hash, kind
	if fi, err := l.f.Stat(); err == nil && fi.Size() == l.size {
		l.mtime = fi.ModTime() // an edit of the file changes it: read the head again
	} else {
		l.size = -1
	}
	return nil
}

// syncHead makes the cached head match the file: when the file's size is
// not the one this Log last wrote (first use, another writer, a failed
// write), it cuts a torn last line and reads the last record.
func (l *Log) syncHead() error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if fi.Size() == l.size && fi.ModTime().Equal(l.mtime) {
		return nil
	}
	size := fi.Size()
	tail := int64(2*MaxLine + 2)
	if tail > size {
		tail = size
	}
	buf := make([]byte, tail)
	if _, err := l.f.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("audit: reading %s: %w", l.path, err)
	}
	if len(buf) > 0 && buf[len(buf)-1] != '\n' {
		// A torn write (crash, full disk): cut back to the last full line.
		cut := bytes.LastIndexByte(buf, '\n') + 1
		if cut == 0 && size > tail {
			return fmt.Errorf("audit: %s ends with a line longer than %d bytes; run pkid audit verify", l.path, MaxLine)
		}
		if err := l.f.Truncate(size - tail + int64(cut)); err != nil {
			return fmt.Errorf("audit: cutting a torn record of %s: %w", l.path, err)
		}
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		size -= tail - int64(cut)
		buf = buf[:cut]
	}
	l.size, l.mtime, l.seq, l.hash, l.lastKind = size, fi.ModTime(), 0, genesis, ""
	if len(buf) == 0 {
		return nil
	}
	last := buf[bytes.LastIndexByte(buf[:len(buf)-1], '\n')+1 : len(buf)-1]
	r, ok, err := ParseLine(last)
	if err != nil || !ok {
		l.size = -1
		if err == nil {
			err = errors.New("its hash does not match")
		}
		return fmt.Errorf("audit: the last record of %s is unreadable (%v); refusing to extend a damaged chain, run pkid audit verify", l.path, err)
	}
	l.seq, l.hash, l.lastKind = r.Seq, r.Hash, r.Kind
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
