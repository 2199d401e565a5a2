package testtool

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreePort returns a loopback TCP port that is free now, for a server
// that another process (or a later listener) will bind. It is chosen
// below the kernel's ephemeral range: a port taken from that range (by
// listening on :0) is handed out again to the next outgoing connection
// of any test running alongside, and the server that binds it later
// then fails with "address already in use" (seen in CI: lego's
// tls-alpn-01 server lost its port this way). Outside the range only an
// explicit bind can collide. Where the range cannot be read, or leaves
// no room below it, it falls back to a port from :0.
func FreePort() (int, error) {
	lo := ephemeralStart()
	const floor = 10000
	if lo-floor >= 1000 {
		for range 64 {
			p := floor + rand.IntN(lo-floor)
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				continue
			}
			l.Close()
			return p, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, errors.Join(errors.New("testtool: finding a free port"), err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralStart is the first port of Linux's ephemeral range (0 if
// unknown).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}
