package ct

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// MaxSCTs bounds the SCTs read from one certificate.
const MaxSCTs = 64

func encodeSCT(sct *ct.SignedCertificateTimestamp) ([]byte, error) {
	b, err := cttls.Marshal(*sct)
	if err != nil {
		return nil, fmt.Errorf("ct: encoding an SCT: %w", err)
	}
	return b, nil
}

// EncodeSCTList encodes TLS-encoded SCTs as a SignedCertificateTimestampList
// (RFC 6962 section 3.3), the content of the embedded extension's OCTET
// STRING.
func EncodeSCTList(raws [][]byte) ([]byte, error) {
	var l ctx509.SignedCertificateTimestampList
	for _, r := range raws {
		l.SCTList = append(l.SCTList, ctx509.SerializedSCT{Val: r})
	}
	b, err := cttls.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("ct: encoding the SCT list: %w", err)
	}
	return b, nil
}

// EmbeddedSCTs returns the SCTs embedded in cert (none: nil, nil).
// Errors: a malformed extension, more than MaxSCTs SCTs.
func EmbeddedSCTs(cert *x509.Certificate) ([]*ct.SignedCertificateTimestamp, error) {
	for _, e := range cert.Extensions {
		if !e.Id.Equal(oidSCTList) {
			continue
		}
		var inner []byte
		if rest, err := asn1.Unmarshal(e.Value, &inner); err != nil || len(rest) > 0 {
			return nil, errors.New("ct: SCT list extension is not an OCTET STRING")
		}
		var l ctx509.SignedCertificateTimestampList
		if rest, err := cttls.Unmarshal(inner, &l); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("ct: malformed SCT list: %v", err)
		}
		if len(l.SCTList) > MaxSCTs {
			return nil, fmt.Errorf("ct: %d SCTs; at most %d are read", len(l.SCTList), MaxSCTs)
		}
		out := make([]*ct.SignedCertificateTimestamp, 0, len(l.SCTList))
		for i, s := range l.SCTList {
			var sct ct.SignedCertificateTimestamp
			if rest, err := cttls.Unmarshal(s.Val, &sct); err != nil || len(rest) > 0 {
				return nil, fmt.Errorf("ct: SCT %d is malformed: %v", i, err)
			}
			out = append(out, &sct)
		}
		return out, nil
	}
	return nil, nil
}

// Verification is the result for one embedded SCT.
type Verification struct {
	LogID     [32]byte
	Timestamp time.Time
	// Log is the known log that issued it, nil if none of the logs given
	// has its ID.
	Log *Log
	// Err is nil when the SCT verified.
	Err error
}

// VerifyEmbedded verifies each SCT embedded in cert, issued by issuer,
// against the logs (ctutil.VerifySCT over the reconstructed
// precertificate). An SCT from a log not among logs is reported with an
// error saying so. Errors (as opposed to failed verifications): the SCT
// list or the certificates do not parse.
func VerifyEmbedded(cert, issuer *x509.Certificate, logs []*Log) ([]Verification, error) {
	scts, err := EmbeddedSCTs(cert)
	if err != nil {
		return nil, err
	}
	if len(scts) == 0 {
		return nil, nil
	}
	leaf, err := ctx509.ParseCertificate(cert.Raw)
	if ctx509.IsFatal(err) {
		return nil, fmt.Errorf("ct: certificate: %w", err)
	}
	iss, err := ctx509.ParseCertificate(issuer.Raw)
	if ctx509.IsFatal(err) {
		return nil, fmt.Errorf("ct: issuer: %w", err)
	}
	byID := map[[32]byte]*Log{}
	for _, l := range logs {
		if !l.Keyless() {
			byID[l.ID] = l
		}
	}
	out := make([]Verification, len(scts))
	for i, sct := range scts {
		v := Verification{LogID: sct.LogID.KeyID, Timestamp: ct.TimestampToTime(sct.Timestamp).UTC()}
		v.Log = byID[v.LogID]
		if v.Log == nil {
			v.Err = errUnknownLog
		} else {
			v.Err = checkSCT(v.Log, []*ctx509.Certificate{leaf, iss}, sct, true, time.Now())
		}
		out[i] = v
	}
	return out, nil
}
