package acme

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/pkid/pkid/sdk"
)

// rateDoc counts new orders in one fixed window.
type rateDoc struct {
	Count int `json:"count"`
}

// rateLimit counts a new order against the account's and each name's
// window (documents in the store, shared by every node) and refuses it
// with rateLimited and Retry-After once a limit is reached.
func (rq *request) rateLimit(ctx context.Context, dns []string, ips []net.IP) error {
	pol := rq.d.pol
	now := rq.s.now()
	start := now.Truncate(pol.Window)
	end := start.Add(pol.Window)
	suffix := ":" + strconv.FormatInt(start.Unix(), 10)
	type key struct {
		id    string
		limit int
		what  string
	}
	var keys []key
	if pol.OrdersPerAccount > 0 {
		keys = append(keys, key{"account:" + rq.acct.ID + suffix, pol.OrdersPerAccount, "this account"})
	}
	if pol.OrdersPerName > 0 {
		for _, n := range dns {
			keys = append(keys, key{nameRateID(rq.d.key, n) + suffix, pol.OrdersPerName, "the name " + n})
		}
		for _, ip := range ips {
			keys = append(keys, key{nameRateID(rq.d.key, ip.String()) + suffix, pol.OrdersPerName, "the address " + ip.String()})
		}
	}
	for _, k := range keys {
		if err := rq.count(ctx, k.id, k.limit, end); err != nil {
			var p *problem
			if errors.As(err, &p) && p.Type == ErrorNS+ProbRateLimited {
				p.Detail = "too many new orders for " + k.what + " (" + strconv.Itoa(k.limit) + " per " + pol.Window.String() + ")"
				p.retryAfter = max(1, int(end.Sub(now)/time.Second))
			}
			return err
		}
	}
	return nil
}

// count adds one to a window's counter unless it reached limit.
func (rq *request) count(ctx context.Context, id string, limit int, end time.Time) error {
	for range maxCASRetries {
		r := &rateDoc{}
		ver, err := rq.s.docs.get(ctx, KindRate, id, r)
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return storeProblem(err)
		}
		if r.Count >= limit {
			return newProblem(http.StatusTooManyRequests, ProbRateLimited, "rate limited")
		}
		r.Count++
		_, err = rq.s.docs.put(ctx, KindRate, id, ver, r, nil, end)
		if errors.Is(err, sdk.ErrFailedPrecondition) || errors.Is(err, sdk.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return storeProblem(err)
		}
		return nil
	}
	return storeProblem(errors.New("rate limit counter: too many concurrent updates"))
}

// nameRateID is the start of a name's window document ID: the name is
// hashed, so a name of 253 bytes still fits the store's ID limit.
func nameRateID(dir, name string) string {
	h := sha256.Sum256([]byte(dir + "\x00" + name))
	return "name:" + base64.RawURLEncoding.EncodeToString(h[:18])
}
