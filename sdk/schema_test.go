package sdk

import (
	"errors"
	"testing"
)

func TestDiagnosticsErr(t *testing.T) {
	if (Diagnostics{{Severity: SeverityWarning, Summary: "w"}}).Err() != nil {
		t.Error("warnings alone are not an error")
	}
	err := Errorf([]string{"dir"}, "bad dir", "it is a file").Err()
	var de *DiagnosticsError
	if !errors.As(err, &de) || err.Error() != "bad dir: it is a file" {
		t.Errorf("got %v", err)
	}
}
