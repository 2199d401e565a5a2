package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

func gencrlCmd(e *env) *command {
	var cf compatFlags
	return &command{
		synopsis: "Generate a CRL from a list of serial numbers (CFSSL gencrl)",
		help: `
Usage: pkid gencrl SERIALFILE CERT KEY [SECONDS]

  Prints a CRL as base64 DER and a newline (CFSSL's shape), signed with
  the CA key in the file KEY for the CA certificate CERT, listing the
  decimal serial numbers of SERIALFILE (one per line; blank lines and
  lines starting with # are skipped), all revoked now without a reason.
  SECONDS is the time to nextUpdate (0 or absent: one week). "-" as a
  file reads stdin. A configured CA's own CRL comes from pkid crl.
`,
		run: func(args []string) error {
			fs := newFlags("gencrl")
			cf.register(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() < 3 || fs.NArg() > 4 {
				return usagef("want SERIALFILE CERT KEY [SECONDS]")
			}
			a := fs.Args()
			validity := 7 * 24 * time.Hour
			if len(a) == 4 {
				n, err := strconv.ParseInt(strings.TrimSpace(a[3]), 0, 32)
				if err != nil || n < 0 {
					return fmt.Errorf("SECONDS %q: want a number of seconds", a[3])
				}
				if n > 0 {
					validity = time.Duration(n) * time.Second
				}
			}
			serialData, err := readInput(e, a[0])
			if err != nil {
				return err // it names the file
			}
			serials, err := parseSerialList(serialData)
			if err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			certPEM, err := readInput(e, a[1])
			if err != nil {
				return err // it names the file
			}
			cert, err := parseCertificatePEM(certPEM)
			if err != nil {
				return fmt.Errorf("%s: malformed certificate: %w", a[1], err)
			}
			keyPEM, err := readInput(e, a[2])
			if err != nil {
				return err // it names the file
			}
			key, err := csr.ParsePrivateKey(keyPEM)
			if err != nil {
				return fmt.Errorf("%s: malformed private key: %w", a[2], err)
			}
			if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
				return fmt.Errorf("%s does not match the certificate %s", a[2], a[1])
			}
			der, err := ca.SerialsCRL(context.Background(), cert, key, serials, validity)
			if err != nil {
				return fmt.Errorf("signing the CRL: %w", err)
			}
			_, err = fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(der))
			return err
		},
	}
}

// parseSerialList reads decimal serial numbers, one per line.
func parseSerialList(data []byte) ([]*big.Int, error) {
	var out []*big.Int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok || n.Sign() < 0 {
			return nil, fmt.Errorf("line %d: %q is not a decimal serial number", line, s)
		}
		out = append(out, n)
	}
	return out, sc.Err()
}
