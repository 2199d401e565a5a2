package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is a loaded configuration: the merged content of all files.
// Zero values mean "not set"; the caller applies defaults.
type Config struct {
	Pkid       PkidBlock
	KeyStores  []*PluginBlock
	CertStores []*PluginBlock
	Trusts     []*PluginBlock // trust "TYPE" "NAME" blocks, combined by the bundler
	Bundle     BundleBlock
	ScanChecks []*PluginBlock // scancheck blocks: TLS scanner checks (docs/scanner-runner.md)
	Plugins    []*ExternalPlugin
	CAs        []*CA
	// Remotes are the remote blocks: CAs that forwarding profiles send
	// their requests to.
	Remotes []*Remote
	// Files holds every parsed file by name, for rendering diagnostics.
	Files map[string]*hcl.File
}

// PkidBlock is the daemon's own settings (the optional pkid block).
type PkidBlock struct {
	StateDir string
	Listen   string
	LogLevel string
	// TLS for the daemon's listener (empty: plain HTTP on loopback).
	TLS TLSBlock
	// AuthKeys are HMAC keys (hex in the configuration) named by profiles'
	// auth_key; "revoke" authorises the revoke endpoint.
	AuthKeys map[string]AuthKey
	// ClientCertPolicy maps an endpoint (or "*") to the client certificate
	// CN patterns allowed to call it.
	ClientCertPolicy map[string][]string
	MaxBodyBytes     int64
	// PublicURL is the base URL clients reach this daemon at (e.g.
	// "http://ca.example:8888"); issued certificates point their OCSP,
	// CRL and CA-issuer URLs under it. Empty: the daemon uses its listen
	// address; offline CLI issuance writes no URLs.
	PublicURL string
	// CRLPath and OCSPPath are where the daemon publishes CRLs
	// (CRLPath/LABEL.crl, CRLPath/LABEL-delta.crl) and answers OCSP;
	// defaults DefaultCRLPath and DefaultOCSPPath.
	CRLPath, OCSPPath string
	// CAPath serves CA certificates (CAPath/LABEL.crt, DER).
	CAPath string
	// EnableEndpoints turns on API endpoints that are off by default
	// ("gencrl"); DisableEndpoints turns endpoints off (CFSSL's -disable).
	EnableEndpoints, DisableEndpoints []string
	// Limits bound what one request may cost or ask for (the limits
	// block); zero fields mean the defaults (Limits.WithDefaults).
	Limits Limits
	// Scan, when set, enables the scan endpoints (scan.go).
	Scan *ScanSettings
	// Ops: the metrics listener and the audit log (docs/operations.md).
	Ops Ops
	// UI is the web dashboard's settings (the ui block).
	UI UI
	// DefRange is the block header's range; zero if there is no pkid block.
	DefRange hcl.Range
}

// Default limits (the pkid block's limits block).
const (
	DefaultMaxSANs             = 1000
	DefaultMaxCertificateBytes = 64 << 10
	DefaultMaxPathLen          = 32
	DefaultMaxRSABits          = 4096
	DefaultMaxKeyGenerations   = 2
)

// Limits bound the work and the size of what a request asks for. A zero
// field means its default.
type Limits struct {
	// MaxSANs caps the subject alternative names of one certificate.
	MaxSANs int
	// MaxCertificateBytes caps the DER size of an issued certificate.
	MaxCertificateBytes int
	// MaxPathLen caps a CA certificate's pathlen constraint.
	MaxPathLen int
	// MaxRSABits caps generated RSA keys (newkey, init_ca, gencert).
	MaxRSABits int
	// MaxKeyGenerations caps concurrent key generations in the daemon;
	// more get 429 with Retry-After.
	MaxKeyGenerations int
	DefRange          hcl.Range
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxSANs, DefaultMaxSANs)
	def(&l.MaxCertificateBytes, DefaultMaxCertificateBytes)
	def(&l.MaxPathLen, DefaultMaxPathLen)
	def(&l.MaxRSABits, DefaultMaxRSABits)
	def(&l.MaxKeyGenerations, DefaultMaxKeyGenerations)
	return l
}

// TLSBlock is the pkid block's tls block.
type TLSBlock struct {
	Cert, Key, ClientCA, MinVersion string
	DefRange                        hcl.Range
}

