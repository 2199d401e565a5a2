package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"
)

// AuthRequest is the authsign wrapper (spec §4.1). Key order is CFSSL's.
type AuthRequest struct {
	Timestamp     int64  `json:"timestamp"`
	RemoteAddress string `json:"remote_address,omitempty"`
	Token         string `json:"token"`
	Request       string `json:"request"`
}

// Token returns base64(HMAC-SHA256(key, r)) (spec §4.2); key is the raw
// (hex-decoded) auth key.
func Token(key, r []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(r)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Wrap builds the authsign wrapper for the exact inner bytes r.
func Wrap(key, r []byte, now time.Time) AuthRequest {
	return AuthRequest{
		Timestamp: now.Unix(),
		Token:     Token(key, r),
		Request:   base64.StdEncoding.EncodeToString(r),
	}
}

// wrapJSON serialises the wrapper around r.
func wrapJSON(key, r []byte, now time.Time) ([]byte, error) {
	return json.Marshal(Wrap(key, r, now))
}
