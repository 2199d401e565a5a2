package acme

import (
	"context"
	"errors"

	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/core/config"
)

// DefaultPerspectives builds a profile's validators from its acme
// block's validation settings.
func DefaultPerspectives(pol *config.ACMEPolicy) (*Perspectives, error) {
	return nil, errors.New("validation is not built yet")
}

// corroborate asks the perspectives.
var corroborate = func(ctx context.Context, primary validation.Validator, remotes []validation.Validator, quorum int, req validation.Request) validation.Decision {
	v := primary.Validate(ctx, req)
	return validation.Decision{OK: v.OK, Views: []validation.View{v}, Problem: v.Problem}
}
