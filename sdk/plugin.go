// Package sdk is everything a pkid plugin author imports: the plain Go
// interfaces a plugin implements, the schema builder for its HCL block, and
// Main/Serve, which run it as a go-plugin gRPC server. Authors never touch
// protobuf: the adapter behind Main translates, multiplexes instances and
// batches the hot paths (signing, certificate writes) onto streams. The
// host's side of the protocol is package sdk/rpc, which plugins never need.
//
// Optional abilities are optional interfaces (KeyImporter, BatchPutter, Leaser,
// Commander): the adapter finds them by type assertion on the instance
// Configure returns and tells the host, whose view of the instance
// implements the same ones. Plugins declare no capability strings and never
// check cfg.Kind: the host calls them only for kinds their Info lists.
// docs/plugin-guide.md walks through a keystore.
package sdk

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Plugin kinds.
const (
	KindKeyStore  = "keystore"
	KindCertStore = "certstore"
	KindTrust     = "trust"
	KindScanCheck = "scancheck"
)

// Info describes a plugin build. What an instance can do beyond its kind's
// interface is not declared here: the host learns it from the optional
// interfaces the instance implements (KeyImporter, BatchPutter, Leaser).
type Info struct {
	Name        string   // plugin type, e.g. "file"
	Version     string   // semantic version
	Kinds       []string // KindKeyStore, KindCertStore, ...
	Description string
}

// Config is an instance's decoded configuration block. Kind is always one
// of the plugin's Info().Kinds: the host checks it before calling.
type Config struct {
	Kind     string
	Instance string
	// JSON is the block's value as the core decoded it against the schema.
	JSON json.RawMessage
	// LiteralSecrets names the sensitive attributes the operator wrote as
	// literal values in the file rather than computing them with env() or
	// file(). Plugins may refuse those (a PIN in a config file leaks with
	// it). It never carries a value.
	LiteralSecrets []string
}

// Decode unmarshals the configuration into v.
func (c Config) Decode(v any) error {
	if len(c.JSON) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.JSON, v); err != nil {
		return fmt.Errorf("decoding %s %q config: %w", c.Kind, c.Instance, err)
	}
	return nil
}

// Plugin is implemented by every plugin type. One process may host several
// named instances of it; Configure is called once per instance.
type Plugin interface {
	Info() Info
	// Schema returns the schema of the block for kind.
	Schema(kind string) *Schema
	// ValidateConfig checks a configuration without side effects.
	ValidateConfig(ctx context.Context, cfg Config) Diagnostics
	// Configure creates the instance. The returned value implements the
	// interface of cfg.Kind (KeyStore, CertStore, Trust, ScanCheck) and any
	// optional interfaces it supports. Errors should wrap
	// ErrUnauthenticated for wrong credentials, or be *DiagnosticsError
	// for configuration problems.
	Configure(ctx context.Context, cfg Config) (Instance, error)
}

// Instance is a configured plugin instance.
type Instance interface {
	// Close releases the instance's resources. It is called when the
	// instance is replaced or the host shuts down.
	Close() error
}

// Commander is optional: plugins that implement it add CLI subcommands, exposed as
// `pkid <kind> <type> <command> ...`.
type Commander interface {
	Commands() []Command
	// RunCommand runs one command; the returned int is the exit code.
	RunCommand(ctx context.Context, req CommandRequest) (int, error)
}

// Command describes a plugin CLI subcommand.
type Command struct {
	Kind     string
	Name     string
	Synopsis string
	Help     string
}

