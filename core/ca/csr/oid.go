package csr

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseOID parses a dotted object identifier such as "1.2.840.113549.1.9.1".
// The error says what is wrong: an empty or non-numeric arc, fewer than two
// arcs, a first arc above 2 or a second arc of 40 or more under arcs 0 and 1.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	if s == "" {
		return nil, errors.New("empty OID: want dotted decimal like 1.2.3.4")
	}
	parts := strings.Split(s, ".")
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("OID %q: arc %d is not a decimal number: want dotted decimal like 1.2.3.4", s, i+1)
		}
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("OID %q: arc %d is too large", s, i+1)
		}
		oid[i] = int(n)
	}
	if err := checkOID(oid); err != nil {
		return nil, fmt.Errorf("OID %q: %w", s, err)
	}
	return oid, nil
}

// checkOID reports whether oid can be DER-encoded as an object identifier.
func checkOID(oid asn1.ObjectIdentifier) error {
	if len(oid) < 2 {
		return errors.New("an OID needs at least two arcs")
	}
	for _, a := range oid {
		if a < 0 || a > 1<<31-1 {
			return fmt.Errorf("OID arc %d out of range", a)
		}
	}
	if oid[0] > 2 {
		return fmt.Errorf("first OID arc %d not allowed: want 0, 1 or 2", oid[0])
	}
	if oid[0] < 2 && oid[1] >= 40 {
		return fmt.Errorf("second OID arc %d not allowed under %d: want 0 to 39", oid[1], oid[0])
	}
	return nil
}

// compareOID orders OIDs arc by arc numerically.
func compareOID(a, b asn1.ObjectIdentifier) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
