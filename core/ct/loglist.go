package ct

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/certificate-transparency-go/loglist3"
	"github.com/pkid/pkid/core/config"
)

// MaxLogListBytes bounds a log list (Google's full list is about 100 KB)
// and MaxLogListSigBytes its signature.
const (
	MaxLogListBytes    = 4 << 20
	MaxLogListSigBytes = 4 << 10
	// LogListTimeout bounds reading a list and its signature.
	LogListTimeout = 30 * time.Second
)

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// LoadLogList reads a v3 JSON log list from a file or an http(s) URL and
// returns its usable and qualified logs (ParseLogList). With keyDER, the
// signature is read from src + ".sig" and must verify.
func LoadLogList(ctx context.Context, client *http.Client, src string, keyDER []byte) ([]*Log, error) {
	return loadLogList(ctx, client, src, keyDER, false)
}

// LoadLogListForVerification is LoadLogList with
// ParseLogListForVerification's selection.
func LoadLogListForVerification(ctx context.Context, client *http.Client, src string, keyDER []byte) ([]*Log, error) {
	return loadLogList(ctx, client, src, keyDER, true)
}

func loadLogList(ctx context.Context, client *http.Client, src string, keyDER []byte, verification bool) ([]*Log, error) {
	ctx, cancel := context.WithTimeout(ctx, LogListTimeout)
	defer cancel()
	if client == nil {
		client = http.DefaultClient
	}
	data, err := readSource(ctx, client, src, MaxLogListBytes)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if keyDER != nil {
		if sig, err = readSource(ctx, client, src+".sig", MaxLogListSigBytes); err != nil {
			return nil, fmt.Errorf("signature: %w", err)
		}
	}
	return parseLogList(data, sig, keyDER, verification)
}

// ParseLogList parses a v3 JSON log list and returns the logs a
// certificate may be submitted to: usable or qualified ones, RFC 6962
// (url) and static-CT (submission_url) alike, each with its operator and
// temporal interval. With keyDER the list must carry a valid signature
// sig (RSA or ECDSA over SHA-256, the list's published form). Errors: bad
// signature, malformed JSON, a log whose key is not a CT log key or whose
// log_id is not its key's hash, more than config.MaxCTLogs such logs.
func ParseLogList(data, sig, keyDER []byte) ([]*Log, error) {
	return parseLogList(data, sig, keyDER, false)
}

// MaxVerifyLogs bounds the logs a list gives for verification: Google's
// list, retired logs included, has about 150.
const MaxVerifyLogs = 1024

// ParseLogListForVerification is ParseLogList for checking SCTs already
// issued: read-only and retired logs count too (a retired log's SCTs
// from before its retirement stay valid, Log.RetiredAt), pending and
// rejected ones do not, and up to MaxVerifyLogs are read.
func ParseLogListForVerification(data, sig, keyDER []byte) ([]*Log, error) {
	return parseLogList(data, sig, keyDER, true)
}

func parseLogList(data, sig, keyDER []byte, verification bool) ([]*Log, error) {
	if len(data) > MaxLogListBytes {
		return nil, fmt.Errorf("log list of %d bytes; at most %d are read", len(data), MaxLogListBytes)
	}
	var ll *loglist3.LogList
	var err error
	if keyDER != nil {
		pub, perr := x509.ParsePKIXPublicKey(keyDER)
		if perr != nil {
			return nil, fmt.Errorf("log list key: %w", perr)
		}
		ll, err = loglist3.NewFromSignedJSON(data, sig, pub)
	} else {
		ll, err = loglist3.NewFromJSON(data)
	}
	if err != nil {
		return nil, fmt.Errorf("ct: %w", err)
	}
	var logs []*Log
	add := func(op, desc, url string, id, key []byte, state *loglist3.LogStates, ti *loglist3.TemporalInterval) error {
		if state == nil {
			return nil
		}
		var retired time.Time
		switch state.LogStatus() {
		case loglist3.UsableLogStatus, loglist3.QualifiedLogStatus:
		case loglist3.ReadOnlyLogStatus:
			if !verification {
				return nil
			}
		case loglist3.RetiredLogStatus:
			if !verification {
				return nil
			}
			retired = state.Retired.Timestamp.UTC()
			if retired.IsZero() {
				return fmt.Errorf("log %q: retired without a timestamp", desc)
			}
		default:
			return nil
		}
		limit := config.MaxCTLogs
		if verification {
			limit = MaxVerifyLogs
		}
		if len(logs) == limit {
			return fmt.Errorf("more than %d usable logs", limit)
		}
		url = strings.TrimRight(url, "/")
		if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
			return fmt.Errorf("log %q: url %q is not an http(s) URL", desc, url)
		}
		if sum := sha256.Sum256(key); !bytes.Equal(sum[:], id) {
			return fmt.Errorf("log %q: log_id is not the SHA-256 of its key", desc)
		}
		var l *Log
		var lerr error
		if ti != nil {
			l, lerr = NewLog(url, key, op, ti.StartInclusive.UTC(), ti.EndExclusive.UTC())
		} else {
			l, lerr = NewLog(url, key, op, zeroTime, zeroTime)
		}
		if lerr != nil {
			return lerr
		}
		l.RetiredAt = retired
		logs = append(logs, l)
		return nil
	}
	for _, op := range ll.Operators {
		if op == nil {
			continue
		}
		for _, l := range op.Logs {
			if l == nil {
				continue
			}
			if err := add(op.Name, l.Description, l.URL, l.LogID, l.Key, l.State, l.TemporalInterval); err != nil {
				return nil, fmt.Errorf("ct: log list: %w", err)
			}
		}
		for _, l := range op.TiledLogs {
			if l == nil {
				continue
			}
			if err := add(op.Name, l.Description, l.SubmissionURL, l.LogID, l.Key, l.State, l.TemporalInterval); err != nil {
				return nil, fmt.Errorf("ct: log list: %w", err)
			}
		}
	}
	return logs, nil
}

// readSource reads a file or an http(s) URL of at most limit bytes.
func readSource(ctx context.Context, client *http.Client, src string, limit int64) ([]byte, error) {
	var r io.Reader
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
		}
		r = resp.Body
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", src, limit)
	}
	return b, nil
}
