// Package lint runs pre-issuance zlint checks on to-be-signed certificates.
//
// The CA builds a Linter from a profile's lint settings (New), makes a
// lint copy of the certificate it is about to sign (PreIssuance), runs the
// lints on it (Linter.Lint) and refuses issuance when a finding reaches the
// profile's level (Report.Err). Findings below the level that are warnings
// or worse are reported by Report.Warnings.
//
// The default lint set suits an internal PKI: the RFC sources (RFC5280,
// RFC5480, RFC5891, RFC8813, RFC3279, RFC6962) and the Community lints.
// Profiles for the web PKI opt into CABF_BR (and others) explicitly.
package lint
