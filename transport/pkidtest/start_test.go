package pkidtest

import (
	"net/http"
	"strings"
	"testing"
)

// The daemon answers through the relay, stops answering while Down and
// answers again after Up.
func TestStartDownUp(t *testing.T) {
	ca := Start(t, Options{})
	info := func() error {
		resp, err := ca.HTTPClient().Post(ca.URL+"/api/v1/cfssl/info", "application/json", strings.NewReader(`{"label":"issuing"}`))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("info: %d", resp.StatusCode)
		}
		return nil
	}
	if err := info(); err != nil {
		t.Fatal(err)
	}
	ca.Down()
	if err := info(); err == nil {
		t.Fatal("answered while down")
	}
	ca.Up()
	if err := info(); err != nil {
		t.Fatal(err)
	}
}
