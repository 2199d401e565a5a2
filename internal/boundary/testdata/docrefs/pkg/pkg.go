// Package pkg points at docs/guide.md, "Present heading" (fine), and at a
// wrapped one (docs/guide.md, "Another
// one").
package pkg

// F is documented in (docs/guide.md, "Missing heading").
func F() {}

// G is documented in (docs/absent.md, "Present heading").
func G() {}
