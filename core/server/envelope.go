package server

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// message is one entry of the envelope's errors or messages.
type message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// envelope is CFSSL's response object; key order as on the wire.
type envelope struct {
	Success  bool      `json:"success"`
	Result   any       `json:"result"`
	Errors   []message `json:"errors"`
	Messages []message `json:"messages"`
}

// reply is an endpoint's successful (or, for health, failing) answer.
type reply struct {
	status   int // 0: 200
	result   any
	messages []message
	// err, with status, marks a failure that still carries a result
	// (health's 503 with its parts).
	err *message
	// header is added to the response's headers.
	header http.Header
}

// writeEnvelope writes env as compact JSON plus "\n" with status.
func writeEnvelope(w http.ResponseWriter, status int, env envelope) {
	if env.Errors == nil {
		env.Errors = []message{}
	}
	if env.Messages == nil {
		env.Messages = []message{}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(env); err != nil {
		// Results are built from plain types; this cannot happen.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"success":false,"result":null,"errors":[{"code":0,"message":"internal server error"}],"messages":[]}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
