package keystorefile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
)

const envelopeVersion = 1

// envelope is the plaintext of a <id>.key.age file.
type envelope struct {
	Version    int               `json:"version"`
	ID         string            `json:"id"`
	Algorithm  string            `json:"algorithm"`
	CreatedAt  time.Time         `json:"created_at"`
	Attributes map[string]string `json:"attributes,omitempty"`
	PKCS8      []byte            `json:"pkcs8"` // base64 DER in JSON
}

// sealEnvelope encrypts env to r. Plaintext buffers are cleared
// (best effort: Go may have copied them).
func sealEnvelope(env *envelope, r age.Recipient) ([]byte, error) {
	plain, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// openEnvelope decrypts and parses a key file. Its errors never quote the
// plaintext.
func openEnvelope(data []byte, id age.Identity) (*envelope, error) {
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxFileSize))
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var env envelope
	if err := json.Unmarshal(plain, &env); err != nil {
		return nil, fmt.Errorf("malformed key envelope")
	}
	if env.Version != envelopeVersion {
		return nil, fmt.Errorf("unsupported key envelope version %d", env.Version)
	}
	return &env, nil
}
