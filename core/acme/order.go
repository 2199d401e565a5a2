package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/server"
	"github.com/pkid/pkid/sdk"
)

var timeZero time.Time

// MaxIdentifiers bounds the identifiers of one order.
const MaxIdentifiers = 100

// orderJSON is the order object.
type orderJSON struct {
	Status         string       `json:"status"`
	Expires        time.Time    `json:"expires"`
	Identifiers    []Identifier `json:"identifiers"`
	NotBefore      *time.Time   `json:"notBefore,omitempty"`
	NotAfter       *time.Time   `json:"notAfter,omitempty"`
	Error          *problem     `json:"error,omitempty"`
	Authorizations []string     `json:"authorizations"`
	Finalize       string       `json:"finalize"`
	Certificate    string       `json:"certificate,omitempty"`
	Replaces       string       `json:"replaces,omitempty"`
}

// MaxProcessing is how long an order may read processing: a finalize
// ends well within it (its last write has 30 seconds), so an order still
// processing past it lost its end to a store failure and reads invalid.
const MaxProcessing = 5 * time.Minute

// orderStatus derives an order's status from its authorizations: a
// pending order whose authorizations are all valid is ready, one with an
// invalid or expired authorization is invalid.
func (rq *request) orderStatus(ctx context.Context, o *Order) (string, error) {
	if o.Status == StatusProcessing && !o.Processing.IsZero() && rq.s.now().Sub(o.Processing) > MaxProcessing {
		// The finalize that owned it could not record its end.
		return StatusInvalid, nil
	}
	if o.Status != StatusPending {
		return o.Status, nil
	}
	if rq.s.now().After(o.Expires) {
		return StatusInvalid, nil
	}
	all := true
	for _, id := range o.Authzs {
		a := new(Authz)
		if _, err := rq.s.docs.get(ctx, KindAuthz, id, a); err != nil {
			if errors.Is(err, sdk.ErrNotFound) {
				return StatusInvalid, nil
			}
			return "", err
		}
		switch rq.authzStatus(a) {
		case StatusValid:
		case StatusPending:
			all = false
		default:
			return StatusInvalid, nil
		}
	}
	if all {
		return StatusReady, nil
	}
	return StatusPending, nil
}

func (rq *request) orderObject(ctx context.Context, o *Order) (*orderJSON, error) {
	st, err := rq.orderStatus(ctx, o)
	if err != nil {
		return nil, err
	}
	out := &orderJSON{Status: st, Expires: o.Expires, Identifiers: o.Identifiers, Error: o.Error,
		Finalize: rq.base + "order/" + o.ID + "/finalize", Replaces: o.Replaces}
	if !o.NotBefore.IsZero() {
		out.NotBefore = &o.NotBefore
	}
	if !o.NotAfter.IsZero() {
		out.NotAfter = &o.NotAfter
	}
	for _, a := range o.Authzs {
		out.Authorizations = append(out.Authorizations, rq.base+"authz/"+a)
	}
	if o.Cert != "" {
		out.Certificate = rq.base + "cert/" + o.Cert
	}
	return out, nil
}

// normalizeIdentifier checks one identifier: a DNS name (optionally a
// wildcard) or an IP address (RFC 8738).
func normalizeIdentifier(id Identifier) (Identifier, bool, *problem) {
	bad := func(format string, a ...any) (Identifier, bool, *problem) {
		p := newProblem(http.StatusBadRequest, ProbRejectedIdentifier, format, a...)
		p.Identifier = &Identifier{Type: id.Type, Value: id.Value}
		return Identifier{}, false, p
	}
	switch id.Type {
	case "dns":
		v := strings.ToLower(id.Value)
		wild := false
		if rest, ok := strings.CutPrefix(v, "*."); ok {
			wild, v = true, rest
		}
		name, err := csr.DNSName(v)
		if err != nil || strings.Contains(name, "*") || net.ParseIP(name) != nil || !strings.Contains(name, ".") {
			return bad("%q is not a fully qualified DNS name", id.Value)
		}
		return Identifier{Type: "dns", Value: name}, wild, nil
	case "ip":
		ip := net.ParseIP(id.Value)
		if ip == nil {
			return bad("%q is not an IP address", id.Value)
		}
		return Identifier{Type: "ip", Value: ip.String()}, false, nil
	}
	p := newProblem(http.StatusBadRequest, ProbUnsupportedIdentifier, "identifier type %q is not supported (dns, ip)", id.Type)
	return Identifier{}, false, p
}

// orderName is the name an identifier puts into the certificate.
func orderName(id Identifier, wild bool) string {
	if wild {
		return "*." + id.Value
	}
	return id.Value
}

// newOrder serves newOrder (RFC 8555 section 7.4; `replaces` RFC 9773).
func (rq *request) newOrder() error {
	ctx := rq.r.Context()
	var req struct {
		Identifiers []Identifier `json:"identifiers"`
		NotBefore   string       `json:"notBefore"`
		NotAfter    string       `json:"notAfter"`
		Replaces    string       `json:"replaces"`
	}
	if err := rq.decodePayload(&req); err != nil {
		return err
	}
	if len(req.Identifiers) == 0 {
		return malformed("an order needs identifiers")
	}
	if len(req.Identifiers) > MaxIdentifiers {
		return newProblem(http.StatusBadRequest, ProbRejectedIdentifier, "an order may have at most %d identifiers", MaxIdentifiers)
	}
	o := &Order{ID: newID(), Dir: rq.d.key, Account: rq.acct.ID, Status: StatusPending, CreatedAt: rq.s.now().UTC()}
	o.Expires = o.CreatedAt.Add(rq.d.pol.OrderLifetime).Truncate(time.Second)
	var dnsNames []string
	var ips []net.IP
	type ident struct {
		id   Identifier
		wild bool
	}
	var ids []ident
	seen := map[string]bool{}
	var sub []problem
	for _, raw := range req.Identifiers {
		id, wild, p := normalizeIdentifier(raw)
		if p != nil {
			sub = append(sub, *p)
			continue
		}
		name := orderName(id, wild)
		if seen[id.Type+":"+name] {
			continue
		}
		seen[id.Type+":"+name] = true
		ids = append(ids, ident{id, wild})
		o.Identifiers = append(o.Identifiers, Identifier{Type: id.Type, Value: name})
		if id.Type == "dns" {
			dnsNames = append(dnsNames, name)
		} else {
			ips = append(ips, net.ParseIP(id.Value))
		}
	}
	for _, n := range dnsNames {
		if err := ca.CheckNames(rq.d.prof, []string{n}, nil); err != nil {
			p := newProblem(http.StatusBadRequest, ProbRejectedIdentifier, "%s", policyMessage(err))
			p.Identifier = &Identifier{Type: "dns", Value: n}
			sub = append(sub, *p)
		}
	}
	for _, ip := range ips {
		if err := ca.CheckNames(rq.d.prof, nil, []net.IP{ip}); err != nil {
			p := newProblem(http.StatusBadRequest, ProbRejectedIdentifier, "%s", policyMessage(err))
			p.Identifier = &Identifier{Type: "ip", Value: ip.String()}
			sub = append(sub, *p)
		}
	}
	if len(sub) == 1 {
		return &sub[0]
	}
	if len(sub) > 1 {
		p := newProblem(http.StatusBadRequest, ProbRejectedIdentifier, "%d identifiers are refused", len(sub))
		p.Subproblems = sub
		return p
	}
	for _, f := range []struct {
		s   string
		dst *time.Time
	}{{req.NotBefore, &o.NotBefore}, {req.NotAfter, &o.NotAfter}} {
		if f.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.s)
		if err != nil {
			return malformed("notBefore/notAfter: %v", err)
		}
		*f.dst = t.UTC()
	}
	if !o.NotBefore.IsZero() && !o.NotAfter.IsZero() && !o.NotAfter.After(o.NotBefore) {
		return malformed("notAfter is not after notBefore")
	}
	if req.Replaces != "" {
		if err := rq.checkReplaces(ctx, req.Replaces, o); err != nil {
			return err
		}
	}
	if err := rq.rateLimit(ctx, dnsNames, ips); err != nil {
		return err
	}
	for _, it := range ids {
		a := &Authz{ID: newID(), Dir: rq.d.key, Account: rq.acct.ID, Order: o.ID, Identifier: it.id, Wildcard: it.wild,
			Status: StatusPending, Expires: o.Expires}
		types := []string{"http-01", "dns-01", "tls-alpn-01"}
		if it.wild {
			types = []string{"dns-01"}
		} else if it.id.Type == "ip" {
			types = []string{"http-01", "tls-alpn-01"}
		}
		for _, t := range types {
			a.Challenges = append(a.Challenges, Challenge{Type: t, Token: newToken(), Status: StatusPending})
		}
		if _, err := rq.s.docs.put(ctx, KindAuthz, a.ID, 0, a, []string{"account:" + rq.acct.ID, "dir:" + rq.d.key}, o.Expires.Add(30*24*time.Hour)); err != nil {
			return storeProblem(err)
		}
		o.Authzs = append(o.Authzs, a.ID)
	}
	if _, err := rq.s.docs.put(ctx, KindOrder, o.ID, 0, o, orderIndex(o), o.Expires.Add(30*24*time.Hour)); err != nil {
		return storeProblem(err)
	}
	obj, err := rq.orderObject(ctx, o)
	if err != nil {
		return storeProblem(err)
	}
	rq.w.Header().Set("Location", rq.base+"order/"+o.ID)
	return rq.reply(http.StatusCreated, obj)
}