// AuthKey is an HMAC key for authenticated endpoints.
type AuthKey struct {
	Key      []byte
	DefRange hcl.Range
}

// Plugin instance kinds, as the block type names.
const (
	KindKeyStore  = "keystore"
	KindCertStore = "certstore"
	KindScanCheck = "scancheck"
)

// Isolation modes of a plugin instance.
const (
	IsolationProcess   = "process"
	IsolationInProcess = "inprocess"
)

// PluginBlock is one plugin instance: keystore "TYPE" "NAME" { ... } or
// certstore "TYPE" "NAME" { ... }.
type PluginBlock struct {
	Kind      string // KindKeyStore, KindCertStore, KindTrust or KindScanCheck
	Type      string // plugin type label
	Name      string // instance name label
	Isolation string // "", IsolationProcess or IsolationInProcess (checked by CheckTypes)
	// Body is the block body without the core's meta-attributes; decode it
	// with DecodePluginBody.
	Body                           hcl.Body
	DefRange, TypeRange, NameRange hcl.Range
	// EvalContext is the functions of the file the block is in.
	EvalContext *hcl.EvalContext

	isolationRange hcl.Range // range of the isolation value, if set
}

// ExternalPlugin is a third-party plugin binary: plugin "TYPE" { ... }.
type ExternalPlugin struct {
	Type string
	// Path is the binary; a relative path is resolved against the directory
	// of the file declaring it.
	Path   string
	SHA256 string   // lowercase hex digest the binary must have
	Env    []string // names of host environment variables passed through
	Args   []string
	// DefRange is the block header's range.
	DefRange hcl.Range
}

// CA is a certificate authority: ca "NAME" { ... }.
type CA struct {
	Name        string
	KeyStore    string // name of a declared keystore instance
	Key         string
	Certificate string
	Chain       string
	CertStore   string // name of a declared certstore instance, or ""

	KeyStoreRange, CertStoreRange, DefRange hcl.Range
	Profiles                                []*Profile

	// CRL and OCSP settings (never nil after loading: defaults applied).
	CRL  *CRLSettings
	OCSP *OCSPSettings
}

// Default publication paths.
const (
	DefaultCRLPath  = "/crl"
	DefaultOCSPPath = "/ocsp"
	DefaultCAPath   = "/ca"
)

// CRLSettings is a ca's crl block.
type CRLSettings struct {
	// URL is the CRL distribution point written into issued certificates
	// ("": PublicURL + CRLPath + "/LABEL.crl" when a public URL is known).
	URL string
	// DeltaURL is where delta CRLs are published ("": next to URL).
	DeltaURL string
	// Validity is nextUpdate - thisUpdate of full CRLs (default 168h).
	Validity time.Duration
	// Interval between scheduled full CRLs (default 1h).
	Interval time.Duration
	// DeltaInterval between delta CRLs (default 15m; 0 with
	// delta_interval = "0" turns deltas off).
	DeltaInterval time.Duration
	// OnRevoke regenerates the full CRL (and the delta when deltas are
	// on) after revocations, coalesced (default true).
	OnRevoke bool
	DefRange hcl.Range
}

// OCSPSettings is a ca's ocsp block.
type OCSPSettings struct {
	// URL is the OCSP responder written into issued certificates' AIA ("":
	// PublicURL + OCSPPath when a public URL is known).
	URL string
	// Validity is nextUpdate - thisUpdate of responses (default 96h).
	Validity time.Duration
	// RefreshInterval between pre-signing runs (default 1h); responses
	// expiring within RefreshWithin are re-signed (default Validity/2).
	RefreshInterval, RefreshWithin time.Duration
	// ResponderKey and ResponderCertificate name a delegated responder: a
	// key in the CA's keystore and its certificate (id-kp-OCSPSigning,
	// issued by the CA). Empty: the CA key signs responses.
	ResponderKey, ResponderCertificate string
	DefRange                           hcl.Range
}

// Profile is a signing profile of a CA; Body is decoded elsewhere.
type Profile struct {
	Name     string
	Body     hcl.Body
	DefRange hcl.Range
	// EvalContext evaluates the body's expressions (env(), file(), ...).
	EvalContext *hcl.EvalContext
}
