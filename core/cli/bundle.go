package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pkid/pkid/core/aia"
	"github.com/pkid/pkid/core/bundle"
	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/core/egress"
	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/core/trustpool"
	"github.com/pkid/pkid/sdk"
)

// bundleTimeout bounds one pkid bundle run: the trust source, the remote
// handshake and AIA fetches.
const bundleTimeout = 2 * time.Minute

func bundleCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Build a certificate bundle (CFSSL's bundle)",
		help: `
Usage: pkid bundle -cert FILE [-key FILE] [-domain NAME] [-ip ADDR] [options]
       pkid bundle -domain NAME[:PORT] [-ip ADDR] [options]

  Builds the chain from a certificate to a trusted root and prints CFSSL's
  bundle object (one JSON line). With -cert, -domain and -ip are checked
  against the certificate; alone, -domain fetches the chain the server
  presents on port 443 (dialing -ip when given). FILE may be PEM, DER,
  PKCS#7 or (with -password) PKCS#12; "-" reads stdin.

  -flavor       ubiquitous (default; also any unknown value), optimal or force
  -ca-bundle    PEM roots (default: the operating system's roots)
  -int-bundle   PEM intermediates offered for path building
  -int-dir      directory where intermediates fetched over AIA are stashed
  -metadata     CFSSL platform metadata (ubiquity weights and root stores)
  -ct-log-list  v3 JSON CT log list (file or http(s) URL): the SCTs embedded
                in the certificate are verified against its logs and
                reported in "scts" and status messages (a pkid addition)
  -ct-log-list-key  PEM public key the log list's signature (LIST.sig)
                must verify with

  The trust files are read by the builtin trust plugin "files" (in its own
  process, as the daemon's trust blocks). Missing intermediates are fetched
  from the certificates' AIA URLs; the CLI dials whatever it is given.
`,
		run: func(args []string) error {
			fs := newFlags("bundle")
			var domain, ip, flavor, caBundle, intBundle, intDir, metadata, ctList, ctListKey string
			fs.StringVar(&domain, "domain", "", "server name to check, or to fetch the chain from")
			fs.StringVar(&ip, "ip", "", "IP address to check, or to dial with -domain")
			fs.StringVar(&flavor, "flavor", "ubiquitous", "ubiquitous, optimal or force")
			fs.StringVar(&caBundle, "ca-bundle", "", "PEM file of trusted roots (default: the OS roots)")
			fs.StringVar(&intBundle, "int-bundle", "", "PEM file of intermediates")
			fs.StringVar(&intDir, "int-dir", "", "stash directory for intermediates fetched over AIA")
			fs.StringVar(&metadata, "metadata", "", "CFSSL platform metadata file")
			fs.StringVar(&ctList, "ct-log-list", "", "v3 JSON CT log list (file or URL) to verify embedded SCTs with")
			fs.StringVar(&ctListKey, "ct-log-list-key", "", "PEM public key of the log list's signer")
			cf.register(fs)
			if err := parseFlagsNoArgs(fs, args); err != nil {
				return err
			}
			if cf.cert == "" && domain == "" {
				return usagef("give -cert or -domain")
			}
			if ctListKey != "" && ctList == "" {
				return usagef("-ct-log-list-key goes with -ct-log-list")
			}
			req := bundle.Request{Flavor: bundle.ParseFlavor(flavor)}
			if ip != "" {
				if req.IP = net.ParseIP(ip); req.IP == nil {
					return usagef("-ip %q is not an IP address", ip)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), bundleTimeout)
			defer cancel()
			policy := egress.Unrestricted()
			if cf.cert != "" {
				data, err := readInput(e, cf.cert)
				if err != nil {
					return err
				}
				password := cf.password
				if password == "0" { // CFSSL's default: no PKCS#12 password given
					password = ""
				}
				chain, key, err := bundle.ParseChain(data, password)
				if err != nil {
					return bundleFailure("-cert "+cf.cert, err)
				}
				req.Chain, req.Key, req.Hostname = chain, key, domain
				if cf.key != "" {
					kb, err := readInput(e, cf.key)
					if err != nil {
						return err
					}
					if req.Key, err = bundle.ParseKey(kb); err != nil {
						return bundleFailure("-key "+cf.key, err)
					}
					req.KeyPEM = kb
				}
			} else {
				host, port, err := net.SplitHostPort(domain)
				if err != nil {
					host, port = strings.Trim(domain, "[]"), "443"
				}
				addr := host
				if req.IP != nil {
					addr = req.IP.String()
				}
				if req.Chain, err = policy.PeerCertificates(ctx, net.JoinHostPort(addr, port), host); err != nil {
					return fmt.Errorf("bundle: %w", err)
				}
				req.Hostname, req.IP = host, nil
			}
			pool, closeTrust, err := cliTrustPool(ctx, caBundle, intBundle, metadata)
			if err != nil {
				return err
			}
			defer closeTrust()
			b := &bundle.Bundler{Pool: pool, Fetcher: &aia.Fetcher{Policy: policy}, Stash: intDir}
			if ctList != "" {
				if b.SCTs, err = cliSCTVerifier(ctx, e, ctList, ctListKey); err != nil {
					return err
				}
			}
			out, err := b.Bundle(ctx, req)
			if err != nil {
				return bundleFailure("bundle", err)
			}
			j, err := json.Marshal(out)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", j)
			return err
		},
	}
}