// CommandRequest is one invocation of a plugin command.
type CommandRequest struct {
	Kind   string
	Name   string
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// ---------------------------------------------------------------------------
// KeyStore

// Key algorithms, as names used in configs, CLIs and KeyInfo.
const (
	AlgRSA2048   = "rsa-2048"
	AlgRSA3072   = "rsa-3072"
	AlgRSA4096   = "rsa-4096"
	AlgECDSAP256 = "ecdsa-p256"
	AlgECDSAP384 = "ecdsa-p384"
	AlgECDSAP521 = "ecdsa-p521"
	AlgEd25519   = "ed25519"
)

// KeyInfo describes a key; it never carries private material.
type KeyInfo struct {
	ID         string
	Algorithm  string
	PublicKey  crypto.PublicKey
	CreatedAt  time.Time
	Attributes map[string]string
}

// GenerateKeyRequest asks for a new key inside the keystore.
type GenerateKeyRequest struct {
	ID         string // empty: the keystore chooses one
	Algorithm  string // one of the Alg* constants
	Attributes map[string]string
}

// ImportKeyRequest (KeyImporter) brings an existing private key (PEM: PKCS#1, SEC1, PKCS#8,
// including CFSSL's ca-key.pem) into the keystore.
type ImportKeyRequest struct {
	ID  string
	PEM []byte
}

// SignRequest asks for a signature over Digest.
type SignRequest struct {
	KeyID string
	// Digest is the hash of the message; for Ed25519 (Hash == 0) the message.
	Digest []byte
	Hash   crypto.Hash
	// PSS selects RSASSA-PSS for RSA keys; SaltLength as in crypto/rsa.
	PSS        bool
	SaltLength int
}

// KeyStore holds private keys and signs with them. Errors:
// ErrNotFound (unknown key), ErrInvalidArgument (bad algorithm, id or digest),
// ErrAlreadyExists (id taken), ErrUnimplemented (unsupported operation),
// ErrUnavailable (backend temporarily unreachable).
type KeyStore interface {
	Instance
	GenerateKey(ctx context.Context, req GenerateKeyRequest) (*KeyInfo, error)
	ListKeys(ctx context.Context) ([]KeyInfo, error)
	PublicKey(ctx context.Context, id string) (*KeyInfo, error)
	Sign(ctx context.Context, req SignRequest) ([]byte, error)
}

// KeyImporter is optional: keystores that can take in an existing private
// key implement it (a keystore that only generates keys inside a token does
// not, and the host then says it cannot import without asking). Errors as
// KeyStore's, with ErrInvalidArgument for a PEM that holds no usable key.
type KeyImporter interface {
	ImportKey(ctx context.Context, req ImportKeyRequest) (*KeyInfo, error)
}

// ---------------------------------------------------------------------------
// CertStore

// Certificate statuses.
const (
	StatusGood    = "good"
	StatusRevoked = "revoked"
)

// CertRecord is one issued certificate.
type CertRecord struct {
	Serial      string // decimal, no sign or leading zeros (CheckSerial; CheckRecord applies every rule)
	AKI         string // lowercase hex, no separators (NormalizeAKI)
	IssuerLabel string
	Subject     string
	SANs        []string
	NotBefore   time.Time
	NotAfter    time.Time
	Status      string // StatusGood or StatusRevoked
	// RevocationReason is an RFC 5280 CRLReason code.
	RevocationReason int
	RevokedAt        time.Time
	Profile          string
	DER              []byte
	Metadata         json.RawMessage
	CreatedAt        time.Time
}

// ListFilter selects records; zero fields do not filter.
type ListFilter struct {
	IssuerLabel   string
	AKI           string
	Status        string
	ExpiresBefore time.Time // NotAfter < ExpiresBefore
	ExpiresAfter  time.Time // NotAfter > ExpiresAfter
	Limit         int
	// Descending lists the latest NotAfter first (serials descending
	// within one NotAfter), so Limit keeps the records that expire last:
	// the newest where lifetimes match (the dashboard's recent issuance).
	Descending bool
}

// RevokeRequest marks a certificate revoked.
type RevokeRequest struct {
	Serial    string
	AKI       string
	Reason    int
	RevokedAt time.Time // zero: now
}

// OCSPRecord is a pre-signed OCSP response.
type OCSPRecord struct {
	Serial     string
	AKI        string
	Response   []byte
	NextUpdate time.Time
}

// CertStore records issued certificates. Errors: ErrNotFound (no such
// record), ErrAlreadyExists (Put of a different certificate under an existing
// serial+AKI), ErrFailedPrecondition (revoking with a different reason),
// ErrUnavailable (database unreachable; retryable).
type CertStore interface {
	Instance
	// Put stores a record durably before returning. Putting the same
	// certificate again succeeds (idempotent on serial+AKI).
	Put(ctx context.Context, rec *CertRecord) error
	Get(ctx context.Context, serial, aki string) (*CertRecord, error)
	// List calls fn for each matching record, ordered by NotAfter then
	// serial (both reversed when f.Descending), streaming: it must not
	// hold all records in memory. An error from fn stops the listing and
	// is returned.
	List(ctx context.Context, f ListFilter, fn func(*CertRecord) error) error
	// Revoke is idempotent for the same reason; another reason is
	// ErrFailedPrecondition.
	Revoke(ctx context.Context, req RevokeRequest) error
	PutOCSP(ctx context.Context, rec *OCSPRecord) error
	GetOCSP(ctx context.Context, serial, aki string) (*OCSPRecord, error)
}

// BatchPutter is optional: stores that implement it receive concurrent Puts
// as one call, so a batch is one transaction and one fsync. The returned
// slice has one entry per record (nil on success); a returned error fails
// the whole batch.
type BatchPutter interface {
	PutBatch(ctx context.Context, recs []*CertRecord) ([]error, error)
}
