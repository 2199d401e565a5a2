package acme

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/sdk"
)

// authzJSON is the authorization object.
type authzJSON struct {
	Identifier Identifier      `json:"identifier"`
	Status     string          `json:"status"`
	Expires    time.Time       `json:"expires"`
	Challenges []challengeJSON `json:"challenges"`
	Wildcard   bool            `json:"wildcard,omitempty"`
}

// challengeJSON is the challenge object.
type challengeJSON struct {
	Type      string     `json:"type"`
	URL       string     `json:"url"`
	Status    string     `json:"status"`
	Token     string     `json:"token"`
	Validated *time.Time `json:"validated,omitempty"`
	Error     *problem   `json:"error,omitempty"`
}

// authzStatus is the authorization's status, expiry included.
func (rq *request) authzStatus(a *Authz) string {
	if a.Status == StatusPending && rq.s.now().After(a.Expires) {
		return StatusExpired
	}
	return a.Status
}

func (rq *request) challengeObject(a *Authz, i int) challengeJSON {
	c := a.Challenges[i]
	out := challengeJSON{Type: c.Type, URL: rq.base + "chall/" + a.ID + "/" + strconv.Itoa(i), Status: c.Status, Token: c.Token, Error: c.Error}
	if !c.Validated.IsZero() {
		out.Validated = &c.Validated
	}
	return out
}

func (rq *request) authzObject(a *Authz) authzJSON {
	out := authzJSON{Identifier: a.Identifier, Status: rq.authzStatus(a), Expires: a.Expires, Wildcard: a.Wildcard}
	for i := range a.Challenges {
		out.Challenges = append(out.Challenges, rq.challengeObject(a, i))
	}
	return out
}

// loadAuthz reads an authorization of the requesting account.
func (rq *request) loadAuthz(ctx context.Context, id string) (*Authz, error) {
	a := new(Authz)
	_, err := rq.s.docs.get(ctx, KindAuthz, id, a)
	if errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrInvalidArgument) || (err == nil && a.Dir != rq.d.key) {
		return nil, newProblem(http.StatusNotFound, ProbMalformed, "no such authorization")
	}
	if err != nil {
		return nil, storeProblem(err)
	}
	if a.Account != rq.acct.ID {
		return nil, unauthorized("the authorization belongs to another account")
	}
	return a, nil
}

// authz serves an authorization URL: POST-as-GET, or deactivation.
func (rq *request) authz(id string) error {
	ctx := rq.r.Context()
	a, err := rq.loadAuthz(ctx, id)
	if err != nil {
		return err
	}
	if !rq.postAsGet() {
		var req struct {
			Status string `json:"status"`
		}
		if err := rq.decodePayload(&req); err != nil {
			return err
		}
		if req.Status != StatusDeactivated {
			return malformed("an authorization's status can only be set to deactivated")
		}
		a, err = update(ctx, rq.s.docs, KindAuthz, id, nil, authzExpiry, func(a *Authz) error {
			if a.Status != StatusPending && a.Status != StatusValid {
				return unauthorized("the authorization is %s", a.Status)
			}
			a.Status = StatusDeactivated
			return nil
		})
		if err != nil {
			return storeProblem(err)
		}
	}
	return rq.reply(http.StatusOK, rq.authzObject(a))
}

func authzExpiry(a *Authz) time.Time { return a.Expires.Add(30 * 24 * time.Hour) }

