package acme

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pkid/pkid/sdk"
)

// keyMode says which key reference a resource takes.
type keyMode int

const (
	keyKid    keyMode = iota // an account's kid
	keyJWK                   // an embedded jwk (newAccount)
	keyEither                // revokeCert: the account or the certificate's key
)

// authenticate parses and verifies the request JWS, checks its url and
// consumes its nonce, then runs h with rq.payload and rq.acct (kid) or
// rq.jwk (jwk) set.
func (rq *request) authenticate(body []byte, mode keyMode, h func() error) error {
	env, p := parseEnvelope(body)
	if p != nil {
		return p
	}
	var key *jose.JSONWebKey
	switch {
	case env.jwk != nil && mode == keyKid:
		return malformed("this resource needs a kid (the account URL), not a jwk")
	case env.kid != "" && mode == keyJWK:
		return malformed("newAccount needs a jwk, not a kid")
	case env.jwk != nil:
		key = env.jwk
		rq.jwk = env.jwk
	default:
		id := idFromURL(env.kid, rq.base+"account/")
		if id == "" {
			return authProblem(newProblem(http.StatusBadRequest, ProbAccountDoesNotExist, "kid %q is not an account URL of this directory", env.kid))
		}
		acct := new(Account)
		if _, err := rq.s.docs.get(rq.r.Context(), KindAccount, id, acct); err != nil {
			if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) {
				return authProblem(newProblem(http.StatusBadRequest, ProbAccountDoesNotExist, "no account %q", env.kid))
			}
			return storeProblem(err)
		}
		if acct.Dir != rq.d.key {
			return authProblem(newProblem(http.StatusBadRequest, ProbAccountDoesNotExist, "no account %q in this directory", env.kid))
		}
		key = new(jose.JSONWebKey)
		if err := key.UnmarshalJSON(acct.Key); err != nil {
			return internal(err)
		}
		rq.acct = acct
	}
	payload, p := env.verify(key)
	if p != nil {
		return p
	}
	rq.authed = true
	if want := rq.s.base(rq.r) + rq.r.URL.Path; env.url != want {
		return unauthorized("the JWS url %q is not the request URL %q", env.url, want)
	}
	if err := rq.consumeNonce(env.nonce); err != nil {
		return err
	}
	if rq.acct != nil && rq.acct.Status != StatusValid {
		return unauthorized("the account is %s", rq.acct.Status)
	}
	rq.payload = payload
	return h()
}

// postAsGet reports whether the payload is empty (RFC 8555 section 6.3).
func (rq *request) postAsGet() bool { return len(rq.payload) == 0 }

// decodePayload decodes the JSON payload into v.
func (rq *request) decodePayload(v any) error {
	if rq.postAsGet() {
		return malformed("this request needs a JSON payload")
	}
	if err := json.Unmarshal(rq.payload, v); err != nil {
		return malformed("the payload is not valid JSON for this resource: %v", err)
	}
	return nil
}

// accountJSON is the account object.
type accountJSON struct {
	Status  string   `json:"status"`
	Contact []string `json:"contact,omitempty"`
	Orders  string   `json:"orders,omitempty"`
}

func (rq *request) accountObject(a *Account) accountJSON {
	return accountJSON{Status: a.Status, Contact: a.Contact, Orders: rq.base + "account/" + a.ID + "/orders"}
}

// maxOrdersListed bounds the orders list of an account (RFC 8555 section
// 7.1.2.1 allows paging; pkid lists the newest pending ones up to this).
const maxOrdersListed = 1000

// MaxListAuthzReads bounds the authorizations one orders listing reads.
const MaxListAuthzReads = 200

// orders serves an account's orders URL: its orders that are not yet
// valid or invalid.
func (rq *request) orders(id string) error {
	if id != rq.acct.ID {
		return unauthorized("the request is signed for another account")
	}
	list := []string{}
	var all []Order
	err := rq.s.opts.Docs.FindDocs(rq.r.Context(), KindOrder, "account:"+id, maxOrdersListed, func(d *sdk.Doc) error {
		var o Order
		if err := json.Unmarshal(d.Data, &o); err != nil {
			return err
		}
		all = append(all, o)
		return nil
	})
	if err != nil {
		return storeProblem(err)
	}
	// Deriving a pending order's status reads its authorizations: at most
	// MaxListAuthzReads in one listing; orders past that budget are listed
	// on their stored status (pending and unexpired).
	budget := MaxListAuthzReads
	for _, o := range all {
		st := o.Status
		switch {
		case st == StatusPending && rq.s.now().After(o.Expires):
			st = StatusInvalid
		case st != StatusPending || len(o.Authzs) <= budget:
			if st == StatusPending {
				budget -= len(o.Authzs)
			}
			if st, err = rq.orderStatus(rq.r.Context(), &o); err != nil {
				return storeProblem(err)
			}
		}
		if st == StatusPending || st == StatusReady || st == StatusProcessing {
			list = append(list, rq.base+"order/"+o.ID)
		}
	}
	return rq.reply(http.StatusOK, map[string][]string{"orders": list})
}