// policyMessage is a core/ca error's message without its code.
func policyMessage(err error) string {
	return err.Error()
}

// checkReplaces checks RFC 9773's replaces: a certificate this account
// was issued here, not replaced by another order yet.
func (rq *request) checkReplaces(ctx context.Context, certID string, o *Order) error {
	id, err := server.ParseCertID(certID)
	if err != nil {
		return malformed("replaces: %v", err)
	}
	if id.AKI != rq.d.iss.AKI() {
		return malformed("replaces: the certificate was not issued by this CA")
	}
	c := new(Cert)
	if _, err := rq.s.docs.get(ctx, KindCert, hex.EncodeToString(id.Serial.Bytes()), c); err != nil {
		if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) { // no serial that long
			return malformed("replaces: no certificate %s was issued over ACME here", certID)
		}
		return storeProblem(err)
	}
	if c.Account != rq.acct.ID {
		return unauthorized("replaces: the certificate belongs to another account")
	}
	var taken string
	if err := rq.s.opts.Docs.FindDocs(ctx, KindOrder, "replaces:"+certID, 1, func(d *sdk.Doc) error {
		var other Order
		if json.Unmarshal(d.Data, &other) == nil && other.Status != StatusInvalid {
			taken = d.ID
		}
		return nil
	}); err != nil {
		return storeProblem(err)
	}
	if taken != "" {
		return newProblem(http.StatusConflict, ProbAlreadyReplaced, "the certificate %s is already being replaced by order %s", certID, rq.base+"order/"+taken)
	}
	o.Replaces = certID
	return nil
}

// loadOrder reads an order of the requesting account.
func (rq *request) loadOrder(ctx context.Context, id string) (*Order, int64, error) {
	o := new(Order)
	ver, err := rq.s.docs.get(ctx, KindOrder, id, o)
	if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) || (err == nil && o.Dir != rq.d.key) {
		return nil, 0, newProblem(http.StatusNotFound, ProbMalformed, "no such order")
	}
	if err != nil {
		return nil, 0, storeProblem(err)
	}
	if o.Account != rq.acct.ID {
		return nil, 0, unauthorized("the order belongs to another account")
	}
	return o, ver, nil
}

// getOrder serves an order URL (POST-as-GET).
func (rq *request) getOrder(id string) error {
	o, _, err := rq.loadOrder(rq.r.Context(), id)
	if err != nil {
		return err
	}
	obj, err := rq.orderObject(rq.r.Context(), o)
	if err != nil {
		return storeProblem(err)
	}
	return rq.reply(http.StatusOK, obj)
}

