package keystoresplit

import (
	"testing"
	"time"

	"filippo.io/age"
)

// FuzzParseDelegation feeds the delegation-file parser, the first thing
// that reads what a writer to the inbox supplies: arbitrary bytes, and
// arbitrary plaintext sealed to the keystore's key (the fuzzer's input
// after a marker byte), so the JSON checks behind the age layer are
// reached too. It must never panic, and what it accepts must pass check.
func FuzzParseDelegation(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	good := delegation{Version: 1, ID: newToken(), Session: newToken(), Key: "root", Generation: 1,
		Custodian: "alice", Purpose: "p", IssuedAt: time.Unix(1e9, 0), NotAfter: time.Unix(1e9+3600, 0),
		Uses: 1, Share: make([]byte, shareSize)}
	sealed, err := sealTo(id.Recipient().String(), good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte("age-encryption.org/v1\n-> X25519 x\n"))
	f.Add(append([]byte{0}, `{"v":1,"id":"00000000000000000000000000000000"}`...))
	f.Add(append([]byte{0}, `{"v":1}{"v":2}`...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0] == 0 {
			// Marker: seal the rest, to fuzz the plaintext checks.
			if len(data) > maxInboxFile/2 {
				return
			}
			s, err := sealTo(id.Recipient().String(), rawJSON(data[1:]))
			if err != nil {
				return
			}
			data = s
		}
		d, err := parseDelegation(data, id)
		if err != nil {
			if d != nil {
				t.Fatal("a delegation and an error")
			}
			return
		}
		if err := d.check(); err != nil {
			t.Fatalf("accepted a delegation that fails check: %v", err)
		}
	})
}

// rawJSON marshals as itself (invalid JSON makes sealTo fail).
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }
