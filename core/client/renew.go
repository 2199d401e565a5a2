package client

import (
	"context"
	"encoding/json"
)

// Renew asks the remote's renew endpoint for a new certificate for the
// same names as the client certificate of the client's TLS configuration,
// which authenticates the request (docs/transport.md). csrPEM is the CSR
// of the new key. Errors are *Error; a refusal (expired, revoked, unknown
// certificate, other names) is CodeBadStatus with Status 403 or 400.
func (c *Client) Renew(ctx context.Context, csrPEM []byte) (string, error) {
	body, err := json.Marshal(map[string]string{"certificate_request": string(csrPEM)})
	if err != nil {
		return "", &Error{Code: CodeJSON, Remote: c.remotes[0].String(), Err: err}
	}
	return c.sign(ctx, "renew", body)
}

// CloseIdle closes the client's idle connections.
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }
