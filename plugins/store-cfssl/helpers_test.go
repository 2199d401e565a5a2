package storecfssl

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func mustBase64(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		t.Fatalf("not base64: %v: %q", err, b)
	}
	return out
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
