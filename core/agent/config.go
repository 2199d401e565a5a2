// Package agent keeps certificate and key files renewed from a pkid CA for
// programs not written in Go (docs/agent.md): each certificate block of
// its HCL configuration is a transport.Transport whose renewals are written
// to files atomically, with owner, group and mode, then announced to the
// program by a reload action. A status endpoint serves JSON and metrics.
package agent

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2/hclsimple"
	"github.com/pkid/pkid/core/ca/csr"
)

// Config is an agent configuration file.
type Config struct {
	Agent        AgentBlock  `hcl:"agent,block"`
	Certificates []CertBlock `hcl:"certificate,block"`
}

// AgentBlock holds the settings shared by every certificate.
type AgentBlock struct {
	// Listen is the status endpoint's address ("127.0.0.1:9180"); empty:
	// none.
	Listen string  `hcl:"listen,optional"`
	CA     CABlock `hcl:"ca,block"`
	// RenewAt and Jitter are transport.Config's (fractions of a lifetime).
	RenewAt float64 `hcl:"renew_at,optional"`
	Jitter  float64 `hcl:"jitter,optional"`
	// MinBackoff and MaxBackoff are Go durations ("1s", "5m").
	MinBackoff string `hcl:"min_backoff,optional"`
	MaxBackoff string `hcl:"max_backoff,optional"`
}

// CABlock says where certificates come from.
type CABlock struct {
	URL string `hcl:"url"`
	// RootCA is a PEM file verifying pkid's TLS certificate (empty: the
	// system pool).
	RootCA string `hcl:"root_ca,optional"`
	// AuthKey (hex) or AuthKeyFile (a file holding the hex) authenticate
	// the first certificate (authsign).
	AuthKey     string `hcl:"auth_key,optional"`
	AuthKeyFile string `hcl:"auth_key_file,optional"`
	Label       string `hcl:"label,optional"`
	Profile     string `hcl:"profile,optional"`
}

// CertBlock is one certificate the agent keeps renewed.
type CertBlock struct {
	Name  string   `hcl:"name,label"`
	CN    string   `hcl:"cn,optional"`
	Hosts []string `hcl:"hosts,optional"`
	// Label and Profile override the ca block's.
	Label   string `hcl:"label,optional"`
	Profile string `hcl:"profile,optional"`
	// KeyAlgo ("ecdsa", "rsa", "ed25519") and KeySize; default ECDSA P-256.
	KeyAlgo string `hcl:"key_algo,optional"`
	KeySize int    `hcl:"key_size,optional"`

	CertFile string `hcl:"cert_file"`
	KeyFile  string `hcl:"key_file"`
	// ChainFile gets the CA certificates above the leaf; BundleFile the
	// leaf followed by them (nginx's ssl_certificate).
	ChainFile  string `hcl:"chain_file,optional"`
	BundleFile string `hcl:"bundle_file,optional"`
	// Owner and Group (names or numeric ids) own every file written.
	Owner string `hcl:"owner,optional"`
	Group string `hcl:"group,optional"`
	// KeyMode (default "0600") and CertMode (default "0644") are octal.
	KeyMode  string `hcl:"key_mode,optional"`
	CertMode string `hcl:"cert_mode,optional"`

	Reload *ReloadBlock `hcl:"reload,block"`
}

// ReloadBlock is what tells the program about a new certificate: exactly
// one of a command, a signal to the process in a pid file, or a systemd
// unit to reload.
type ReloadBlock struct {
	Command     []string `hcl:"command,optional"`
	Signal      string   `hcl:"signal,optional"`
	PIDFile     string   `hcl:"pid_file,optional"`
	SystemdUnit string   `hcl:"systemd_unit,optional"`
	// Timeout bounds a command (default "30s").
	Timeout string `hcl:"timeout,optional"`
}

// Load reads and checks an agent configuration. Errors carry the file's
// line and column for syntax and schema problems.
func Load(path string) (*Config, error) {
	var c Config
	if err := hclsimple.DecodeFile(path, nil, &c); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("agent: %s: %w", path, err)
	}
	return &c, nil
}

