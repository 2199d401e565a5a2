// Package cfssljson splits CFSSL JSON output into files the way the
// cfssljson tool does, with pkid's additions (docs/differences-from-cfssl.md,
// "pkid json writes bundles and safe files").
//
// Split is pure: it turns input bytes into a list of files and never touches
// the file system. Write stores one file atomically; StdoutText renders the
// files for cfssljson's -stdout mode.
package cfssljson

import (
	"encoding/base64"
	"encoding/json"
	"io/fs"
)

// DefaultBaseName is the base name cfssljson uses when none is given.
const DefaultBaseName = "cert"

// Options control Split.
type Options struct {
	// Bare processes the whole input object; otherwise the input is a CFSSL
	// API envelope and its result is processed.
	Bare bool
	// BaseName prefixes every file name, verbatim (cfssljson's BASENAME
	// argument); callers pass DefaultBaseName when the user gave none.
	BaseName string
}

// File is one output of Split, in cfssljson's output order.
type File struct {
	// Name is BaseName plus the suffix (".pem", "-key.pem", ...).
	Name string
	// Mode is the permission cfssljson creates the file with (before umask).
	Mode fs.FileMode
	// Content is written unchanged.
	Content []byte
	// Binary marks contents printed as standard base64 by -stdout.
	Binary bool
	// Secret marks private key material (pkid forces such files to 0600).
	Secret bool
}

// Split parses CFSSL JSON output and returns the files cfssljson would
// write, in its order. Nothing is returned with an error: cfssljson checks
// every value before writing anything.
func Split(input []byte, opts Options) ([]File, error) {
	obj, err := decode(input, opts.Bare)
	if err != nil {
		return nil, err
	}
	return split(obj, opts.BaseName)
}

// StdoutText renders files as cfssljson -stdout prints them: each content
// followed by a newline, binary contents as standard base64.
func StdoutText(files []File) []byte {
	var out []byte
	for _, f := range files {
		if f.Binary {
			out = base64.StdEncoding.AppendEncode(out, f.Content)
		} else {
			out = append(out, f.Content...)
		}
		out = append(out, '\n')
	}
	return out
}

// decode returns the object to process: the whole input with bare, else
// the result of a successful envelope.
func decode(input []byte, bare bool) (map[string]any, error) {
	if bare {
		var obj map[string]any
		if err := json.Unmarshal(input, &obj); err != nil {
			return nil, &ParseError{Err: err}
		}
		return obj, nil
	}
	// The type names show up in encoding/json's messages; they match the
	// ones cfssljson's messages name (see Message).
	type ResponseMessage struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	}
	type Response struct {
		Success  bool              `json:"success"`
		Result   map[string]any    `json:"result"`
		Errors   []ResponseMessage `json:"errors"`
		Messages []ResponseMessage `json:"messages"`
	}
	var resp Response
	if err := json.Unmarshal(input, &resp); err != nil {
		return nil, &ParseError{Err: err}
	}
	if !resp.Success {
		msgs := make([]string, 0, len(resp.Errors))
		for _, m := range resp.Errors {
			msgs = append(msgs, m.Message)
		}
		return nil, &RequestError{Messages: msgs}
	}
	return resp.Result, nil
}
