// Package migrations loads numbered schema steps (NNNN_description.sql)
// embedded in a store plugin. Applying them is the store's business: each
// database has its own locking and version table.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Step is one numbered schema step.
type Step struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the steps in dir of fsys in version order. Errors: a file
// name without a positive number prefix, or versions that are not 1..n.
func Load(fsys fs.FS, dir string) ([]Step, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var steps []Step
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("bad migration file name %q", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		steps = append(steps, Step{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Version < steps[j].Version })
	for i := range steps {
		if steps[i].Version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1..n: %q", steps[i].Name)
		}
	}
	return steps, nil
}

// Latest is the newest version in steps (0 when there are none).
func Latest(steps []Step) int {
	if len(steps) == 0 {
		return 0
	}
	return steps[len(steps)-1].Version
}
