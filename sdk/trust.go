package sdk

import "context"

// TrustCert is one certificate a trust source offers the bundler.
type TrustCert struct {
	DER []byte
	// Root marks a trust anchor; otherwise the certificate is an
	// intermediate offered for path building, trusted only through a root.
	Root bool
	// Source says where the certificate came from (a file, "system"), for
	// the bundler's messages.
	Source string
}

// Platform is a client platform whose root store the bundler weighs when it
// picks the most compatible chain (CFSSL's ca-bundle metadata).
type Platform struct {
	Name   string
	Weight int // >= 0; a chain trusted on heavier platforms wins
	// HashAlgo is the strongest signature hash the platform verifies:
	// "SHA1" or "SHA2" ("" means SHA2).
	HashAlgo string
	// KeyAlgo is the strongest key the platform verifies: "RSA",
	// "ECDSA256", "ECDSA384" or "ECDSA521" ("" means ECDSA521).
	KeyAlgo string
	// AllRoots marks a platform that trusts every root (CFSSL metadata
	// with no keystore); Roots is then empty.
	AllRoots bool
	// Roots identify the roots the platform trusts: the SHA-1 (lowercase
	// hex, no separators) of each root's raw subject public key info, as
	// CFSSL's metadata matches them, so a re-issued root with the same key
	// is the same root.
	Roots []string
}

// Trust is a source of roots and intermediates for the bundler (kind
// KindTrust). Several trust instances combine. Errors: ErrUnavailable (the
// source cannot be read now: a directory gone, the OS store unreadable);
// content the source cannot parse fails Configure with diagnostics, so
// Certificates never yields a DER that does not parse.
type Trust interface {
	Instance
	// Certificates calls fn for each certificate, roots and intermediates,
	// streaming: it must not need them all in memory at once. An error
	// from fn stops the listing and is returned.
	Certificates(ctx context.Context, fn func(*TrustCert) error) error
	// Platforms returns the source's platform metadata, or none.
	Platforms(ctx context.Context) ([]Platform, error)
	// Watch returns a channel that receives a value each time the
	// source's content changes (the host then reads it again) and is
	// closed when ctx ends. A source that never changes returns a nil
	// channel.
	Watch(ctx context.Context) (<-chan struct{}, error)
}
