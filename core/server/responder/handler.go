package responder

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/ocsp"
)

// Defaults of Options.
const (
	DefaultCacheBytes   = 64 << 20
	DefaultCacheTTL     = 60 * time.Second
	DefaultMaxBodyBytes = 16 << 10
)

// Options configure a Handler. Zero values mean the defaults.
type Options struct {
	// CacheBytes bounds the DER bytes the response cache holds (0:
	// DefaultCacheBytes; negative: no cache).
	CacheBytes int64
	// CacheTTL is the longest a response is served from memory (never past
	// its nextUpdate), so that revocations made on another node show up
	// (0: DefaultCacheTTL).
	CacheTTL time.Duration
	// MaxBodyBytes caps POST bodies; larger → 413 (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	Log          hclog.Logger
	Now          func() time.Time
}

// Handler is the OCSP responder's http.Handler, as CFSSL's ocspserve: GET
// <mount>/<base64 DER request> and POST <mount> with the DER request as the
// body. See the package documentation for mounting.
//
// Responses to requests without a nonce are cached in memory, keyed by
// CertID, for min(CacheTTL, until nextUpdate), LRU-bounded by CacheBytes;
// concurrent misses for one CertID share one Source call. Requests with a
// nonce always reach the Source. A response carrying a nonce is sent with
// `Cache-Control: max-age=0, no-cache` and no ETag/Expires: it answers one
// request only.
type Handler struct {
	src     Source
	log     hclog.Logger
	now     func() time.Time
	ttl     time.Duration
	maxBody int64
	cache   *cache // nil: no cache

	mu    sync.Mutex
	calls map[string]*call
}

// call is one in-flight Source call shared by concurrent misses.
type call struct {
	done chan struct{}
	e    *entry
	err  error
}

// NewHandler returns a Handler answering from src.
func NewHandler(src Source, opts Options) *Handler {
	h := &Handler{src: src, log: opts.Log, now: opts.Now, ttl: opts.CacheTTL, maxBody: opts.MaxBodyBytes, calls: map[string]*call{}}
	if h.log == nil {
		h.log = hclog.NewNullLogger()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ttl <= 0 {
		h.ttl = DefaultCacheTTL
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	switch {
	case opts.CacheBytes == 0:
		h.cache = newCache(DefaultCacheBytes)
	case opts.CacheBytes > 0:
		h.cache = newCache(opts.CacheBytes)
	}
	return h
}

// Forget drops the cached responses about serial (under any issuer); call
// it after revoking. A Source call already running when Forget is called
// still answers its waiting requests but is not cached.
func (h *Handler) Forget(serial *big.Int) {
	if h.cache != nil && serial != nil {
		h.cache.forget(serial)
	}
}

// Purge drops every cached response.
func (h *Handler) Purge() {
	if h.cache != nil {
		h.cache.purge()
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodGet:
		p := r.URL.EscapedPath()
		p = strings.TrimLeft(p, "/")
		// A path that is not base64 of a request is as malformed as a
		// body that is not DER (RFC 6960, section 2.3): OCSP clients get an OCSP
		// answer, not CFSSL's empty 400.
		p, err := url.PathUnescape(p)
		if err != nil {
			h.ocspError(w, http.StatusBadRequest, malformedRequestDER)
			return
		}
		p = strings.ReplaceAll(p, " ", "+")
		// Padding is optional: some clients strip it.
		der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(p, "="))
		if err != nil {
			h.ocspError(w, http.StatusBadRequest, malformedRequestDER)
			return
		}
	case http.MethodPost:
		if r.ContentLength > h.maxBody {
			h.empty(w, http.StatusRequestEntityTooLarge)
			return
		}
		var err error
		der, err = io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.empty(w, http.StatusRequestEntityTooLarge)
				return
			}
			h.empty(w, http.StatusBadRequest)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		h.empty(w, http.StatusMethodNotAllowed)
		return
	}
	req, err := ParseRequest(der)
	if err != nil {
		h.ocspError(w, http.StatusBadRequest, malformedRequestDER)
		return
	}
	e, err := h.lookup(r.Context(), req)
	switch {
	case err == nil:
		h.found(w, r, e)
	case errors.Is(err, ErrNotFound):
		h.ocspError(w, http.StatusOK, unauthorizedDER)
	default:
		if r.Context().Err() == nil {
			h.log.Error("OCSP response failed", "serial", req.Serial.String(), "hash", req.Hash.String(), "error", err)
		}
		h.ocspError(w, http.StatusInternalServerError, internalErrorDER)
	}
}

