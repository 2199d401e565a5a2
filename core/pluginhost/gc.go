package pluginhost

import (
	"os"
	"runtime/debug"
	"strconv"
)

// Garbage collector defaults of the long-running daemon (pkid serve) and
// the builtin plugin processes it starts. Issuance alone allocates about
// 80 kB per certificate (BenchmarkIssue -benchmem) against a small live
// heap, so under load the collector ran 5% of the process tree's CPU
// samples and allocation 11% (perf, 32 clients); with GOGC=400 the daemon
// and its plugins spent 0.90x the CPU per certificate (make bench-compare,
// same run; 800 gained 0.93x more, 200 lost 1.03x). The soft memory
// limit keeps a large live heap (an OCSP refresh of millions of
// certificates) from growing to five times its size.
const (
	DaemonGOGC        = 400
	DaemonMemoryLimit = 2 << 30 // bytes
)

// TuneDaemonGC applies DaemonGOGC and DaemonMemoryLimit to this process
// unless GOGC or GOMEMLIMIT is set, and sets them in the environment so
// the builtin plugin processes started afterwards get the same (both are
// in DefaultBuiltinEnv). A GOGC or GOMEMLIMIT set by the operator wins.
func TuneDaemonGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(DaemonGOGC)
		os.Setenv("GOGC", strconv.Itoa(DaemonGOGC))
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(DaemonMemoryLimit)
		os.Setenv("GOMEMLIMIT", strconv.Itoa(DaemonMemoryLimit))
	}
}
