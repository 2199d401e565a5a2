package scan

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/catalog"
	"github.com/pkid/pkid/sdk"
)

// benchFamilies are the builtin families the benchmark runs: DNS, TCP and
// TLS dials (real handshakes), without the protocol and cipher sweeps and
// per-check handshakes of the other families, which would make one op
// (256 hosts) take minutes on a shared 2-core machine.
const benchFamilies = "^Connectivity$"

// slowConn delays its first read: a loopback stand-in for a network round
// trip, so the benchmark also shows what concurrency buys against real
// networks (on bare loopback, client and server handshakes share the
// process's CPU and concurrency cannot hide any wait).
type slowConn struct {
	net.Conn
	delay time.Duration
	once  sync.Once
}

func (c *slowConn) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Read(p)
}

type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.delay == 0 {
		return c, err
	}
	return &slowConn{Conn: c, delay: l.delay}, nil
}

func benchServer(b *testing.B, delay time.Duration) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Listener = slowListener{srv.Listener, delay}
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// BenchmarkScan256 scans 256 loopback TLS endpoints with the builtin
// checks at the default concurrency and at 1 (the anchor of make bench's
// ratio), on bare loopback and with 20ms added to each connection's first
// server read, and reports hosts/s.
func BenchmarkScan256(b *testing.B) {
	newPlugin, ok := catalog.LookupBuiltin(sdk.KindScanCheck, BuiltinType)
	if !ok {
		b.Fatal("no builtin tls scancheck")
	}
	inst, err := newPlugin().Configure(context.Background(), sdk.Config{Kind: sdk.KindScanCheck, Instance: "bench", JSON: []byte(`{}`)})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		targets := make([]Target, 256)
		for i := range targets {
			targets[i] = Target{Host: benchServer(b, delay)}
		}
		for _, c := range []int{DefaultConcurrency, 1} {
			b.Run(fmt.Sprintf("latency=%v/concurrency=%d", delay, c), func(b *testing.B) {
				r := newRunner(b, Options{Checks: []sdk.ScanCheck{inst.(sdk.ScanCheck)}, Family: benchFamilies, Concurrency: c})
				for b.Loop() {
					got, err := collect(b, context.Background(), r, targets...)
					if err != nil || len(got) != len(targets) {
						b.Fatalf("%d results, %v", len(got), err)
					}
					for h, res := range got {
						if d := res.Results["Connectivity"]["TLSDial"]; d.Grade == GradeBad {
							b.Fatalf("%s: TLSDial %+v", h, d)
						}
					}
				}
				b.ReportMetric(float64(len(targets)*b.N)/b.Elapsed().Seconds(), "hosts/s")
			})
		}
	}
}
