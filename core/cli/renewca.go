package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
)

// renewCA is `gencert -renewca -ca C -ca-key K`: the self-signed CA
// certificate re-issued with the same subject, key and extensions and a
// fresh validity of the same length. Prints {"cert"}.
func renewCA(e *env, cf *compatFlags) error {
	if cf.ca == "" || cf.caKey == "" {
		return usagef("-renewca needs -ca and -ca-key")
	}
	certPEM, err := readInput(e, cf.ca)
	if err != nil {
		return fmt.Errorf("reading -ca: %w", err)
	}
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return fmt.Errorf("-ca %s: %w", cf.ca, err)
	}
	keyPEM, err := readInput(e, cf.caKey)
	if err != nil {
		return fmt.Errorf("reading -ca-key: %w", err)
	}
	key, err := csr.ParsePrivateKey(keyPEM)
	if err != nil {
		return fmt.Errorf("-ca-key %s: %w", cf.caKey, err)
	}
	renewed, err := ca.RenewCA(context.Background(), cert, key, time.Now())
	if err != nil {
		return err
	}
	printWarnings(e, renewed.Warnings)
	return writeResult(e, map[string]string{"cert": string(renewed.PEM())})
}
