//go:build cgo && !nopkcs11

package keystorepkcs11

import (
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
	"github.com/pkid/pkid/sdk"
)

// slotToken is a slot with a token present.
type slotToken struct {
	Slot uint
	Info pkcs11.TokenInfo
}

// tokens lists the slots that hold a token.
func (m *module) tokens() ([]slotToken, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("keystore-pkcs11: listing slots: %w", err)
	}
	var out []slotToken
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil {
			continue // removed since GetSlotList
		}
		ti.Label = strings.TrimRight(ti.Label, " \x00")
		ti.SerialNumber = strings.TrimRight(ti.SerialNumber, " \x00")
		ti.ManufacturerID = strings.TrimRight(ti.ManufacturerID, " \x00")
		ti.Model = strings.TrimRight(ti.Model, " \x00")
		out = append(out, slotToken{s, ti})
	}
	return out, nil
}

// findToken returns the slot of the token spec selects. Errors: wraps
// sdk.ErrNotFound, listing the tokens present, when there is none.
func (m *module) findToken(spec tokenSpec) (slotToken, error) {
	all, err := m.tokens()
	if err != nil {
		return slotToken{}, err
	}
	var names []string
	for _, t := range all {
		if t.Info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		switch {
		case spec.BySlot && t.Slot == spec.Slot,
			spec.Label != "" && t.Info.Label == spec.Label,
			spec.Serial != "" && t.Info.SerialNumber == spec.Serial:
			return t, nil
		}
		names = append(names, fmt.Sprintf("%q (serial %s, slot %d)", t.Info.Label, t.Info.SerialNumber, t.Slot))
	}
	avail := "no initialised tokens"
	if len(names) > 0 {
		avail = "available tokens: " + strings.Join(names, ", ")
	}
	return slotToken{}, fmt.Errorf("keystore-pkcs11: no %s in module %q; %s: %w", spec, m.path, avail, sdk.ErrNotFound)
}
