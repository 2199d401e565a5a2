package profile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// DropUnfitUsages returns p's key usage minus the bits that do not apply
// to the subject key pub, with one message per dropped usage, so CFSSL
// configs that list "key encipherment" for every key stay lint-clean:
//
//   - ECDSA: key encipherment and data encipherment (RFC 8813, section 3);
//   - Ed25519: key encipherment, data encipherment and key agreement
//     (RFC 8410, section 5);
//   - RSA: key agreement (RFC 3279, section 2.3.1);
//   - any key: encipher only and decipher only when key agreement does
//     not remain (RFC 5280, section 4.2.1.3 defines them only with it).
//
// Other key types keep every bit. It never fails.
func DropUnfitUsages(p *Profile, pub crypto.PublicKey) (x509.KeyUsage, []string) {
	if p == nil {
		return 0, nil
	}
	ku := p.KeyUsage
	var unfit x509.KeyUsage
	var kind string
	switch pub.(type) {
	case *ecdsa.PublicKey:
		unfit, kind = x509.KeyUsageKeyEncipherment|x509.KeyUsageDataEncipherment, "ECDSA"
	case ed25519.PublicKey, *ed25519.PublicKey:
		unfit, kind = x509.KeyUsageKeyEncipherment|x509.KeyUsageDataEncipherment|x509.KeyUsageKeyAgreement, "Ed25519"
	case *rsa.PublicKey:
		unfit, kind = x509.KeyUsageKeyAgreement, "RSA"
	default:
		return ku, nil
	}
	var msgs []string
	for _, u := range keyUsageOrder {
		if ku&unfit&u.bit != 0 {
			ku &^= u.bit
			msgs = append(msgs, fmt.Sprintf("profile %q: usage %q dropped: it does not apply to %s keys", p.Name, u.name, kind))
		}
	}
	if ku&x509.KeyUsageKeyAgreement == 0 {
		for _, bit := range []x509.KeyUsage{x509.KeyUsageEncipherOnly, x509.KeyUsageDecipherOnly} {
			if ku&bit != 0 {
				ku &^= bit
				msgs = append(msgs, fmt.Sprintf("profile %q: usage %q dropped: it applies only with key agreement", p.Name, keyUsageName(bit)))
			}
		}
	}
	return ku, msgs
}
