package transport

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Bounds of the renewal-info poll interval (the answer's Retry-After,
// clamped).
const (
	minARIPoll = time.Minute
	maxARIPoll = 6 * time.Hour
)

// Window is a renewal window suggested by the CA (RFC 9773).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// CertID is RFC 9773's identifier of the certificate in use: base64url of
// its authority key identifier, ".", base64url of its serial number.
func (t *Transport) CertID() string {
	leaf := t.cur.Load().Leaf
	ser := leaf.SerialNumber.Bytes()
	if len(ser) == 0 || ser[0]&0x80 != 0 {
		ser = append([]byte{0}, ser...)
	}
	return base64.RawURLEncoding.EncodeToString(leaf.AuthorityKeyId) + "." + base64.RawURLEncoding.EncodeToString(ser)
}

// CheckRenewalInfo asks pkid's renewal-info endpoint about the certificate
// in use. When the suggested window starts before the next scheduled
// renewal, the renewal moves to a random point inside it, or to now when
// the window has already ended (how pkid asks for a revoked certificate to
// be replaced). Run calls it as often as the answers' Retry-After says
// (between a minute and six hours). Errors: the CA unreachable or
// answering something else than a window.
func (t *Transport) CheckRenewalInfo(ctx context.Context) (Window, error) {
	w, retry, err := t.fetchRenewalInfo(ctx)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.nextARI = now.Add(maxARIPoll / 6)
		return Window{}, err
	}
	t.nextARI = now.Add(min(max(retry, minARIPoll), maxARIPoll))
	if w.Start.Before(t.next) {
		defer func() {
			select {
			case t.wake <- struct{}{}:
			default:
			}
		}()
		switch {
		case !w.End.After(now):
			t.next = now
		default:
			from := w.Start
			if from.Before(now) {
				from = now
			}
			t.next = from.Add(time.Duration(rand.Int64N(int64(w.End.Sub(from)) + 1)))
		}
	}
	return w, nil
}

func (t *Transport) fetchRenewalInfo(ctx context.Context) (Window, time.Duration, error) {
	url := strings.TrimRight(t.cfg.CA.URL, "/") + "/api/v1/cfssl/renewal-info/" + t.CertID()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Window{}, 0, fmt.Errorf("transport: renewal-info: %w", err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: t.cfg.CA.RootCAs, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return Window{}, 0, fmt.Errorf("transport: renewal-info: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Window{}, 0, fmt.Errorf("transport: renewal-info: %w", err)
	}
	var env struct {
		Success bool `json:"success"`
		Result  struct {
			SuggestedWindow Window `json:"suggestedWindow"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != http.StatusOK || !env.Success {
		return Window{}, 0, fmt.Errorf("transport: renewal-info: HTTP %d: %.200s", resp.StatusCode, body)
	}
	w := env.Result.SuggestedWindow
	if w.Start.IsZero() || !w.End.After(w.Start) {
		return Window{}, 0, errors.New("transport: renewal-info: the window is empty")
	}
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return w, time.Duration(retry) * time.Second, nil
}