// finalize serves an order's finalize URL: the CSR's names must be the
// order's identifiers exactly; the certificate is issued through the
// CA's issuance path (the profile's policy and lint) and recorded.
func (rq *request) finalize(id string) error {
	ctx := rq.r.Context()
	var req struct {
		CSR string `json:"csr"`
	}
	if err := rq.decodePayload(&req); err != nil {
		return err
	}
	o, ver, err := rq.loadOrder(ctx, id)
	if err != nil {
		return err
	}
	st, err := rq.orderStatus(ctx, o)
	if err != nil {
		return storeProblem(err)
	}
	if st != StatusReady {
		return newProblem(http.StatusForbidden, ProbOrderNotReady, "the order is %s, not ready", st)
	}
	der, err := base64.RawURLEncoding.DecodeString(req.CSR)
	if err != nil {
		return newProblem(http.StatusBadRequest, ProbBadCSR, "csr is not unpadded base64url DER")
	}
	cr, p := checkCSR(der, o.Identifiers)
	if p != nil {
		return p
	}
	// RFC 8555 section 11.1: an account key is for ACME only; a
	// certificate for the key of any account of this directory is refused.
	if tp, err := thumbprint(&jose.JSONWebKey{Key: cr.PublicKey}); err == nil {
		holder, err := rq.accountByKey(tp)
		if err != nil {
			return storeProblem(err)
		}
		if holder != nil {
			return newProblem(http.StatusBadRequest, ProbBadCSR, "the CSR's public key is an ACME account key")
		}
	}
	// Processing, by compare-and-swap: one finalize per order, on any node.
	o.Status, o.Processing = StatusProcessing, rq.s.now().UTC()
	if ver, err = rq.s.docs.put(ctx, KindOrder, o.ID, ver, o, orderIndex(o), o.Expires.Add(30*24*time.Hour)); err != nil {
		if errors.Is(err, sdk.ErrFailedPrecondition) {
			return newProblem(http.StatusForbidden, ProbOrderNotReady, "the order is being finalized already")
		}
		return storeProblem(err)
	}
	cert, issueErr := rq.d.iss.Sign(ctx, ca.SignRequest{CSR: der, Profile: rq.d.prof.Name, Resolved: rq.d.prof,
		NotBefore: o.NotBefore, NotAfter: o.NotAfter})
	// Past this point the order must leave processing whatever the client
	// does: a caller that hung up must not leave it stuck.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var auditErr error
	if issueErr == nil {
		// The audit record before anything can download the certificate.
		auditErr = rq.commit(ctx, cert.Cert, nil)
	}
	switch {
	case issueErr != nil:
		rq.s.log.Warn("acme: finalize refused", "order", o.ID, "error", issueErr)
		o.Status = StatusInvalid
		o.Error = newProblem(http.StatusBadRequest, ProbBadCSR, "the CA refused the certificate: %s", policyMessage(issueErr))
		if code := ca.CodeOf(issueErr); code == ca.CodeStoreUnavailable {
			o.Error = newProblem(http.StatusServiceUnavailable, ProbServerInternal, "the certificate store is unavailable")
		}
		o.Error.cause = issueErr // names refusing lints in metrics
	case auditErr != nil:
		// Without its audit record the certificate is not released: the
		// order ends invalid (the certificate stays in the certstore,
		// revocable by serial), as the API answers 503.
		rq.s.log.Error("acme: the audit record of an issued certificate was not written", "order", o.ID, "serial", cert.Cert.SerialNumber, "error", auditErr)
		issueErr = auditErr
		o.Status = StatusInvalid
		o.Error = newProblem(http.StatusServiceUnavailable, ProbServerInternal, "the audit log is unavailable; the certificate was not released: order it again")
		o.Error.cause = auditErr
	default:
		c := &Cert{ID: hex.EncodeToString(cert.Cert.SerialNumber.Bytes()), Account: rq.acct.ID, Order: o.ID,
			Serial: cert.Cert.SerialNumber.String(), AKI: rq.d.iss.AKI(), Label: rq.d.iss.Label()}
		for _, chain := range rq.d.chains {
			var b bytes.Buffer
			b.Write(cert.PEM())
			for _, ic := range chain {
				_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: ic.Raw})
			}
			c.Chains = append(c.Chains, b.String())
		}
		if _, err := rq.s.docs.put(ctx, KindCert, c.ID, 0, c, []string{"account:" + rq.acct.ID}, cert.Cert.NotAfter.Add(90*24*time.Hour)); err != nil {
			// The certificate is in the certstore (revocable by serial)
			// but cannot be downloaded: the order ends invalid, saying so.
			rq.s.log.Error("acme: recording the issued certificate for download", "order", o.ID, "serial", c.Serial, "error", err)
			issueErr = err
			o.Status = StatusInvalid
			o.Error = newProblem(http.StatusServiceUnavailable, ProbServerInternal, "the certificate was issued but could not be recorded for download; order it again")
		} else {
			o.Status, o.Cert = StatusValid, c.ID
			if o.Replaces != "" {
				rq.markReplaced(ctx, o.Replaces, o.ID)
			}
		}
	}
	if _, err := rq.s.docs.put(ctx, KindOrder, o.ID, ver, o, orderIndex(o), o.Expires.Add(30*24*time.Hour)); err != nil {
		return storeProblem(err)
	}
	if issueErr != nil {
		return o.Error
	}
	obj, err := rq.orderObject(ctx, o)
	if err != nil {
		return storeProblem(err)
	}
	rq.w.Header().Set("Location", rq.base+"order/"+o.ID)
	return rq.reply(http.StatusOK, obj)
}

