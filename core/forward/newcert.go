package forward

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// noHostsAdvisory is newcert's success message for a request without
// hosts (as the local newcert sends it, and CFSSL).
var noHostsAdvisory = message{Code: 5300, Message: "the request has no hosts, so the certificate has no subject alternative names and is unsuitable for web servers"}

// newcert forwards a newcert of a forwarding profile as CFSSL does: the key
// and CSR are made here (by the Guard under the daemon's key limits, else
// by the local newkey endpoint), and only the CSR goes to the remote.
func (h *Handler) newcert(w http.ResponseWriter, r *http.Request, rem *Remote, body []byte) {
	var req struct {
		Request json.RawMessage `json:"request"`
		Profile string          `json:"profile"`
		Label   string          `json:"label"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "Unable to parse newcert request: "+err.Error())
		return
	}
	if len(req.Request) == 0 || string(req.Request) == "null" {
		writeError(w, http.StatusBadRequest, http.StatusBadRequest, "missing request section")
		return
	}
	var gen struct {
		Success bool
		Result  struct {
			PrivateKey string `json:"private_key"`
			CSR        string `json:"certificate_request"`
		}
	}
	if g := h.opts.Guard; g != nil {
		keyPEM, csrPEM, err := g.GenerateKey(req.Request)
		if err != nil {
			status, code, msg := g.ErrorStatus(err)
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			writeError(w, status, code, msg)
			return
		}
		gen.Result.PrivateKey, gen.Result.CSR = string(keyPEM), string(csrPEM)
	} else {
		// The local newkey answers with its own envelope when it refuses
		// (bad key request, 429 at the key generation limit): passed on.
		sub := r.Clone(r.Context())
		sub.URL.Path, sub.Method = basePath+"newkey", http.MethodPost
		sub.Body, sub.ContentLength = io.NopCloser(bytes.NewReader(req.Request)), int64(len(req.Request))
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		h.next.ServeHTTP(rec, sub)
		if rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &gen) != nil || !gen.Success {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			w.Write(rec.body.Bytes())
			return
		}
	}
	var hosts struct {
		Hosts []string `json:"hosts"`
	}
	json.Unmarshal(req.Request, &hosts) // newkey parsed it already
	sr := signBody{}
	sr.Request, sr.Profile, sr.Label, sr.Hosts = gen.Result.CSR, req.Profile, req.Label, hosts.Hosts
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	var cert string
	var err error
	if rem.AuthKey != nil {
		cert, err = rem.Client.AuthSign(ctx, sr.SignRequest, rem.AuthKey)
	} else {
		cert, err = rem.Client.Sign(ctx, sr.SignRequest)
	}
	if err != nil {
		h.forwardError(w, rem, "newcert", err)
		return
	}
	env := envelope{Success: true, Errors: []message{}, Messages: []message{}, Result: map[string]any{
		"certificate":         cert,
		"certificate_request": gen.Result.CSR,
		"private_key":         gen.Result.PrivateKey,
		"sums":                map[string]sum{"certificate": sumOf(cert), "certificate_request": sumOf(gen.Result.CSR)},
	}}
	if len(hosts.Hosts) == 0 {
		env.Messages = []message{noHostsAdvisory}
	}
	write(w, http.StatusOK, env)
}

// sum is CFSSL's fingerprints of a DER object.
type sum struct {
	MD5    string `json:"md5"`
	SHA1   string `json:"sha-1"`
	SHA256 string `json:"sha-256"`
}

func sumOf(pemText string) sum {
	var der []byte
	if b, _ := pem.Decode([]byte(strings.TrimSpace(pemText))); b != nil {
		der = b.Bytes
	}
	return sum{fmt.Sprintf("%X", md5.Sum(der)), fmt.Sprintf("%X", sha1.Sum(der)), fmt.Sprintf("%X", sha256.Sum256(der))}
}

// recorder captures the local newkey's reply.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
