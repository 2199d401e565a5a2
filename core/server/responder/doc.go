// Package responder is pkid's OCSP responder (RFC 6960, RFC 5019): an
// http.Handler speaking CFSSL's ocspserve protocol (with the differences in
// docs/differences-from-cfssl.md, "OCSP responder") over
// a Source of DER responses, with an in-memory response cache.
//
// Mounting: the GET form carries the base64 request in the path, and
// standard base64 contains '/' (even "//"), '+' and '='. The handler reads
// the escaped path, so it survives "%2F" as well as raw slashes, but the
// daemon must not route it through an http.ServeMux pattern that cleans
// paths (ServeMux redirects paths containing "//" or "/./"). Mount it at the
// root of its own listener, or behind a plain prefix check plus
// http.StripPrefix, which leaves the rest of the path untouched.
//
// Status mapping: a request that is not an OCSP request → 400
// malformedRequest; Source ErrNotFound → 200 unauthorized; other Source
// errors or an unparsable Source response → 500 internalError (logged);
// bad URL escape or base64 → 400 malformedRequest too (CFSSL sends an
// empty body; RFC 6960, section 2.3 has one answer for malformed requests); POST
// bodies over
// Options.MaxBodyBytes → 413; methods other than GET and POST → 405 with
// `Allow: GET, POST`. The GET form accepts base64 with or without its "="
// padding; URL-safe base64 is not accepted.
package responder