// checkContacts accepts mailto: URLs without hfields, at most 10.
func checkContacts(cs []string) error {
	if len(cs) > 10 {
		return newProblem(http.StatusBadRequest, ProbUnsupportedContact, "at most 10 contacts")
	}
	for _, c := range cs {
		u, err := url.Parse(c)
		if err != nil || u.Scheme != "mailto" || u.Opaque == "" || u.RawQuery != "" || !strings.Contains(u.Opaque, "@") || len(c) > 320 {
			return newProblem(http.StatusBadRequest, ProbUnsupportedContact, "contact %q is not a mailto: address", c)
		}
	}
	return nil
}

// newAccount serves newAccount (RFC 8555 section 7.3).
func (rq *request) newAccount() error {
	var req struct {
		Contact                []string        `json:"contact"`
		TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed"`
		OnlyReturnExisting     bool            `json:"onlyReturnExisting"`
		ExternalAccountBinding json.RawMessage `json:"externalAccountBinding"`
	}
	if err := rq.decodePayload(&req); err != nil {
		return err
	}
	tp, err := thumbprint(rq.jwk)
	if err != nil {
		return newProblem(http.StatusBadRequest, ProbBadPublicKey, "thumbprint: %v", err)
	}
	existing, err := rq.accountByKey(tp)
	if err != nil {
		return storeProblem(err)
	}
	if existing != nil {
		rq.w.Header().Set("Location", rq.base+"account/"+existing.ID)
		if existing.Status != StatusValid {
			// RFC 8555 section 7.3.6: the key of a deactivated account
			// authorizes nothing more.
			return unauthorized("the account of this key is %s", existing.Status)
		}
		return rq.reply(http.StatusOK, rq.accountObject(existing))
	}
	if req.OnlyReturnExisting {
		return newProblem(http.StatusBadRequest, ProbAccountDoesNotExist, "no account for this key")
	}
	if err := checkContacts(req.Contact); err != nil {
		return err
	}
	acct := &Account{ID: accountID(rq.d.key, tp), Dir: rq.d.key, Status: StatusValid, Contact: req.Contact, Thumbprint: tp, CreatedAt: rq.s.now().UTC()}
	if acct.Key, err = rq.jwk.MarshalJSON(); err != nil {
		return internal(err)
	}
	switch {
	case req.ExternalAccountBinding != nil:
		kid, err := rq.checkEAB(req.ExternalAccountBinding, tp)
		if err != nil {
			return err
		}
		acct.EAB = kid
	case rq.d.pol.EABRequired:
		return newProblem(http.StatusForbidden, ProbExternalAccountRequired, "this directory requires an external account binding (ask the CA operator for a key: pkid acme eab add)")
	}
	if err := rq.claimKey(tp, acct.ID); err != nil {
		return err
	}
	if acct.EAB != "" {
		// Bind the key to this account once: a second account with the
		// same EAB key is refused, on any node.
		_, err := update(rq.r.Context(), rq.s.docs, KindEAB, acct.EAB, nil, nil, func(k *EABKey) error {
			if k.Revoked || (k.Account != "" && k.Account != acct.ID) {
				return unauthorized("the external account binding key %q is revoked or already bound", k.ID)
			}
			k.Account = acct.ID
			return nil
		})
		if err != nil {
			return storeProblem(err)
		}
	}
	if _, err := rq.s.docs.put(rq.r.Context(), KindAccount, acct.ID, 0, acct, []string{"jwk:" + rq.d.key + ":" + tp, "dir:" + rq.d.key}, timeZero); err != nil {
		if !errors.Is(err, sdk.ErrAlreadyExists) {
			return storeProblem(err)
		}
		// A concurrent request with the same key won (the ID derives
		// from the key), or the key was an account's before a rollover.
		existing, err := rq.accountByKey(tp)
		if err != nil {
			return storeProblem(err)
		}
		if existing == nil {
			return newProblem(http.StatusConflict, ProbMalformed, "this key was another account's key; use a new key")
		}
		rq.w.Header().Set("Location", rq.base+"account/"+existing.ID)
		if existing.Status != StatusValid {
			return unauthorized("the account of this key is %s", existing.Status)
		}
		return rq.reply(http.StatusOK, rq.accountObject(existing))
	}
	rq.w.Header().Set("Location", rq.base+"account/"+acct.ID)
	return rq.reply(http.StatusCreated, rq.accountObject(acct))
}

