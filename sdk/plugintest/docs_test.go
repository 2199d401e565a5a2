package plugintest

import (
	"testing"

	"github.com/pkid/pkid/sdk"
)

func TestDocStoreKitInMemory(t *testing.T) {
	TestDocStore(t, func(*testing.T) sdk.DocStore { return NewMemDocStore() })
}
