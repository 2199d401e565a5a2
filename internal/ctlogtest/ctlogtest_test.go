package ctlogtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPinnedVersion: the binary's cache name, scripts/test.sh and the
// module that builds it name the same release.
func TestPinnedVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(moduleDir(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "require filippo.io/sunlight "+SunlightVersion+"\n") {
		t.Errorf("sunlight/go.mod does not require filippo.io/sunlight %s:\n%s", SunlightVersion, mod)
	}
	script, err := os.ReadFile(filepath.Join(moduleDir(), "..", "..", "..", "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "bin/sunlight-"+SunlightVersion) {
		t.Errorf("scripts/test.sh does not build bin/sunlight-%s", SunlightVersion)
	}
}
