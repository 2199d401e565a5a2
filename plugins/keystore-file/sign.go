package keystorefile

import (
	"context"
	"fmt"

	"github.com/pkid/pkid/sdk"
)

// Sign signs req.Digest with key req.KeyID (sdk.SignWith): RSA keys with
// PKCS #1 v1.5 or, if req.PSS, RSASSA-PSS; ECDSA keys with an ASN.1 DER
// signature; Ed25519 keys over the message in req.Digest (req.Hash 0). Errors:
// sdk.ErrNotFound (unknown key), sdk.ErrInvalidArgument (a request
// sdk.CheckSignRequest refuses: MD5 or SHA-1, digest length not
// req.Hash.Size(), PSS on a non-RSA key, a hash with an Ed25519 key, bad
// salt length), sdk.ErrFailedPrecondition (closed).
func (s *store) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := s.lookup(req.KeyID)
	if err != nil {
		return nil, err
	}
	sig, err := sdk.SignWith(e.signer, req)
	if err != nil {
		return nil, fmt.Errorf("keystore-file: %w", err)
	}
	return sig, nil
}
