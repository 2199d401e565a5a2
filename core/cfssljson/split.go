package cfssljson

import (
	"encoding/base64"
	"fmt"
	"io/fs"
)

// Modes cfssljson creates its files with.
const (
	ModeCert   fs.FileMode = 0o664 // <base>.pem
	ModeKey    fs.FileMode = 0o600 // <base>-key.pem, <base>-key.enc
	ModePublic fs.FileMode = 0o644 // <base>.csr, -bundle.pem, -root.pem, -response.der
)

// split lists the files for obj in cfssljson's order: certificate, key,
// encrypted key, CSR, bundle, root, OCSP response.
func split(obj map[string]any, base string) ([]File, error) {
	var files []File
	text := []struct {
		keys   []string // the first present key wins, even if empty
		suffix string
		mode   fs.FileMode
		secret bool
	}{
		{[]string{"cert", "certificate"}, ".pem", ModeCert, false},
		{[]string{"key", "private_key"}, "-key.pem", ModeKey, true},
	}
	for _, t := range text {
		s, err := firstString(obj, t.keys...)
		if err != nil {
			return nil, err
		}
		if s != "" {
			files = append(files, File{Name: base + t.suffix, Mode: t.mode, Content: []byte(s), Secret: t.secret})
		}
	}
	// encrypted_key is written whenever present, even empty.
	if _, ok := obj["encrypted_key"]; ok {
		s, err := stringValue(obj, "encrypted_key")
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: base + "-key.enc", Mode: ModeKey, Content: []byte(s), Binary: true, Secret: true})
	}
	csr, err := firstString(obj, "csr", "certificate_request")
	if err != nil {
		return nil, err
	}
	if csr != "" {
		files = append(files, File{Name: base + ".csr", Mode: ModePublic, Content: []byte(csr)})
	}
	bundle, err := bundleFiles(obj, base)
	if err != nil {
		return nil, err
	}
	files = append(files, bundle...)
	if _, ok := obj["ocspResponse"]; ok {
		s, err := stringValue(obj, "ocspResponse")
		if err != nil {
			return nil, err
		}
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, &FieldError{Key: "ocspResponse", Err: err}
		}
		files = append(files, File{Name: base + "-response.der", Mode: ModePublic, Content: der, Binary: true})
	}
	return files, nil
}

// bundleFiles writes <base>-bundle.pem and <base>-root.pem from a bundle
// object: cfssljson only looks at result.bundle of the processed object;
// pkid also takes the processed object's own bundle object
// (docs/differences-from-cfssl.md, "pkid json writes bundles and safe files").
func bundleFiles(obj map[string]any, base string) ([]File, error) {
	b, ok := bundleObject(obj)
	if !ok {
		return nil, nil
	}
	chain, ok := b["bundle"].(string)
	if !ok {
		return nil, &FieldError{Key: "bundle.bundle", Err: kindError(b, "bundle")}
	}
	root, ok := b["root"].(string)
	if !ok {
		return nil, &FieldError{Key: "bundle.root", Err: kindError(b, "root")}
	}
	return []File{
		{Name: base + "-bundle.pem", Mode: ModePublic, Content: []byte(chain + "\n" + root)},
		{Name: base + "-root.pem", Mode: ModePublic, Content: []byte(root)},
	}, nil
}

func bundleObject(obj map[string]any) (map[string]any, bool) {
	if result, ok := obj["result"].(map[string]any); ok {
		if b, ok := result["bundle"].(map[string]any); ok {
			return b, true
		}
	}
	b, ok := obj["bundle"].(map[string]any)
	return b, ok
}

// firstString returns the value of the first of keys present in obj, which
// must be a string; "" when none is present.
func firstString(obj map[string]any, keys ...string) (string, error) {
	for _, k := range keys {
		if _, ok := obj[k]; ok {
			return stringValue(obj, k)
		}
	}
	return "", nil
}

// stringValue returns obj[key], which must be a string.
func stringValue(obj map[string]any, key string) (string, error) {
	s, ok := obj[key].(string)
	if !ok {
		return "", &FieldError{Key: key, Err: kindError(obj, key)}
	}
	return s, nil
}

// kindError explains why obj[key] is not a string.
func kindError(obj map[string]any, key string) error {
	v, ok := obj[key]
	if !ok {
		return ErrMissing
	}
	return fmt.Errorf("%w (got %s)", ErrNotString, jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
