package profile

import (
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
)

// parseOID parses a dotted object identifier such as "1.3.6.1.5.5.7.3.1".
// It refuses fewer than two arcs, non-numeric or negative arcs, a first
// arc above 2 and a second arc above 39 under arcs 0 and 1.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	bad := fmt.Errorf("%q is not a dotted OID (e.g. 1.3.6.1.4.1.311.20.2)", s)
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, bad
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return nil, bad
		}
		n, err := strconv.ParseUint(p, 10, 31)
		if err != nil {
			return nil, bad
		}
		oid[i] = int(n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, bad
	}
	return oid, nil
}

// isDottedOID reports whether s looks like a dotted OID (digits and dots).
func isDottedOID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}
