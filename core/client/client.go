package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPort is the port of a remote given without one (CFSSL's).
const DefaultPort = "8888"

// DefaultTimeout bounds one request to one remote, reply body included.
const DefaultTimeout = 30 * time.Second

// MaxResponseBytes caps a reply body; longer replies are an I/O error.
const MaxResponseBytes = 10 << 20

// apiPath is the API base path of every remote.
const apiPath = "/api/v1/cfssl/"

// Client calls the API of one or more remotes, in failover order.
type Client struct {
	remotes []*url.URL
	http    *http.Client
	now     func() time.Time

	mu sync.Mutex
	// authV2 records, per remote base URL, whether it announced v2 tokens.
	authV2 map[string]bool
}

// New parses remotes, a comma list of "host", "host:port" (port 8888 by
// default), "http://host[:port]" or "https://host[:port]" tried in order,
// and returns a client. tlsCfg is used for https remotes (nil: system
// roots); its minimum version is raised to TLS 1.2.
func New(remotes string, tlsCfg *tls.Config) (*Client, error) {
	var us []*url.URL
	for r := range strings.SplitSeq(remotes, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		u, err := parseRemote(r)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	if len(us) == 0 {
		return nil, errors.New("client: no remote given")
	}
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	} else {
		tlsCfg = tlsCfg.Clone()
	}
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: DefaultTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          4,
	}
	return &Client{
		remotes: us,
		http: &http.Client{
			Transport: tr,
			Timeout:   DefaultTimeout,
			// A redirect could carry a CSR or token elsewhere, or downgrade
			// https to http: report it as a non-200 reply instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:    time.Now,
		authV2: map[string]bool{},
	}, nil
}

// parseRemote turns one remote into a base URL (scheme and host only).
func parseRemote(r string) (*url.URL, error) {
	if !strings.Contains(r, "://") {
		if _, _, err := net.SplitHostPort(r); err != nil {
			r = net.JoinHostPort(strings.Trim(r, "[]"), DefaultPort)
		}
		r = "http://" + r
	}
	u, err := url.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("client: invalid remote %q: %v", r, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("client: remote %q: scheme must be http or https", r)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("client: remote %q has no host", r)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return nil, fmt.Errorf("client: remote %q: give only scheme, host and port", r)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("client: remote %q: invalid port", r)
		}
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Remotes returns the base URLs in failover order.
func (c *Client) Remotes() []string {
	out := make([]string, len(c.remotes))
	for i, u := range c.remotes {
		out[i] = u.String()
	}
	return out
}

// Sign asks the remote to sign req (POST /sign) and returns the
// certificate PEM.
func (c *Client) Sign(ctx context.Context, req SignRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", &Error{Code: CodeJSON, Remote: c.remotes[0].String(), Message: "encoding the sign request", Err: err}
	}
	return c.sign(ctx, "sign", body)
}

// AuthSign asks the remote to sign req through authsign: the
// inner document is req's JSON, authenticated with key (raw bytes, as
// decoded from the auth_keys hex). A remote that announces replay-resistant
// tokens (AuthVersionHeader) gets a v2 wrapper with a fresh nonce, any
// other (CFSSL) CFSSL's wrapper; each remote is asked once per Client.
func (c *Client) AuthSign(ctx context.Context, req SignRequest, key []byte) (string, error) {
	if len(key) == 0 {
		return "", &Error{Code: CodeAuthFailure, Remote: c.remotes[0].String(), Message: "empty auth key"}
	}
	inner, err := json.Marshal(req)
	if err != nil {
		return "", &Error{Code: CodeJSON, Remote: c.remotes[0].String(), Message: "encoding the sign request", Err: err}
	}
	return c.signEach(ctx, "authsign", func(base string) ([]byte, error) {
		v2, err := c.supportsV2(ctx, base)
		if err != nil {
			return nil, err
		}
		wrapJ := wrapJSON
		if v2 {
			wrapJ = wrapV2JSON
		}
		body, err := wrapJ(key, inner, c.now())
		if err != nil {
			return nil, &Error{Code: CodeAuthFailure, Remote: base, Message: "building the authsign request", Err: err}
		}
		return body, nil
	})
}

// supportsV2 reports whether the remote at base announces v2 tokens,
// asking it once with a HEAD request (any reply carries the header; a
// CFSSL remote answers without it). Errors: CodeIO when it cannot be
// reached, so the next remote is tried.
func (c *Client) supportsV2(ctx context.Context, base string) (bool, error) {
	c.mu.Lock()
	v2, known := c.authV2[base]
	c.mu.Unlock()
	if known {
		return v2, nil
	}
	target := base + apiPath + "authsign"
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
	if err != nil {
		return false, &Error{Code: CodeIO, Remote: base, Err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, &Error{Code: CodeIO, Remote: base, Message: "HEAD " + target + " failed", Err: unwrapURLError(err)}
	}
	resp.Body.Close()
	v2 = resp.Header.Get(AuthVersionHeader) == AuthVersion
	c.mu.Lock()
	c.authV2[base] = v2
	c.mu.Unlock()
	return v2, nil
}

func (c *Client) sign(ctx context.Context, endpoint string, body []byte) (string, error) {
	return c.signEach(ctx, endpoint, func(string) ([]byte, error) { return body, nil })
}

// signEach is sign with a body built for each remote tried.
func (c *Client) signEach(ctx context.Context, endpoint string, body func(base string) ([]byte, error)) (string, error) {
	var res signResult
	base, err := c.callEach(ctx, endpoint, body, &res)
	if err != nil {
		return "", err
	}
	if res.Certificate == "" {
		return "", &Error{Code: CodeJSON, Remote: base, Status: http.StatusOK, Message: "reply has no certificate"}
	}
	return res.Certificate, nil
}

// Info asks for the CA certificate of label and the usages and expiry of
// profile ("" selects the remote's defaults).
func (c *Client) Info(ctx context.Context, label, profile string) (*InfoResult, error) {
	body, err := json.Marshal(infoRequest{Label: label, Profile: profile})
	if err != nil {
		return nil, &Error{Code: CodeJSON, Remote: c.remotes[0].String(), Err: err}
	}
	var res InfoResult
	base, err := c.call(ctx, "info", body, &res)
	if err != nil {
		return nil, err
	}
	if res.Certificate == "" {
		return nil, &Error{Code: CodeJSON, Remote: base, Status: http.StatusOK, Message: "reply has no certificate"}
	}
	return &res, nil
}

// Revoke asks the remote to revoke a certificate. A remote that answers
// (even with an error) ends the call; the next remote is tried only when
// one cannot be reached or fails with a 5xx status.
func (c *Client) Revoke(ctx context.Context, req RevokeRequest) error {
	body, err := json.Marshal(req)
	if err != nil {
		return &Error{Code: CodeJSON, Remote: c.remotes[0].String(), Err: err}
	}
	var res json.RawMessage
	_, err = c.call(ctx, "revoke", body, &res)
	return err
}

// call posts body to endpoint on each remote in turn until one answers
// without a retryable error, and decodes the result into out. It returns
// the base URL of the remote that answered.
func (c *Client) call(ctx context.Context, endpoint string, body []byte, out any) (string, error) {
	return c.callEach(ctx, endpoint, func(string) ([]byte, error) { return body, nil }, out)
}

// callEach is call with a body built for each remote tried (a token's
// format and nonce depend on the remote).
func (c *Client) callEach(ctx context.Context, endpoint string, body func(base string) ([]byte, error), out any) (string, error) {
	var last error
	for _, u := range c.remotes {
		base := u.String()
		b, err := body(base)
		if err == nil {
			err = c.post(ctx, base, endpoint, b, out)
		}
		if err == nil {
			return base, nil
		}
		last = err
		var ce *Error
		if ctx.Err() != nil || !errors.As(err, &ce) || !ce.retryable() {
			break
		}
	}
	return "", last
}

// post sends one request to one remote and decodes its envelope.
func (c *Client) post(ctx context.Context, base, endpoint string, body []byte, out any) error {
	target := base + apiPath + endpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &Error{Code: CodeIO, Remote: base, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Code: CodeIO, Remote: base, Message: "POST " + target + " failed", Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return &Error{Code: CodeIO, Remote: base, Status: resp.StatusCode, Message: "reading the reply", Err: err}
	}
	if len(data) > MaxResponseBytes {
		return &Error{Code: CodeIO, Remote: base, Status: resp.StatusCode, Message: fmt.Sprintf("reply larger than %d bytes", MaxResponseBytes)}
	}
	var env envelope
	envErr := json.Unmarshal(data, &env)
	if resp.StatusCode != http.StatusOK {
		e := &Error{Code: CodeBadStatus, Remote: base, Status: resp.StatusCode}
		if envErr == nil && len(env.Errors) > 0 {
			e.Message, e.RemoteCode = env.Errors[0].Message, env.Errors[0].Code
		} else {
			e.Message = shorten(string(data))
		}
		return e
	}
	if envErr != nil {
		return &Error{Code: CodeJSON, Remote: base, Status: resp.StatusCode, Message: "reply is not a JSON envelope", Err: envErr}
	}
	if !env.Success {
		e := &Error{Code: CodeRemoteError, Remote: base, Status: resp.StatusCode, Message: "request failed"}
		if len(env.Errors) > 0 {
			e.Message, e.RemoteCode = env.Errors[0].Message, env.Errors[0].Code
		}
		return e
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return &Error{Code: CodeJSON, Remote: base, Status: resp.StatusCode, Message: "decoding the result", Err: err}
	}
	return nil
}

// unwrapURLError drops the *url.Error layer, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// shorten trims a non-envelope reply body for an error message.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	const limit = 512
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}
