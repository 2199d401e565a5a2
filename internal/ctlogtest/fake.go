package ctlogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Mode is how a FakeLog misbehaves.
type Mode int

const (
	// Honest logs sign a valid SCT.
	Honest Mode = iota
	// Reject answers 400 with a CT-style error.
	Reject
	// Hang never answers (until the request is cancelled).
	Hang
	// Garbage answers 200 with a body that is not JSON.
	Garbage
	// Oversized answers 200 with several megabytes.
	Oversized
	// BadSignature signs the SCT with another key.
	BadSignature
	// WrongLogID answers a well-signed SCT naming another log.
	WrongLogID
	// Unavailable answers 503.
	Unavailable
)

// FakeLog is a small RFC 6962 add-chain/add-pre-chain server on
// 127.0.0.1 that signs SCTs itself (no tree), for the misbehaviours a
// real log does not show on demand.
type FakeLog struct {
	URL    string
	KeyDER []byte
	// Mode may be changed between submissions; FailFirst makes the first
	// n requests answer 503 before Mode applies.
	Mode      atomic.Int32
	FailFirst atomic.Int32
	// Requests counts the submissions received.
	Requests atomic.Int32

	key, other *ecdsa.PrivateKey
	srv        *httptest.Server
	done       chan struct{}
}

// NewFakeLog starts a FakeLog; Close stops it.
func NewFakeLog(m Mode) *FakeLog {
	f := &FakeLog{done: make(chan struct{})}
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.other, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.KeyDER, _ = x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	f.Mode.Store(int32(m))
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL + "/fake"
	return f
}

// Close stops the server, cancelling hanging requests.
func (f *FakeLog) Close() {
	close(f.done)
	f.srv.CloseClientConnections()
	f.srv.Close()
}

func (f *FakeLog) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/fake/ct/v1/add-") {
		http.NotFound(w, r)
		return
	}
	f.Requests.Add(1)
	if f.FailFirst.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	switch Mode(f.Mode.Load()) {
	case Reject:
		http.Error(w, `{"error":"chain rejected"}`, http.StatusBadRequest)
		return
	case Unavailable:
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	case Hang:
		// Reading the body lets the server notice the client going away.
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
		return
	case Garbage:
		io.WriteString(w, "\x00\x01 this is not an SCT")
		return
	case Oversized:
		chunk := strings.Repeat("A", 64<<10)
		io.WriteString(w, `{"sct_version":0,"id":"`)
		for i := 0; i < 64; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}`)
		return
	}
	var req struct {
		Chain [][]byte `json:"chain"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Chain) < 2 {
		http.Error(w, "bad chain", http.StatusBadRequest)
		return
	}
	chain := make([]*ctx509.Certificate, len(req.Chain))
	for i, der := range req.Chain {
		c, err := ctx509.ParseCertificate(der)
		if ctx509.IsFatal(err) {
			http.Error(w, "bad certificate", http.StatusBadRequest)
			return
		}
		chain[i] = c
	}
	etype := ct.X509LogEntryType
	if strings.HasSuffix(r.URL.Path, "add-pre-chain") {
		etype = ct.PrecertLogEntryType
	}
	ts := uint64(time.Now().UnixMilli())
	leaf, err := ct.MerkleTreeLeafFromChain(chain, etype, ts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := sha256.Sum256(f.KeyDER)
	if Mode(f.Mode.Load()) == WrongLogID {
		id[0] ^= 0xff
	}
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: id}, Timestamp: ts}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *leaf})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	signer := f.key
	if Mode(f.Mode.Load()) == BadSignature {
		signer = f.other
	}
	sig, err := cttls.CreateSignature(*signer, cttls.SHA256, input)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sigBytes, _ := cttls.Marshal(sig)
	json.NewEncoder(w).Encode(ct.AddChainResponse{SCTVersion: ct.V1, ID: id[:], Timestamp: ts, Signature: sigBytes})
}
