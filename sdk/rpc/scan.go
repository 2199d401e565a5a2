package rpc

import (
	"context"
	"errors"
	"io"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
)

// ScanCheck returns the named scancheck instance of this plugin process.
func (c *Client) ScanCheck(instance string) sdk.ScanCheck {
	return &scanCheckClient{c: c, instance: instance}
}

type scanCheckClient struct {
	c        *Client
	instance string
}

// Close is a no-op: the host owns the instance's life cycle (CloseInstance).
func (s *scanCheckClient) Close() error { return nil }

func (s *scanCheckClient) Families(ctx context.Context) ([]sdk.ScanFamily, error) {
	r, err := s.c.sc.Families(ctx, &pb.FamiliesRequest{Instance: s.instance})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	out := make([]sdk.ScanFamily, 0, len(r.Families))
	for _, f := range r.Families {
		sf := sdk.ScanFamily{Name: f.Name, Description: f.Description}
		for _, c := range f.Checks {
			sf.Checks = append(sf.Checks, sdk.ScanCheckInfo{Name: c.Name, Description: c.Description})
		}
		out = append(out, sf)
	}
	return out, nil
}

// Run streams the check's findings to fn. ctx's deadline travels with the
// call (the plugin's check sees it); ctx ending, or fn returning an error
// (returned as is), cancels the stream, which stops the check.
func (s *scanCheckClient) Run(ctx context.Context, req sdk.ScanRequest, fn func(*sdk.Finding) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := s.c.sc.Run(ctx, &pb.RunRequest{Instance: s.instance, Family: req.Family, Check: req.Check, Host: req.Host, Ip: req.IP})
	if err != nil {
		return wire.FromStatus(err)
	}
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return wire.FromStatus(err)
		}
		f := &sdk.Finding{Family: r.Family, Check: r.Check, Grade: sdk.Grade(r.Grade), Reason: r.Reason, Output: r.OutputJson}
		if err := fn(f); err != nil {
			return err
		}
	}
}

var _ sdk.ScanCheck = (*scanCheckClient)(nil)
