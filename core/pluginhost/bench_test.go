package pluginhost_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/core/pluginhost"
	"github.com/pkid/pkid/sdk"
)

// BenchmarkSignP256 compares keystore-file ECDSA P-256 signing in process
// and out of process (the default: gRPC to a plugin process, batched over
// the signing stream) with 1 and 32 concurrent callers. Besides wall time it
// reports cpu-ns/op: CPU of this process plus the plugin process per
// signature. scripts/bench.sh prints the out/in ratios.
func BenchmarkSignP256(b *testing.B) {
	for _, mode := range []string{"inprocess", "process"} {
		h := newHost(b)
		ks := openKeyStore(b, h, mode == "inprocess")
		ctx := context.Background()
		if _, err := ks.GenerateKey(ctx, sdk.GenerateKeyRequest{ID: "bench", Algorithm: sdk.AlgECDSAP256}); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256([]byte("benchmark"))
		req := sdk.SignRequest{KeyID: "bench", Digest: sum[:], Hash: crypto.SHA256}
		b.Run(mode+"/c1", func(b *testing.B) {
			cpu := startCPU(b, h)
			for b.Loop() {
				if _, err := ks.Sign(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
		b.Run(mode+"/c32", func(b *testing.B) {
			cpu := startCPU(b, h)
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ks.Sign(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			cpu.report(b)
		})
	}
}

type cpuMeter struct {
	h     *pluginhost.Host
	start time.Duration
}

func startCPU(b *testing.B, h *pluginhost.Host) cpuMeter {
	return cpuMeter{h: h, start: cpuTime(b, h)}
}

func (m cpuMeter) report(b *testing.B) {
	used := cpuTime(b, m.h) - m.start
	b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is user+system time of this process and its plugin processes.
func cpuTime(b *testing.B, h *pluginhost.Host) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, p := range h.Processes() {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the parenthesised command: utime and stime are the
		// 12th and 13th, in clock ticks (100 Hz on Linux).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		var ut, st int64
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}