// accountID derives an account's ID from its first key, so two
// concurrent newAccount requests with one key create one account (the
// store's create is compare-and-swap).
func accountID(dir, thumb string) string {
	h := sha256.Sum256([]byte(dir + "\x00" + thumb))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// accountByKey finds the directory's account whose key has thumbprint tp.
func (rq *request) accountByKey(tp string) (*Account, error) {
	var existing *Account
	err := rq.s.opts.Docs.FindDocs(rq.r.Context(), KindAccount, "jwk:"+rq.d.key+":"+tp, 1, func(d *sdk.Doc) error {
		a := new(Account)
		if err := json.Unmarshal(d.Data, a); err != nil {
			return err
		}
		existing = a
		return nil
	})
	return existing, err
}

// claimKey claims the key with thumbprint tp for account (compare-and-
// swap create of its acme-key document): it fails with a 409 problem when
// another account claimed it first, so newAccount and keyChange racing
// for one key leave it with one account. Claiming one's own key again is
// fine. A claim outlives a rollover: a retired key stays retired.
func (rq *request) claimKey(tp, account string) error {
	id := accountID(rq.d.key, tp)
	_, err := rq.s.docs.put(rq.r.Context(), KindKey, id, 0, keyClaim{Account: account}, nil, timeZero)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sdk.ErrAlreadyExists) {
		return storeProblem(err)
	}
	var c keyClaim
	if _, err := rq.s.docs.get(rq.r.Context(), KindKey, id, &c); err != nil {
		return storeProblem(err)
	}
	if c.Account == account {
		return nil
	}
	rq.w.Header().Set("Location", rq.base+"account/"+c.Account)
	return newProblem(http.StatusConflict, ProbMalformed, "the key is another account's key; use a new key")
}

// checkEAB verifies an external account binding (RFC 8555 section 7.3.4):
// an HMAC JWS by a key the operator issued, over this account's JWK, for
// this URL. It returns the EAB key id.
func (rq *request) checkEAB(raw json.RawMessage, accountThumb string) (string, error) {
	jws, err := jose.ParseSignedJSON(string(raw), []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512})
	if err != nil || len(jws.Signatures) != 1 {
		return "", malformed("externalAccountBinding is not an HMAC JWS")
	}
	h := jws.Signatures[0].Protected
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return "", malformed("externalAccountBinding must not use an unencoded payload (b64)")
	}
	if h.KeyID == "" || h.Nonce != "" {
		return "", malformed("externalAccountBinding needs a kid and no nonce")
	}
	if u, _ := h.ExtraHeaders["url"].(string); u != rq.s.base(rq.r)+rq.r.URL.Path {
		return "", unauthorized("externalAccountBinding url %q is not the newAccount URL", u)
	}
	k := new(EABKey)
	if _, err := rq.s.docs.get(rq.r.Context(), KindEAB, h.KeyID, k); err != nil {
		if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) {
			return "", unauthorized("unknown external account binding key %q", h.KeyID)
		}
		return "", storeProblem(err)
	}
	if k.Revoked {
		return "", unauthorized("external account binding key %q is revoked", h.KeyID)
	}
	if k.Dir != "" && k.Dir != rq.d.key {
		return "", unauthorized("external account binding key %q is for the directory %s", h.KeyID, k.Dir)
	}
	payload, err := jws.Verify(k.Key)
	if err != nil {
		return "", unauthorized("externalAccountBinding: the MAC does not verify")
	}
	var inner jose.JSONWebKey
	if err := inner.UnmarshalJSON(payload); err != nil {
		return "", malformed("externalAccountBinding payload is not a JWK")
	}
	if tp, err := thumbprint(&inner); err != nil || tp != accountThumb {
		return "", unauthorized("externalAccountBinding binds another key")
	}
	return k.ID, nil
}

