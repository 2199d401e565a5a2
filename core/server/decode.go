package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// decodeJSON decodes a typed request body into v (keys matched
// case-insensitively, unknown keys ignored). The error names the field of
// a wrongly typed value.
func decodeJSON(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return errors.New("empty request body")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errors.New(describeJSONError(err))
	}
	return nil
}

// describeJSONError turns an encoding/json error into one line.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("want a JSON %s, got %s", kindName(te.Type), te.Value)
		}
		return fmt.Sprintf("field %q: want %s, got %s", te.Field, kindName(te.Type), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// kindName describes the JSON shape a Go type expects.
func kindName(t reflect.Type) string {
	if t == reflect.TypeFor[json.Number]() {
		return "number"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// decodeStringMap decodes a string-map body (bundle, certinfo): every
// value must be a JSON string, else 400 (docs/differences-from-cfssl.md,
// "Client mistakes are 4xx, faults are opaque").
func decodeStringMap(data []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(data, &raw); err != nil {
		return nil, badRequest("%v", err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, badRequest("field %q: want string", k)
		}
		out[k] = s
	}
	return out, nil
}
