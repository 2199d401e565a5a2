package csr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Parse decodes a csr.json document and validates it (see Validate).
//
// As in CFSSL, "key" is merged into the default key request: a missing
// "algo" means ecdsa and a missing "size" means 256; "key": null means the
// default. Unknown object keys are ignored.
//
// Errors are one line starting "csr: " and match ErrInvalid: malformed JSON
// (with line, column and byte offset), a value of the wrong JSON type (with
// the field path), a bad key algorithm or size, a bad duration, OID or
// crl_url.
func Parse(data []byte) (*Request, error) {
	r := &Request{KeyRequest: DefaultKeyRequest()}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, jsonError(data, err)
	}
	if r.KeyRequest == nil {
		r.KeyRequest = DefaultKeyRequest()
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// jsonError turns an encoding/json error into one line with a position.
func jsonError(data []byte, err error) error {
	if errors.Is(err, ErrInvalid) {
		return err
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if se.Offset >= int64(len(data)) && len(bytes.TrimSpace(data)) == 0 {
			return invalidf("invalid JSON: empty document")
		}
		line, col := position(data, se.Offset)
		return invalidf("invalid JSON at line %d, column %d (offset %d): %s", line, col, se.Offset, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := position(data, te.Offset)
		field := te.Field
		if field == "" {
			field = "document"
		}
		return invalidf("invalid JSON at line %d, column %d (offset %d): %s: want %s, got %s",
			line, col, te.Offset, field, jsonKind(te.Type), te.Value)
	}
	return invalidf("invalid JSON: %w", err)
}

// position converts the byte offset reported by encoding/json (bytes read
// when the error was noticed) into a 1-based line and column of the last
// byte read.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset > 0 {
		offset-- // point at the offending byte, not past it
	}
	prefix := data[:offset]
	line = bytes.Count(prefix, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(prefix, '\n') + 1) + 1
	return line, col
}

// jsonKind names the JSON shape a Go type expects.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return fmt.Sprintf("a %s", t)
}