// lookup answers from the cache, or from the Source (one call per CertID
// at a time) for requests without a nonce.
func (h *Handler) lookup(ctx context.Context, req *Request) (*entry, error) {
	if req.Nonce != nil {
		return h.fetch(ctx, req, "")
	}
	key := requestKey(req)
	if h.cache != nil {
		if e := h.cache.get(key, h.now()); e != nil {
			return e, nil
		}
	}
	h.mu.Lock()
	if c, ok := h.calls[key]; ok {
		h.mu.Unlock()
		select {
		case <-c.done:
			return c.e, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	h.calls[key] = c
	h.mu.Unlock()
	var gen uint64
	if h.cache != nil {
		gen = h.cache.generation()
	}
	// The call is shared: a client going away must not fail the others.
	c.e, c.err = h.fetch(context.WithoutCancel(ctx), req, key)
	if c.err == nil && h.cache != nil && !c.e.hasNonce {
		h.cache.put(c.e, gen, h.now())
	}
	h.mu.Lock()
	delete(h.calls, key)
	h.mu.Unlock()
	close(c.done)
	return c.e, c.err
}

// fetch asks the Source and prepares the entry: the response is parsed
// once here for its dates and nonce. An unparsable response is a fault.
func (h *Handler) fetch(ctx context.Context, req *Request, key string) (*entry, error) {
	der, err := h.src.Response(ctx, req)
	if err != nil {
		return nil, err
	}
	parsed, err := ocsp.ParseResponse(der, nil)
	if err != nil {
		return nil, &badResponseError{err}
	}
	e := &entry{key: key, serial: req.Serial.String(), der: der, nextUpdate: parsed.NextUpdate}
	if info, err := parseResponseInfo(der); err != nil || info.hasNonce {
		e.hasNonce = true // unsure or nonce: never cache nor reuse
	}
	if !e.hasNonce {
		sum := sha256.Sum256(der)
		e.etag = `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
	}
	if !parsed.ThisUpdate.IsZero() {
		e.lastModified = parsed.ThisUpdate.UTC().Format(http.TimeFormat)
	}
	if !parsed.NextUpdate.IsZero() {
		e.expires = parsed.NextUpdate.UTC().Format(http.TimeFormat)
	}
	e.deadline = h.now().Add(h.ttl)
	if !parsed.NextUpdate.IsZero() && parsed.NextUpdate.Before(e.deadline) {
		e.deadline = parsed.NextUpdate
	}
	return e, nil
}

// badResponseError is a Source response that does not parse.
type badResponseError struct{ err error }

func (e *badResponseError) Error() string {
	return "responder: source returned a bad response: " + e.err.Error()
}
func (e *badResponseError) Unwrap() error { return e.err }

func (h *Handler) found(w http.ResponseWriter, r *http.Request, e *entry) {
	hd := w.Header()
	if e.lastModified != "" {
		hd.Set("Last-Modified", e.lastModified)
	}
	if e.hasNonce {
		hd.Set("Content-Type", "application/ocsp-response")
		hd.Set("Cache-Control", "max-age=0, no-cache")
		hd.Set("Content-Length", strconv.Itoa(len(e.der)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(e.der)
		return
	}
	maxAge := int64(0)
	if !e.nextUpdate.IsZero() {
		if d := e.nextUpdate.Sub(h.now()); d > 0 {
			maxAge = int64(d / time.Second)
		}
	}
	if e.expires != "" {
		hd.Set("Expires", e.expires)
	}
	hd.Set("Cache-Control", "max-age="+strconv.FormatInt(maxAge, 10)+", public, no-transform, must-revalidate")
	hd.Set("ETag", e.etag)
	if etagMatch(r.Header.Values("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "application/ocsp-response")
	hd.Set("Content-Length", strconv.Itoa(len(e.der)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.der)
}

// etagMatch implements If-None-Match's weak comparison (RFC 9110, section 13.1.2).
func etagMatch(headers []string, etag string) bool {
	for _, v := range headers {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// ocspError sends one of the fixed unsigned OCSP error responses.
func (h *Handler) ocspError(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/ocsp-response")
	hd.Set("Cache-Control", "max-age=0, no-cache")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// empty sends status with an empty body.
func (h *Handler) empty(w http.ResponseWriter, status int) {
	w.Header().Set("Cache-Control", "max-age=0, no-cache")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}
