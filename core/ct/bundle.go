package ct

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pkid/pkid/core/bundle"
)

// LogListVerifier is the bundler's bundle.SCTVerifier: it verifies
// embedded SCTs against the logs of a v3 JSON log list (a file or an
// http(s) URL; signature checked when a key is given), read on first use
// and again after LogListTTL. It is safe for concurrent use.
type LogListVerifier struct {
	src    string
	key    []byte
	client *http.Client

	mu         sync.Mutex // held while the first list is read
	logs       []*Log
	at         time.Time
	err        error     // the last read's failure
	failedAt   time.Time // when it failed: reads are retried after LogListRetry
	refreshing bool
}

// LogListRetry is how long a failed read of a log list stands before the
// next request reads it again, so that a list that cannot be had does not
// make every bundle request fetch it.
const LogListRetry = time.Minute

var _ bundle.SCTVerifier = (*LogListVerifier)(nil)

// NewLogListVerifier returns a verifier over the log list at src; keyDER,
// when set, is the key its signature (src + ".sig") must verify with;
// client reads URLs (nil: http.DefaultClient).
func NewLogListVerifier(src string, keyDER []byte, client *http.Client) *LogListVerifier {
	return &LogListVerifier{src: src, key: keyDER, client: client}
}

// Load reads the list now. Callers use it at start, so that a list that
// cannot be read is reported then. Errors: as LoadLogList's.
func (v *LogListVerifier) Load(ctx context.Context) error {
	logs, err := LoadLogListForVerification(ctx, v.client, v.src, v.key)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.store(logs, err)
	return err
}

func (v *LogListVerifier) store(logs []*Log, err error) {
	v.err = err
	if err != nil {
		v.failedAt = time.Now()
		return
	}
	v.logs, v.at = logs, time.Now()
}

// retrying reports whether a failed read is recent enough to stand.
func (v *LogListVerifier) retrying() bool {
	return v.err != nil && time.Since(v.failedAt) < LogListRetry
}

// current returns the list, reading it when there is none yet (callers
// wait) or when it is older than LogListTTL (one caller reads it while
// the others use the old one; a failed read keeps the old one). A failed
// read stands for LogListRetry.
func (v *LogListVerifier) current(ctx context.Context) ([]*Log, error) {
	v.mu.Lock()
	if v.logs == nil {
		defer v.mu.Unlock()
		if v.retrying() {
			return nil, v.err
		}
		logs, err := LoadLogListForVerification(ctx, v.client, v.src, v.key)
		v.store(logs, err)
		if err != nil {
			return nil, err
		}
		return v.logs, nil
	}
	logs := v.logs
	stale := time.Since(v.at) >= LogListTTL && !v.refreshing && !v.retrying()
	if stale {
		v.refreshing = true
	}
	v.mu.Unlock()
	if stale {
		fresh, err := LoadLogListForVerification(context.WithoutCancel(ctx), v.client, v.src, v.key)
		v.mu.Lock()
		v.refreshing = false
		v.store(fresh, err)
		if err == nil {
			logs = fresh
		}
		v.mu.Unlock()
	}
	return logs, nil
}

// VerifySCTs implements bundle.SCTVerifier. An SCT whose log the list
// does not know is bundle.SCTUnknownLog; a list that cannot be read makes
// every SCT "not verified: ...". Errors: the SCT list or the
// certificates do not parse; ctx's error.
func (v *LogListVerifier) VerifySCTs(ctx context.Context, leaf, issuer *x509.Certificate) ([]bundle.SCTResult, error) {
	scts, err := EmbeddedSCTs(leaf)
	if err != nil || len(scts) == 0 {
		return nil, err
	}
	logs, lerr := v.current(ctx)
	if lerr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out := make([]bundle.SCTResult, len(scts))
		for i, s := range scts {
			out[i] = bundle.SCTResult{LogID: hex.EncodeToString(s.LogID.KeyID[:]), Timestamp: timeOf(s.Timestamp),
				Result: fmt.Sprintf("not verified: the CT log list could not be read (%v)", lerr)}
		}
		return out, nil
	}
	vs, err := VerifyEmbedded(leaf, issuer, logs)
	if err != nil {
		return nil, err
	}
	return BundleResults(vs), nil
}

// BundleResults turns VerifyEmbedded's results into the bundler's.
func BundleResults(vs []Verification) []bundle.SCTResult {
	out := make([]bundle.SCTResult, len(vs))
	for i, r := range vs {
		res := bundle.SCTResult{LogID: hex.EncodeToString(r.LogID[:]), Timestamp: r.Timestamp, Result: bundle.SCTVerified}
		switch {
		case r.Log == nil:
			res.Result = bundle.SCTUnknownLog
		case r.Err != nil:
			res.Result = "invalid: " + r.Err.Error()
		}
		if r.Log != nil {
			res.LogURL = r.Log.URL
		}
		out[i] = res
	}
	return out
}

// errUnknownLog is VerifyEmbedded's error for an SCT whose log is not
// among those given.
var errUnknownLog = errors.New("unknown log")