func orderIndex(o *Order) []string {
	index := []string{"account:" + o.Account, "dir:" + o.Dir}
	if o.Replaces != "" {
		index = append(index, "replaces:"+o.Replaces)
	}
	return index
}

// markReplaced records on the old certificate that an order replaced it.
func (rq *request) markReplaced(ctx context.Context, certID, order string) {
	id, err := server.ParseCertID(certID)
	if err != nil {
		return
	}
	_, err = update(ctx, rq.s.docs, KindCert, hex.EncodeToString(id.Serial.Bytes()), nil, nil, func(c *Cert) error {
		c.Replaced = order
		return nil
	})
	if err != nil {
		rq.s.log.Warn("acme: marking a replaced certificate", "certID", certID, "error", err)
	}
}

// checkCSR parses the CSR, checks its signature and that its names (SANs
// and a CN, if any) are exactly the order's identifiers, and that its
// subject holds nothing but a CN.
func checkCSR(der []byte, ids []Identifier) (*x509.CertificateRequest, *problem) {
	bad := func(format string, a ...any) (*x509.CertificateRequest, *problem) {
		return nil, newProblem(http.StatusBadRequest, ProbBadCSR, format, a...)
	}
	cr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return bad("the CSR does not parse: %v", err)
	}
	if err := cr.CheckSignature(); err != nil {
		return bad("the CSR's signature does not verify: %v", err)
	}
	if len(cr.EmailAddresses) > 0 || len(cr.URIs) > 0 {
		return bad("the CSR asks for email addresses or URIs, which ACME orders do not have")
	}
	for _, atv := range cr.Subject.Names {
		if !atv.Type.Equal([]int{2, 5, 4, 3}) {
			return bad("the CSR's subject has %v; only a common name is accepted", atv.Type)
		}
	}
	// Names are keyed by type: an IP address spelled as a dNSName is not
	// the ip identifier that was validated.
	want := map[string]bool{}
	for _, id := range ids {
		want[id.Type+":"+strings.ToLower(id.Value)] = true
	}
	got := map[string]bool{}
	for _, n := range cr.DNSNames {
		got["dns:"+strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	for _, ip := range cr.IPAddresses {
		got["ip:"+ip.String()] = true
	}
	if cn := cr.Subject.CommonName; cn != "" {
		k := "dns:" + strings.ToLower(cn)
		if ip := net.ParseIP(cn); ip != nil {
			k = "ip:" + ip.String()
		}
		if !want[k] {
			return bad("the CSR's common name %q is not one of the order's identifiers", cn)
		}
		if !got[k] {
			return bad("the CSR's common name %q is not among its subject alternative names", cn)
		}
	}
	var extra, missing []string
	for n := range got {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	for n := range want {
		if !got[n] {
			missing = append(missing, n)
		}
	}
	slices.Sort(extra)
	slices.Sort(missing)
	switch {
	case len(extra) > 0:
		return bad("the CSR names %q, which the order does not", extra)
	case len(missing) > 0:
		return bad("the CSR lacks the order's identifiers %q", missing)
	}
	return cr, nil
}

// certificate serves a certificate URL: the PEM chain, with Link
// rel="alternate" to the other chains.
func (rq *request) certificate(id, alt string) error {
	c := new(Cert)
	if _, err := rq.s.docs.get(rq.r.Context(), KindCert, id, c); err != nil {
		if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) {
			return newProblem(http.StatusNotFound, ProbMalformed, "no such certificate")
		}
		return storeProblem(err)
	}
	if c.Account != rq.acct.ID {
		return unauthorized("the certificate belongs to another account")
	}
	n := 0
	if alt != "" {
		v, err := strconv.Atoi(alt)
		if err != nil || v < 1 || v >= len(c.Chains) {
			return newProblem(http.StatusNotFound, ProbMalformed, "no such chain")
		}
		n = v
	}
	for i := range c.Chains {
		if i != n {
			u := rq.base + "cert/" + id
			if i > 0 {
				u += "/" + strconv.Itoa(i)
			}
			rq.w.Header().Add("Link", "<"+u+`>;rel="alternate"`)
		}
	}
	rq.addNonce()
	rq.w.Header().Set("Content-Type", "application/pem-certificate-chain")
	rq.w.WriteHeader(http.StatusOK)
	_, err := rq.w.Write([]byte(c.Chains[n]))
	return err
}
