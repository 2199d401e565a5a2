package validation

import "context"

// dns01 is not implemented yet.
func (l *Local) dns01(ctx context.Context, req Request) *Problem {
	return problem(ProblemServerInternal, "dns-01 is not implemented yet")
}

// tlsALPN01 is not implemented yet.
func (l *Local) tlsALPN01(ctx context.Context, req Request) ([]string, *Problem) {
	return nil, problem(ProblemServerInternal, "tls-alpn-01 is not implemented yet")
}

// checkCAA is not implemented yet.
func (l *Local) checkCAA(ctx context.Context, req Request) *Problem { return nil }
