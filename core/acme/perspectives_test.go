package acme_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"
)

// TestRemotePerspectives: the daemon asks two remote validators (over
// mutual TLS, each with its own resolver). When v2's DNS is spoofed to
// another loopback address, quorum 2 refuses naming v2 and quorum 1
// still issues; with v2's view restored quorum 2 issues.
func TestRemotePerspectives(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h, v := shared, sharedVals
	obtain := func(profile, name string) error {
		c, _ := newLego(t, h, profile, true)
		if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(h.HTTPPort))); err != nil {
			t.Fatal(err)
		}
		res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: []string{name}, Bundle: true, PrivateKey: certKey()})
		if err == nil {
			verifyChain(t, h, res.Certificate, name)
		}
		return err
	}
	for _, name := range []string{"mp1.acme.test", "mp2.acme.test", "mp3.acme.test"} {
		h.DNS.SetA(name, "127.0.0.1")
		v.dns[0].SetA(name, "127.0.0.1")
		v.dns[1].SetA(name, "127.0.0.2") // spoofed: nothing answers there
	}
	err := obtain("multi2", "mp1.acme.test")
	if err == nil || !strings.Contains(err.Error(), "v2") || strings.Contains(err.Error(), "v1 (") {
		t.Fatalf("quorum 2 with v2 spoofed: %v", err)
	}
	if err := obtain("multi1", "mp2.acme.test"); err != nil {
		t.Fatalf("quorum 1 with v2 spoofed: %v", err)
	}
	v.dns[1].SetA("mp3.acme.test", "127.0.0.1")
	if err := obtain("multi2", "mp3.acme.test"); err != nil {
		t.Fatalf("quorum 2, both genuine: %v", err)
	}
}