// account serves an account URL: POST-as-GET, contact update, deactivation.
func (rq *request) account(id string) error {
	if id != rq.acct.ID {
		return unauthorized("the request is signed for another account")
	}
	if rq.postAsGet() {
		rq.w.Header().Set("Location", rq.base+"account/"+id)
		return rq.reply(http.StatusOK, rq.accountObject(rq.acct))
	}
	var req struct {
		Contact *[]string `json:"contact"`
		Status  string    `json:"status"`
	}
	if err := rq.decodePayload(&req); err != nil {
		return err
	}
	if req.Status != "" && req.Status != StatusDeactivated && req.Status != StatusValid {
		return malformed("an account's status can only be set to deactivated")
	}
	if req.Contact != nil {
		if err := checkContacts(*req.Contact); err != nil {
			return err
		}
	}
	a, err := update(rq.r.Context(), rq.s.docs, KindAccount, id, nil, nil, func(a *Account) error {
		if a.Status != StatusValid {
			return unauthorized("the account is %s", a.Status)
		}
		if req.Contact != nil {
			a.Contact = *req.Contact
		}
		if req.Status == StatusDeactivated {
			a.Status = StatusDeactivated
		}
		return nil
	})
	if err != nil {
		return storeProblem(err)
	}
	rq.w.Header().Set("Location", rq.base+"account/"+id)
	return rq.reply(http.StatusOK, rq.accountObject(a))
}

// keyChange serves keyChange (RFC 8555 section 7.3.5): the outer JWS by
// the old key, the inner by the new one over {account, oldKey}.
func (rq *request) keyChange() error {
	inner, p := parseEnvelope(rq.payload)
	if p != nil {
		return p
	}
	if inner.jwk == nil || inner.kid != "" {
		return malformed("the inner keyChange JWS needs a jwk (the new key)")
	}
	if inner.nonce != "" {
		return malformed("the inner keyChange JWS must not have a nonce")
	}
	if inner.url != rq.s.base(rq.r)+rq.r.URL.Path {
		return malformed("the inner keyChange JWS url is not the keyChange URL")
	}
	payload, p := inner.verify(inner.jwk)
	if p != nil {
		return p
	}
	var req struct {
		Account string          `json:"account"`
		OldKey  json.RawMessage `json:"oldKey"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return malformed("the inner keyChange payload: %v", err)
	}
	if req.Account != rq.base+"account/"+rq.acct.ID {
		return unauthorized("the keyChange names another account")
	}
	var old jose.JSONWebKey
	if err := old.UnmarshalJSON(req.OldKey); err != nil {
		return malformed("oldKey is not a JWK")
	}
	if tp, err := thumbprint(&old); err != nil || tp != rq.acct.Thumbprint {
		return unauthorized("oldKey is not the account's key")
	}
	newTP, err := thumbprint(inner.jwk)
	if err != nil {
		return newProblem(http.StatusBadRequest, ProbBadPublicKey, "thumbprint: %v", err)
	}
	var taken string
	if err := rq.s.opts.Docs.FindDocs(rq.r.Context(), KindAccount, "jwk:"+rq.d.key+":"+newTP, 1, func(d *sdk.Doc) error {
		taken = d.ID
		return nil
	}); err != nil {
		return storeProblem(err)
	}
	if taken != "" {
		rq.w.Header().Set("Location", rq.base+"account/"+taken)
		return newProblem(http.StatusConflict, ProbMalformed, "the new key is already an account's key")
	}
	if err := rq.claimKey(newTP, rq.acct.ID); err != nil {
		return err
	}
	newKey, err := inner.jwk.MarshalJSON()
	if err != nil {
		return internal(err)
	}
	a, err := update(rq.r.Context(), rq.s.docs, KindAccount, rq.acct.ID, []string{"jwk:" + rq.d.key + ":" + newTP, "dir:" + rq.d.key}, nil, func(a *Account) error {
		if a.Thumbprint != rq.acct.Thumbprint {
			return unauthorized("the account key changed meanwhile")
		}
		a.Key, a.Thumbprint = newKey, newTP
		return nil
	})
	if err != nil {
		return storeProblem(err)
	}
	rq.w.Header().Set("Location", rq.base+"account/"+a.ID)
	return rq.reply(http.StatusOK, rq.accountObject(a))
}
