package testtool

import (
	"net"
	"strconv"
	"testing"
)

// FreePort's ports are bindable and, where Linux says where its
// ephemeral range starts, below it.
func TestFreePort(t *testing.T) {
	lo := ephemeralStart()
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if lo > 11000 && (p < 10000 || p >= lo) {
			t.Fatalf("port %d is not in [10000, %d)", p, lo)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		l.Close()
	}
}
