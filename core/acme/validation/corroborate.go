package validation

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Corroborate asks primary and every remote perspective at once and
// decides: OK when the primary accepted and at least quorum remotes did
// (multi-perspective issuance corroboration). A quorum larger than the
// number of remotes can never be met and refuses. On refusal the
// Problem names each perspective that disagreed and what it saw; its
// type is the primary's problem type when the primary refused, else that
// of the first disagreeing remote. ctx bounds the whole decision; each
// Validator bounds its own work.
func Corroborate(ctx context.Context, primary Validator, remotes []Validator, quorum int, req Request) Decision {
	all := append([]Validator{primary}, remotes...)
	views := make([]View, len(all))
	var wg sync.WaitGroup
	for i, v := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i] = safeValidate(ctx, v, req, i)
		}()
	}
	wg.Wait()

	d := Decision{Views: views}
	agreed := 0
	var disagree []string
	for i, v := range views {
		if v.OK {
			if i > 0 {
				agreed++
			}
			continue
		}
		disagree = append(disagree, describe(v))
	}
	if quorum < 0 {
		quorum = 0
	}
	switch {
	case quorum > len(remotes):
		d.Problem = problem(ProblemServerInternal, "quorum %d cannot be met by %d remote perspectives", quorum, len(remotes))
	case !views[0].OK:
		d.Problem = problem(problemType(views[0]), "primary perspective refused: %s", strings.Join(disagree, "; "))
	case agreed < quorum:
		typ := ProblemUnauthorized
		for _, v := range views[1:] {
			if !v.OK {
				typ = problemType(v)
				break
			}
		}
		d.Problem = problem(typ, "%d of %d remote perspectives agreed, quorum %d: %s",
			agreed, len(remotes), quorum, strings.Join(disagree, "; "))
	default:
		d.OK = true
	}
	return d
}

// safeValidate runs one perspective, turning a panic or an unnamed or
// contradictory view into a refusing view, so one faulty validator
// cannot fake agreement or crash the decision.
func safeValidate(ctx context.Context, v Validator, req Request, i int) (view View) {
	name := fmt.Sprintf("perspective %d", i)
	defer func() {
		if r := recover(); r != nil {
			view = View{Perspective: name, Problem: problem(ProblemServerInternal, "perspective %s failed: %v", name, r)}
		}
	}()
	if v == nil {
		return View{Perspective: name, Problem: problem(ProblemServerInternal, "perspective %d is not configured", i)}
	}
	view = v.Validate(ctx, req)
	if view.Perspective == "" {
		view.Perspective = name
	}
	if view.OK && view.Problem != nil {
		view.OK = false
	}
	if !view.OK && view.Problem == nil {
		view.Problem = problem(ProblemServerInternal, "perspective %s refused without a problem", view.Perspective)
	}
	return view
}

func problemType(v View) string {
	if v.Problem != nil && v.Problem.Type != "" {
		return v.Problem.Type
	}
	return ProblemServerInternal
}

// describe is one disagreeing view for a problem detail.
func describe(v View) string {
	s := v.Perspective
	if len(v.Addresses) > 0 {
		s += " (at " + strings.Join(v.Addresses, ", ") + ")"
	}
	if v.Problem != nil {
		s += ": " + v.Problem.Detail
	}
	return s
}
