package ca_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
)

// heapPeak samples the live heap ("/memory/classes/heap/objects:bytes")
// every millisecond until stop and returns the peak above the baseline
// taken (after a GC) when it starts.
type heapPeak struct {
	stop chan struct{}
	done sync.WaitGroup
	base uint64
	peak uint64
}

const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func heapObjects(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	h := &heapPeak{stop: make(chan struct{}), base: heapObjects(s)}
	h.peak = h.base
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		s := []metrics.Sample{{Name: heapObjectsMetric}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := heapObjects(s); v > h.peak {
				h.peak = v
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// MB stops the sampling and returns the peak over the baseline in MB.
func (h *heapPeak) MB() float64 {
	close(h.stop)
	h.done.Wait()
	return float64(h.peak-h.base) / (1 << 20)
}

// crlBenchEntries yields n entries with 20-byte serials made on the fly
// (one reused big.Int: the iterator holds nothing per entry).
func crlBenchEntries(n int, now time.Time) func(func(ca.CRLEntry) error) error {
	return func(yield func(ca.CRLEntry) error) error {
		var buf [20]byte
		serial := new(big.Int)
		for i := range n {
			buf[0] = 0x4a
			binary.BigEndian.PutUint64(buf[4:], uint64(i)*0x9e3779b97f4a7c15)
			binary.BigEndian.PutUint64(buf[12:], uint64(i))
			serial.SetBytes(buf[:])
			if err := yield(ca.CRLEntry{Serial: serial, RevokedAt: now.Add(-time.Duration(i) * time.Second), Reason: i % 6}); err != nil {
				return err
			}
		}
		return nil
	}
}

// BenchmarkCRL measures EncodeCRL (P-256 CA, to io.Discard, spill file in
// b.TempDir()) with 100,000 and 1,000,000 entries: entries/s and the peak
// live heap over the baseline, which stays flat as the entries grow.
// stdlib-100000 is the reference: x509.CreateRevocationList over the same
// entries held in a slice (built inside the measured run).
func BenchmarkCRL(b *testing.B) {
	c := newCRLCA(b, crlKeyTypes[0], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	now := time.Now().UTC()
	tmpl := ca.CRLTemplate{Number: big.NewInt(now.UnixNano()), ThisUpdate: now, NextUpdate: now.Add(7 * 24 * time.Hour),
		DistributionPoint: "http://crl.example.com/ca.crl", FreshestCRL: "http://crl.example.com/ca-delta.crl"}
	for _, n := range []int{100000, 1000000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			var peak float64
			var size int64
			b.ResetTimer()
			for range b.N {
				h := startHeapPeak()
				info, err := ca.EncodeCRL(context.Background(), io.Discard, ca.EncodeCRLRequest{Template: tmpl, Issuer: c.cert, Signer: c.key, Entries: crlBenchEntries(n, now), TempDir: dir})
				if mb := h.MB(); mb > peak {
					peak = mb
				}
				if err != nil {
					b.Fatal(err)
				}
				if info.Entries != int64(n) {
					b.Fatalf("%d entries", info.Entries)
				}
				size = info.Bytes
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(float64(size)/(1<<20), "crl-MB")
		})
	}
	b.Run("stdlib-100000", func(b *testing.B) {
		const n = 100000
		var peak float64
		b.ResetTimer()
		for range b.N {
			h := startHeapPeak()
			rl := &x509.RevocationList{Number: tmpl.Number, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate,
				RevokedCertificateEntries: make([]x509.RevocationListEntry, 0, n)}
			if err := crlBenchEntries(n, now)(func(e ca.CRLEntry) error {
				rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries,
					x509.RevocationListEntry{SerialNumber: new(big.Int).Set(e.Serial), RevocationTime: e.RevokedAt, ReasonCode: e.Reason})
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			der, err := x509.CreateRevocationList(rand.Reader, rl, c.cert, c.key)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Discard.Write(der); err != nil {
				b.Fatal(err)
			}
			if mb := h.MB(); mb > peak {
				peak = mb
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(peak, "peak-heap-MB")
	})
}