// challenge serves a challenge URL: POST-as-GET reads it; a payload ({})
// asks for validation, which runs in the background on the node that
// wins the compare-and-swap to processing.
func (rq *request) challenge(authzID, idx string) error {
	ctx := rq.r.Context()
	a, err := rq.loadAuthz(ctx, authzID)
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(a.Challenges) {
		return newProblem(http.StatusNotFound, ProbMalformed, "no such challenge")
	}
	rq.w.Header().Add("Link", "<"+rq.base+"authz/"+a.ID+`>;rel="up"`)
	if rq.postAsGet() {
		return rq.reply(http.StatusOK, rq.challengeObject(a, i))
	}
	var req map[string]json.RawMessage
	if err := rq.decodePayload(&req); err != nil {
		return err
	}
	if !rq.s.acquireValidation(rq.acct.ID) {
		p := newProblem(http.StatusServiceUnavailable, ProbRateLimited, "too many validations in progress; retry shortly")
		p.retryAfter = 2
		return p
	}
	started := false
	defer func() {
		if !started {
			rq.s.releaseValidation(rq.acct.ID)
		}
	}()
	now := rq.s.now().UTC()
	a, err = update(ctx, rq.s.docs, KindAuthz, a.ID, nil, authzExpiry, func(a *Authz) error {
		// update reruns this after a lost compare-and-swap: only the
		// attempt that is written may claim the validation.
		started = false
		c := &a.Challenges[i]
		switch {
		case rq.authzStatus(a) != StatusPending:
			return errSkip // valid, invalid, expired: answer as it is
		case c.Status == StatusProcessing && now.Sub(c.Started) < rq.s.retry:
			return errSkip // another request or node owns it
		case c.Status != StatusPending && c.Status != StatusProcessing:
			return errSkip
		}
		for j := range a.Challenges {
			if j != i && a.Challenges[j].Status == StatusProcessing && now.Sub(a.Challenges[j].Started) < rq.s.retry {
				return errSkip // one challenge of an authorization at a time
			}
		}
		c.Status, c.Owner, c.Started = StatusProcessing, rq.s.node, now
		started = true
		return nil
	})
	if err != nil {
		started = false
		return storeProblem(err)
	}
	if started {
		req := validation.Request{Type: a.Challenges[i].Type, Identifier: validation.Identifier(a.Identifier),
			Token: a.Challenges[i].Token, KeyAuthorization: a.Challenges[i].Token + "." + rq.acct.Thumbprint,
			Wildcard: a.Wildcard, AccountURI: rq.base + "account/" + rq.acct.ID, CAAIdentities: rq.d.pol.CAAIdentities}
		done := make(chan struct{})
		rq.s.wg.Add(1)
		go rq.s.validate(rq.d, rq.acct.ID, a.ID, i, now, req, done)
		// A quick validation is answered at once, so the client need not
		// poll; a slow one stays processing.
		select {
		case <-done:
			if fresh, err := rq.loadAuthz(ctx, a.ID); err == nil {
				a = fresh
			}
		case <-time.After(syncValidationWait):
		case <-ctx.Done():
		}
	}
	if a.Challenges[i].Status == StatusProcessing {
		rq.w.Header().Set("Retry-After", "1") // RFC 8555 section 8.2: when to poll
	}
	return rq.reply(http.StatusOK, rq.challengeObject(a, i))
}

// syncValidationWait is how long a challenge request waits for its
// validation before answering processing.
const syncValidationWait = time.Second

// validate runs one challenge's validation and records the outcome, if
// this node still owns the challenge; done is closed after that.
func (s *Server) validate(d *directory, account, authzID string, i int, started time.Time, req validation.Request, done chan struct{}) {
	defer s.wg.Done()
	defer close(done)
	defer s.releaseValidation(account)
	timeout := d.pol.Validation.Timeout
	ctx, cancel := context.WithTimeout(s.ctx, 3*timeout)
	defer cancel()
	dec := corroborate(ctx, d.persp.Primary, d.persp.Remotes, d.persp.Quorum, req)
	views, _ := json.Marshal(dec.Views)
	// The outcome is written even when the server is closing, but a hung
	// store must not hold Close for ever.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer wcancel()
	_, err := update(wctx, s.docs, KindAuthz, authzID, nil, authzExpiry, func(a *Authz) error {
		c := &a.Challenges[i]
		if c.Status != StatusProcessing || c.Owner != s.node || !c.Started.Equal(started) {
			return errSkip // taken over by another node
		}
		c.Owner, c.Views = "", views
		if a.Status != StatusPending || s.now().After(a.Expires) {
			// Deactivated (or expired) while validating: the outcome must
			// not bring the authorization back (RFC 8555 section 7.5.2).
			st := a.Status
			if st == StatusPending {
				st = StatusExpired
			}
			c.Status = StatusInvalid
			c.Error = newProblem(http.StatusForbidden, ProbUnauthorized, "the authorization became %s while this challenge was validated", st)
			return nil
		}
		if dec.OK {
			c.Status, c.Validated = StatusValid, s.now().UTC().Truncate(time.Second)
			a.Status = StatusValid
			return nil
		}
		c.Status, a.Status = StatusInvalid, StatusInvalid
		c.Error = newProblem(http.StatusForbidden, ProbIncorrectResponse, "validation failed")
		if dec.Problem != nil {
			c.Error = &problem{Type: dec.Problem.Type, Detail: dec.Problem.Detail, Status: http.StatusForbidden}
		}
		return nil
	})
	if err != nil {
		s.log.Error("acme: recording a validation", "authz", authzID, "error", err)
		return
	}
	s.log.Info("acme: validation", "authz", authzID, "type", req.Type, "identifier", req.Identifier.Value, "ok", dec.OK)
}

// ValidationsPerAccount is how many of a node's validation slots one
// account may hold at once: a quarter, at least one.
func ValidationsPerAccount(slots int) int { return max(1, slots/4) }

// acquireValidation takes a validation slot for account, unless the node
// or the account's share is full.
func (s *Server) acquireValidation(account string) bool {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if s.inflight[account] >= ValidationsPerAccount(cap(s.sem)) {
		return false
	}
	select {
	case s.sem <- struct{}{}:
	default:
		return false
	}
	s.inflight[account]++
	return true
}

// releaseValidation gives account's slot back.
func (s *Server) releaseValidation(account string) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if s.inflight[account]--; s.inflight[account] <= 0 {
		delete(s.inflight, account)
	}
	<-s.sem
}
