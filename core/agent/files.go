package agent

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// tempPrefix starts the name of every file the agent writes before
// renaming it into place; leftovers of a killed agent are removed at start.
const tempPrefix = ".pkid-agent-"

// owner is a resolved owner and group (-1: unchanged).
type owner struct{ uid, gid int }

func resolveOwner(u, g string) (owner, error) {
	o := owner{-1, -1}
	if u != "" {
		id, err := lookupID(u, func(n string) (string, error) {
			x, err := user.Lookup(n)
			if err != nil {
				return "", err
			}
			return x.Uid, nil
		})
		if err != nil {
			return o, fmt.Errorf("owner %q: %w", u, err)
		}
		o.uid = id
	}
	if g != "" {
		id, err := lookupID(g, func(n string) (string, error) {
			x, err := user.LookupGroup(n)
			if err != nil {
				return "", err
			}
			return x.Gid, nil
		})
		if err != nil {
			return o, fmt.Errorf("group %q: %w", g, err)
		}
		o.gid = id
	}
	return o, nil
}

func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	s, err := lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// pending is a file written to a temporary name, waiting for its rename.
type pending struct{ tmp, path string }

// writeTemp writes data to a temporary file beside path with mode and
// owner, synced to disk.
func writeTemp(path string, data []byte, mode os.FileMode, o owner) (pending, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return pending{}, err
	}
	p := pending{tmp: f.Name(), path: path}
	fail := func(err error) (pending, error) {
		f.Close()
		os.Remove(p.tmp)
		return pending{}, fmt.Errorf("%s: %w", path, err)
	}
	// Mode and owner before the content: the key is never readable by
	// anyone the final file would not admit.
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if o.uid >= 0 || o.gid >= 0 {
		if err := f.Chown(o.uid, o.gid); err != nil {
			return fail(err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return p, nil
}

// writeSet writes files so that each path holds either its old or its new
// content in full at any instant: every file goes to a synced temporary
// first, then each is renamed over its path and the directories synced.
// A crash between two renames can pair a new key with an old certificate;
// the agent detects that at start (the pair does not match) and renews.
func writeSet(files []fileSpec, o owner) error {
	var done []pending
	cleanup := func() {
		for _, p := range done {
			os.Remove(p.tmp)
		}
	}
	for _, f := range files {
		p, err := writeTemp(f.path, f.data, f.mode, o)
		if err != nil {
			cleanup()
			return err
		}
		done = append(done, p)
	}
	dirs := map[string]bool{}
	for i, p := range done {
		if err := os.Rename(p.tmp, p.path); err != nil {
			cleanup()
			return fmt.Errorf("%s: %w", p.path, err)
		}
		done[i].tmp = ""
		dirs[filepath.Dir(p.path)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// fileSpec is one file to write.
type fileSpec struct {
	path string
	data []byte
	mode os.FileMode
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// removeTemps deletes what a killed agent left behind next to paths.
func removeTemps(paths []string) {
	for _, p := range paths {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), tempPrefix+filepath.Base(p)+"-*"))
		for _, m := range matches {
			os.Remove(m)
		}
	}
}

// pemFiles renders a certificate as the files of cb.
func (m *managed) pemFiles(c *tls.Certificate) ([]fileSpec, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the key: %w", err)
	}
	leaf := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	var chain []byte
	for _, der := range c.Certificate[1:] {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	files := []fileSpec{
		{m.spec.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), m.keyMode},
		{m.spec.CertFile, leaf, m.certMode},
	}
	if m.spec.ChainFile != "" {
		files = append(files, fileSpec{m.spec.ChainFile, chain, m.certMode})
	}
	if m.spec.BundleFile != "" {
		files = append(files, fileSpec{m.spec.BundleFile, append(append([]byte{}, leaf...), chain...), m.certMode})
	}
	return files, nil
}

// readExisting loads the certificate and key files written earlier, with
// the chain file when there is one; nil when they are missing, unreadable
// or do not match.
func (m *managed) readExisting() *tls.Certificate {
	certPEM, err := os.ReadFile(m.spec.CertFile)
	if err != nil {
		return nil
	}
	keyPEM, err := os.ReadFile(m.spec.KeyFile)
	if err != nil {
		return nil
	}
	if m.spec.ChainFile != "" {
		if chain, err := os.ReadFile(m.spec.ChainFile); err == nil {
			certPEM = append(append(certPEM, '\n'), chain...)
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil
	}
	if c.Leaf == nil || !strings.EqualFold(c.Leaf.Subject.CommonName, m.spec.CN) && m.spec.CN != "" {
		return nil
	}
	// renew keeps a certificate's names: one whose names the configuration
	// no longer lists is replaced, not renewed.
	if len(m.spec.Hosts) > 0 && !sameHosts(c.Leaf, m.spec.Hosts) {
		return nil
	}
	return &c
}

// sameHosts reports whether leaf's SANs are exactly hosts.
func sameHosts(leaf *x509.Certificate, hosts []string) bool {
	var have []string
	have = append(have, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		have = append(have, ip.String())
	}
	have = append(have, leaf.EmailAddresses...)
	for _, u := range leaf.URIs {
		have = append(have, u.String())
	}
	want := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		}
		want = append(want, h)
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(slices.Compact(have), slices.Compact(want))
}
