package transport_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/pkid/pkid/transport"
	"github.com/pkid/pkid/transport/pkidtest"
)

// Two services, one serving HTTPS and one calling it, each with a
// certificate from pkid that renews itself. pkidtest runs a real daemon
// on 127.0.0.1 for the example.
func Example() {
	err := pkidtest.Run(pkidtest.Options{Expiry: "10m"}, func(ca *pkidtest.CA) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pkid := transport.CA{URL: ca.URL, RootCAs: ca.RootCAs, Label: "issuing", Profile: "mtls", AuthKey: ca.AuthKey}
		revocation := transport.RevocationConfig{Mode: transport.FailClosed, HTTPClient: ca.HTTPClient()}

		server, err := transport.New(ctx, transport.Config{CA: pkid, Revocation: revocation,
			Identity: transport.Identity{CN: "ledger", Hosts: []string{"127.0.0.1"}}})
		if err != nil {
			log.Fatal(err)
		}
		go server.Run(ctx)
		ln, err := server.Listen("tcp", "127.0.0.1:0", transport.Peers{Roots: ca.Roots, Names: []string{"billing"}})
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s", r.TLS.PeerCertificates[0].Subject.CommonName)
		})}
		go srv.Serve(ln)
		defer srv.Close()

		caller, err := transport.New(ctx, transport.Config{CA: pkid, Revocation: revocation,
			Identity: transport.Identity{CN: "billing"}})
		if err != nil {
			log.Fatal(err)
		}
		go caller.Run(ctx)
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: caller.ClientConfig("127.0.0.1", transport.Peers{Roots: ca.Roots, Names: []string{"ledger"}}),
		}}
		call := func() {
			resp, err := hc.Get("https://" + ln.Addr().String() + "/")
			if err != nil {
				log.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Println(string(body))
		}
		call()

		before := caller.Certificate().Leaf.SerialNumber
		if err := caller.RenewNow(ctx); err != nil {
			log.Fatal(err)
		}
		fmt.Println("new certificate:", caller.Certificate().Leaf.SerialNumber.Cmp(before) != 0)
		call() // the same keep-alive connection, then new ones, all fine
		fmt.Println(caller.Health().State, caller.Health().Renewals)
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// hello billing
	// new certificate: true
	// hello billing
	// ok 1
}
