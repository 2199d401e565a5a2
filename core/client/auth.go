package client

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"time"
)

// AuthRequest is the authsign wrapper. Key order is CFSSL's.
type AuthRequest struct {
	Timestamp     int64  `json:"timestamp"`
	RemoteAddress string `json:"remote_address,omitempty"`
	Token         string `json:"token"`
	Request       string `json:"request"`
}

// Token returns base64(HMAC-SHA256(key, r)), CFSSL's token; key is the raw
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

// AuthVersionHeader carries AuthVersion on the replies of a pkid daemon
// that accepts replay-resistant (v2) tokens; CFSSL never sends it.
const (
	AuthVersionHeader = "Pkid-Auth"
	AuthVersion       = "v2"
)

// NonceSize is the size of the random nonce of a v2 token.
const NonceSize = 16

// AuthRequestV2 is pkid's replay-resistant wrapper: ts and nonce are
// under the MAC (README "Replay-resistant tokens").
type AuthRequestV2 struct {
	Version string `json:"pkid_auth"`
	TS      int64  `json:"ts"`
	Nonce   string `json:"nonce"`
	Token   string `json:"token"`
	Request string `json:"request"`
}

// TokenV2 returns base64(HMAC-SHA256(key, M)) with
// M = "pkid-auth-v2" 0x00 || ts (8 bytes big-endian) || len(nonce) (1 byte) || nonce || r.
func TokenV2(key []byte, ts int64, nonce, r []byte) string {
	m := make([]byte, 0, 22+len(nonce)+len(r))
	m = append(m, "pkid-auth-v2\x00"...)
	m = binary.BigEndian.AppendUint64(m, uint64(ts))
	m = append(m, byte(len(nonce)))
	m = append(append(m, nonce...), r...)
	return Token(key, m)
}

// WrapV2 builds the v2 wrapper for the exact inner bytes r at now with
// nonce (NonceSize random bytes, never reused).
func WrapV2(key, r []byte, now time.Time, nonce []byte) AuthRequestV2 {
	return AuthRequestV2{
		Version: AuthVersion,
		TS:      now.Unix(),
		Nonce:   base64.StdEncoding.EncodeToString(nonce),
		Token:   TokenV2(key, now.Unix(), nonce, r),
		Request: base64.StdEncoding.EncodeToString(r),
	}
}

// wrapV2JSON serialises a v2 wrapper around r with a fresh nonce.
func wrapV2JSON(key, r []byte, now time.Time) ([]byte, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return json.Marshal(WrapV2(key, r, now, nonce))
}