// check validates what the schema cannot.
func (c *Config) check() error {
	if c.Agent.CA.URL == "" {
		return errors.New("ca: url is empty")
	}
	if !strings.HasPrefix(c.Agent.CA.URL, "https://") {
		return fmt.Errorf("ca: url %q: renewal authenticates with the current certificate, so it needs https", c.Agent.CA.URL)
	}
	if _, err := c.Agent.authKey(); err != nil {
		return err
	}
	for _, d := range []string{c.Agent.MinBackoff, c.Agent.MaxBackoff} {
		if d == "" {
			continue
		}
		if _, err := time.ParseDuration(d); err != nil {
			return fmt.Errorf("backoff %q: %w", d, err)
		}
	}
	if len(c.Certificates) == 0 {
		return errors.New("no certificate block")
	}
	seen := map[string]string{}
	for _, cb := range c.Certificates {
		if cb.CN == "" && len(cb.Hosts) == 0 {
			return fmt.Errorf("certificate %q: neither cn nor hosts", cb.Name)
		}
		for _, p := range []string{cb.CertFile, cb.KeyFile, cb.ChainFile, cb.BundleFile} {
			if p == "" {
				continue
			}
			abs, _ := filepath.Abs(p)
			if other, ok := seen[abs]; ok {
				return fmt.Errorf("certificate %q: file %s is also written by certificate %q", cb.Name, p, other)
			}
			seen[abs] = cb.Name
		}
		for _, m := range []string{cb.KeyMode, cb.CertMode} {
			if _, err := parseMode(m, 0); err != nil {
				return fmt.Errorf("certificate %q: %w", cb.Name, err)
			}
		}
		if _, err := cb.keyRequest(); err != nil {
			return fmt.Errorf("certificate %q: %w", cb.Name, err)
		}
		if r := cb.Reload; r != nil {
			n := 0
			for _, set := range []bool{len(r.Command) > 0, r.Signal != "" || r.PIDFile != "", r.SystemdUnit != ""} {
				if set {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("certificate %q: reload needs exactly one of command, signal with pid_file, systemd_unit", cb.Name)
			}
			if (r.Signal != "") != (r.PIDFile != "") {
				return fmt.Errorf("certificate %q: reload: signal and pid_file go together", cb.Name)
			}
			if r.Signal != "" {
				if _, err := parseSignal(r.Signal); err != nil {
					return fmt.Errorf("certificate %q: %w", cb.Name, err)
				}
			}
			if r.Timeout != "" {
				if _, err := time.ParseDuration(r.Timeout); err != nil {
					return fmt.Errorf("certificate %q: reload timeout: %w", cb.Name, err)
				}
			}
		}
	}
	return nil
}

func (a AgentBlock) authKey() ([]byte, error) {
	h := a.CA.AuthKey
	if a.CA.AuthKeyFile != "" {
		if h != "" {
			return nil, errors.New("ca: auth_key and auth_key_file are exclusive")
		}
		b, err := os.ReadFile(a.CA.AuthKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ca: auth_key_file: %w", err)
		}
		h = strings.TrimSpace(string(b))
	}
	if h == "" {
		return nil, errors.New("ca: no auth_key or auth_key_file: the first certificate needs one")
	}
	k, err := hex.DecodeString(h)
	if err != nil || len(k) < 16 {
		return nil, errors.New("ca: auth_key must be at least 16 bytes written as hex")
	}
	return k, nil
}

func (cb CertBlock) keyRequest() (*csr.KeyRequest, error) {
	if cb.KeyAlgo == "" && cb.KeySize == 0 {
		return csr.DefaultKeyRequest(), nil
	}
	kr := &csr.KeyRequest{Algo: cb.KeyAlgo, Size: cb.KeySize}
	switch {
	case kr.Algo == csr.AlgoECDSA && (kr.Size == 256 || kr.Size == 384 || kr.Size == 521):
	case kr.Algo == "rsa" && kr.Size >= 2048 && kr.Size <= 8192:
	case kr.Algo == "ed25519":
	default:
		return nil, fmt.Errorf("key_algo %q key_size %d: want ecdsa 256/384/521, rsa 2048-8192 or ed25519", cb.KeyAlgo, cb.KeySize)
	}
	return kr, nil
}

func parseMode(s string, def os.FileMode) (os.FileMode, error) {
	if s == "" {
		return def, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("mode %q: want octal permission bits such as \"0640\"", s)
	}
	return os.FileMode(m), nil
}

var signals = map[string]syscall.Signal{"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "WINCH": syscall.SIGWINCH}

func parseSignal(s string) (syscall.Signal, error) {
	sig, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	if !ok {
		return 0, fmt.Errorf("reload: unknown signal %q (known: HUP USR1 USR2 TERM INT QUIT WINCH)", s)
	}
	return sig, nil
}