// cliSCTVerifier reads -ct-log-list (and checks its signature with
// -ct-log-list-key) before bundling, so that a list that cannot be used
// is the command's error rather than a note in its output.
func cliSCTVerifier(ctx context.Context, e *env, list, keyFile string) (*ct.LogListVerifier, error) {
	var keyDER []byte
	if keyFile != "" {
		kb, err := readInput(e, keyFile)
		if err != nil {
			return nil, err
		}
		if keyDER, err = config.ParseCTKey(string(kb), false); err != nil {
			return nil, fmt.Errorf("-ct-log-list-key %s: %w", keyFile, err)
		}
	}
	v := ct.NewLogListVerifier(list, keyDER, nil)
	if err := v.Load(ctx); err != nil {
		return nil, fmt.Errorf("-ct-log-list %s: %w", list, err)
	}
	return v, nil
}

// bundleFailure is a one-line error carrying the bundler's CFSSL code.
func bundleFailure(what string, err error) error {
	var be *bundle.Error
	if errors.As(err, &be) {
		return fmt.Errorf("%s: %s (code %d)", what, be.Error(), be.Code)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// cliTrustPool starts a trust-files instance through the plugin host with
// the CLI's files (the OS roots when caBundle is empty) and builds the
// pool from it. The returned func stops the plugin.
func cliTrustPool(ctx context.Context, caBundle, intBundle, metadata string) (*bundle.Pool, func(), error) {
	cfg := map[string]any{"roots": nil, "intermediates": nil, "metadata": nil, "system": caBundle == "", "poll_interval": "0s"}
	if caBundle != "" {
		cfg["roots"] = []string{caBundle}
	}
	if intBundle != "" {
		cfg["intermediates"] = []string{intBundle}
	}
	if metadata != "" {
		cfg["metadata"] = metadata
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	newPlugin, ok := catalog.LookupBuiltin(sdk.KindTrust, "files")
	if !ok {
		return nil, nil, errors.New("bundle: the builtin trust plugin is missing")
	}
	host := newHost()
	spec := pluginhost.Spec{Kind: sdk.KindTrust, Type: "files", New: newPlugin}
	inst, err := host.Open(ctx, pluginhost.OpenRequest{Spec: spec, Name: "cli", Config: js})
	if err != nil {
		host.Close()
		var de *sdk.DiagnosticsError
		if errors.As(err, &de) {
			return nil, nil, fmt.Errorf("bundle: trust files: %v", de)
		}
		return nil, nil, fmt.Errorf("bundle: starting the trust plugin: %w", err)
	}
	tr, ok := inst.(sdk.Trust)
	if !ok {
		host.Close()
		return nil, nil, fmt.Errorf("bundle: the trust plugin returned %T", inst)
	}
	pool, err := trustpool.Build(ctx, map[string]sdk.Trust{"cli": tr})
	if err != nil {
		host.Close()
		return nil, nil, fmt.Errorf("bundle: %w", err)
	}
	return pool, host.Close, nil
}
