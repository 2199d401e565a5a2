package ca

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
)

// newSerial returns 20 random bytes with the top bit cleared: positive,
// at most 159 bits, never zero (RFC 5280, section 4.1.2.2; CFSSL's rule).
func newSerial(r io.Reader) (*big.Int, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 20)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("ca: reading random serial: %w", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}
