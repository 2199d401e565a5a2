package scanchecks

import (
	"fmt"
	"sort"
	"strings"

	ztls "github.com/zmap/zcrypto/tls"
)

// Version labels as CFSSL writes them.
var versionNames = map[uint16]string{
	ztls.VersionSSL30: "SSL 3.0",
	ztls.VersionTLS10: "TLS 1.0",
	ztls.VersionTLS11: "TLS 1.1",
	ztls.VersionTLS12: "TLS 1.2",
	ztls.VersionTLS13: "TLS 1.3",
}

// allVersions is every version probed, newest first.
var allVersions = []uint16{ztls.VersionTLS13, ztls.VersionTLS12, ztls.VersionTLS11, ztls.VersionTLS10, ztls.VersionSSL30}

func versionName(v uint16) string {
	if n, ok := versionNames[v]; ok {
		return n
	}
	return "unknown version"
}

// suitesTLS13 are the TLS 1.3 suites (RFC 8446 B.4).
var suitesTLS13 = []uint16{0x1301, 0x1302, 0x1303, 0x1304, 0x1305}

// suitesLegacy is every suite zcrypto can name that TLS 1.2 and earlier
// negotiate, signalling values excluded. Offering them all and removing the
// chosen one until the server refuses walks its preference order.
var suitesLegacy = func() []uint16 {
	var out []uint16
	for id := 0; id <= 0xffff; id++ {
		name := ztls.CipherSuiteID(id).String()
		switch {
		case name == "unknown", strings.HasSuffix(name, "_SCSV"), containsU16(suitesTLS13, uint16(id)),
			id == 0x0000: // TLS_NULL_WITH_NULL_NULL is never negotiable
			continue
		}
		out = append(out, uint16(id))
	}
	// Offer the strong suites first, like a real client, so a server that
	// follows the client's order still shows its best.
	sort.SliceStable(out, func(i, j int) bool { return len(suiteFlaws(out[i])) < len(suiteFlaws(out[j])) })
	return out
}()

// allSuites is what a probe at version v offers.
func allSuites(v uint16) []uint16 {
	if v == ztls.VersionTLS13 {
		return append([]uint16(nil), suitesTLS13...)
	}
	return append([]uint16(nil), suitesLegacy...)
}

func suiteName(id uint16) string {
	if n := ztls.CipherSuiteID(id).String(); n != "unknown" {
		return n
	}
	return fmt.Sprintf("UNKNOWN_0x%04X", id)
}

// Suite flaws, as named in findings.
const (
	flawNULL   = "NULL"   // no encryption
	flawAnon   = "ANON"   // no authentication
	flawExport = "EXPORT" // 40/56-bit export grade
	flawRC4    = "RC4"
	flawDES    = "DES" // single DES
	flaw3DES   = "3DES"
	flawCBC    = "CBC"   // MAC-then-encrypt CBC (Lucky13, padding oracles)
	flawNoFS   = "NO_FS" // static RSA or DH key exchange: no forward secrecy
)

// badFlaws make a suite unfit for any use; the rest are Warnings.
var badFlaws = map[string]bool{flawNULL: true, flawAnon: true, flawExport: true, flawRC4: true, flawDES: true}

// suiteFlaws names what is wrong with a suite, from its IANA name.
func suiteFlaws(id uint16) []string {
	if containsU16(suitesTLS13, id) {
		return nil
	}
	n := suiteName(id)
	var out []string
	if strings.Contains(n, "_NULL_") || strings.HasSuffix(n, "_NULL") {
		out = append(out, flawNULL)
	}
	if strings.Contains(n, "_anon_") || strings.Contains(n, "_ANON_") {
		out = append(out, flawAnon)
	}
	if strings.Contains(n, "EXPORT") {
		out = append(out, flawExport)
	}
	if strings.Contains(n, "_RC4_") {
		out = append(out, flawRC4)
	}
	if strings.Contains(n, "_3DES_") {
		out = append(out, flaw3DES)
	} else if strings.Contains(n, "_DES_") || strings.Contains(n, "_DES40_") {
		out = append(out, flawDES)
	}
	if strings.Contains(n, "_CBC_") {
		out = append(out, flawCBC)
	}
	if !forwardSecret(id) {
		out = append(out, flawNoFS)
	}
	return out
}

// forwardSecret reports an ephemeral key exchange.
func forwardSecret(id uint16) bool {
	if containsU16(suitesTLS13, id) {
		return true
	}
	n := suiteName(id)
	return strings.HasPrefix(n, "TLS_ECDHE_") || strings.HasPrefix(n, "TLS_DHE_")
}

// ecdheSuite reports an elliptic-curve ephemeral key exchange.
func ecdheSuite(id uint16) bool { return strings.HasPrefix(suiteName(id), "TLS_ECDHE_") }

// dheSuite reports a finite-field ephemeral key exchange.
func dheSuite(id uint16) bool { return strings.HasPrefix(suiteName(id), "TLS_DHE_") }

// Groups probed, with the names findings use (IANA's).
var groupNames = map[ztls.CurveID]string{
	ztls.X25519:         "x25519",
	ztls.CurveP256:      "secp256r1",
	ztls.CurveP384:      "secp384r1",
	ztls.CurveP521:      "secp521r1",
	ztls.X25519MLKEM768: "X25519MLKEM768",
}

// groupBits is each group's classical strength in bits of field size, for
// the ECDH size rule (Mozilla's ecdh_param_size).
var groupBits = map[ztls.CurveID]int{
	ztls.X25519: 256, ztls.CurveP256: 256, ztls.CurveP384: 384, ztls.CurveP521: 521, ztls.X25519MLKEM768: 256,
}

func groupName(g ztls.CurveID) string {
	if n, ok := groupNames[g]; ok {
		return n
	}
	return fmt.Sprintf("group_%d", g)
}

// groupsFor is what a probe at version v offers, client preference first.
func groupsFor(v uint16) []ztls.CurveID {
	if v == ztls.VersionTLS13 {
		return []ztls.CurveID{ztls.X25519MLKEM768, ztls.X25519, ztls.CurveP256, ztls.CurveP384, ztls.CurveP521}
	}
	return []ztls.CurveID{ztls.X25519, ztls.CurveP256, ztls.CurveP384, ztls.CurveP521}
}
