package migrations

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
	}
	steps, err := Load(good, "m")
	if err != nil || len(steps) != 2 || steps[0].SQL != "A" || Latest(steps) != 2 {
		t.Fatalf("%+v %v", steps, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":    {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no num": {"m/init.sql": {}},
		"zero":   {"m/0000_x.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
