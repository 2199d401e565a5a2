package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileFuncSize bounds what file() reads: certificates and secrets are
// small, and a typo like file("/dev/zero") must not exhaust memory.
const maxFileFuncSize = 4 << 20

// evalContext returns the functions for expressions in a file in dir. Each
// file gets its own context because file() resolves relative paths against
// the directory of the file being evaluated.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":       envFunc,
			"file":      fileFunc(dir),
			"trimspace": stdlib.TrimSpaceFunc,
			"lower":     stdlib.LowerFunc,
			"upper":     stdlib.UpperFunc,
			"join":      stdlib.JoinFunc,
		},
	}
}

// envFunc is env(name) or env(name, default): the value of a host
// environment variable, so secrets need not be written into the file.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or the default if given and the variable is unset.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, function.NewArgErrorf(0, "environment variable %s is not set", name)
	},
})

// fileFunc is file(path): the contents of a file, relative paths being
// relative to dir.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file; a relative path is relative to the configuration file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			s, err := readSmallFile(p)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(s), nil
		},
	})
}

// readSmallFile reads a regular file of at most maxFileFuncSize bytes of
// UTF-8 text (HCL strings are Unicode).
func readSmallFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileFuncSize+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFileFuncSize {
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxFileFuncSize)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not valid UTF-8 text", path)
	}
	return string(b), nil
}
