package pluginhost

import (
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"testing"

	"github.com/pkid/pkid/sdk"
)

func TestTuneDaemonGC(t *testing.T) {
	// Restore the test process's collector whatever happens.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	tests := []struct {
		name              string
		gogc, memlimit    string // "" means unset
		wantGC, wantLimit int64
	}{
		{"defaults", "", "", DaemonGOGC, DaemonMemoryLimit},
		{"operator GOGC wins", "150", "", 150, DaemonMemoryLimit},
		{"operator GOMEMLIMIT wins", "", "1GiB", DaemonGOGC, 1 << 30},
		{"both set", "off", "512MiB", -1, 512 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range map[string]string{"GOGC": tt.gogc, "GOMEMLIMIT": tt.memlimit} {
				t.Setenv(k, v) // restores at the end
				if v == "" {
					os.Unsetenv(k)
				}
			}
			// What the runtime would have read from an operator's variables.
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			if tt.gogc != "" {
				if tt.gogc == "off" {
					debug.SetGCPercent(-1)
				} else {
					n, _ := strconv.Atoi(tt.gogc)
					debug.SetGCPercent(n)
				}
			}
			if tt.memlimit != "" {
				debug.SetMemoryLimit(tt.wantLimit)
			}
			TuneDaemonGC()
			if got := debug.SetGCPercent(-1); int64(got) != tt.wantGC {
				t.Errorf("GC percent %d, want %d", got, tt.wantGC)
			}
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tt.wantLimit)
			}
			// Builtin plugins inherit what the daemon runs with.
			wantEnv := tt.gogc
			if wantEnv == "" {
				wantEnv = strconv.Itoa(DaemonGOGC)
			}
			if got := os.Getenv("GOGC"); got != wantEnv {
				t.Errorf("GOGC=%q for plugins, want %q", got, wantEnv)
			}
			if got := os.Getenv("GOMEMLIMIT"); tt.memlimit == "" && got != strconv.Itoa(DaemonMemoryLimit) {
				t.Errorf("GOMEMLIMIT=%q for plugins, want %d", got, DaemonMemoryLimit)
			}
		})
	}
}

// TestBuiltinInheritsGC: a builtin plugin's command carries the daemon's
// GOGC and GOMEMLIMIT (what TuneDaemonGC sets), an external plugin's only
// what its block allows.
func TestBuiltinInheritsGC(t *testing.T) {
	t.Setenv("GOGC", "400")
	t.Setenv("GOMEMLIMIT", "2147483648")
	h := New(Options{Executable: "/bin/true"})
	cmd, _, err := h.command(Spec{Kind: "keystore", Type: "file", New: func() sdk.Plugin { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOGC=400", "GOMEMLIMIT=2147483648"} {
		if !slices.Contains(cmd.Env, want) {
			t.Errorf("builtin plugin environment %q lacks %s", cmd.Env, want)
		}
	}
}
