package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

// FuzzUnwrap: the wrapper and token parser never panic and fail only with
// API errors; a v2 wrapper built from any ts, nonce and request verifies
// once at its ts and is refused as a replay after.
func FuzzUnwrap(f *testing.F) {
	key := []byte("fuzz key")
	inner := []byte(`{"profile":"client"}`)
	nonce := []byte("0123456789abcdef")
	v1, _ := json.Marshal(map[string]any{"timestamp": 1, "token": Token(key, inner), "request": base64.StdEncoding.EncodeToString(inner)})
	v2, _ := json.Marshal(map[string]any{"pkid_auth": "v2", "ts": 1700000000, "nonce": base64.StdEncoding.EncodeToString(nonce),
		"token": TokenV2(key, 1700000000, nonce, inner), "request": base64.StdEncoding.EncodeToString(inner)})
	f.Add(v1, int64(0), nonce, inner)
	f.Add(v2, int64(1700000000), nonce, inner)
	f.Add([]byte("{}"), int64(math.MaxInt64), nonce, inner)
	f.Add([]byte("{}"), int64(math.MinInt64), nonce, inner)
	f.Add([]byte(`{"pkid_auth":"v2","ts":1e3,"nonce":"","token":"","request":""}`), int64(-1), []byte{}, []byte{})
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, body []byte, ts int64, nonce, request []byte) {
		var ae *apiError
		cred, in, ok, err := unwrap(body)
		switch {
		case err != nil && !errors.As(err, &ae):
			t.Fatalf("unwrap error %T %v", err, err)
		case err == nil && ok:
			if err := verifyToken(cred, in, keyring{keys: [][]byte{key}}, newNonceCache(2), now); err != nil && !errors.As(err, &ae) {
				t.Fatalf("verify error %T %v", err, err)
			}
		case err == nil && string(in) != string(body):
			t.Fatal("a body that is not a wrapper changed")
		}

		if len(nonce) < minNonce || len(nonce) > maxNonce {
			return
		}
		w, _ := json.Marshal(map[string]any{"pkid_auth": "v2", "ts": ts, "nonce": base64.StdEncoding.EncodeToString(nonce),
			"token": TokenV2(key, ts, nonce, request), "request": base64.StdEncoding.EncodeToString(request)})
		cred, in, ok, err = unwrap(w)
		if !ok || err != nil || string(in) != string(request) {
			t.Fatalf("v2 wrapper: ok %v err %v", ok, err)
		}
		cache, at := newNonceCache(2), time.Unix(ts, 0)
		if err := verifyToken(cred, in, keyring{keys: [][]byte{key}, replayProtection: true}, cache, at); err != nil {
			t.Fatalf("v2 token refused: %v", err)
		}
		if err := verifyToken(cred, in, keyring{keys: [][]byte{key}}, cache, at); !errors.Is(err, errReplay) {
			t.Fatalf("replay: %v", err)
		}
	})
}
