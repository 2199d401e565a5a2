package cli

import "errors"

// jsonCmd is being written (cfssljson splitting).
func jsonCmd(e *env) *command {
	return &command{synopsis: "Split CFSSL JSON output into files (like cfssljson)", run: func([]string) error { return errors.New("not implemented yet") }}
}
