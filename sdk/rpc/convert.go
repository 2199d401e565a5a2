package rpc

import (
	"crypto/x509"
	"fmt"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
)

// Conversions between sdk's types and their protobuf forms, the directions
// the host needs. The plugin side's are in package sdk; both sides convert
// records, so those are in both (the gRPC conformance kits, which Put then
// Get every field, catch a field one of them forgets).

func schemaFromPB(s *pb.Schema) *sdk.Schema {
	out := &sdk.Schema{}
	if s == nil {
		return out
	}
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, sdk.Attribute{
			Name: a.Name, Type: string(a.TypeJson), Required: a.Required, Sensitive: a.Sensitive,
			Description: a.Description, Default: string(a.DefaultJson),
		})
	}
	for _, b := range s.Blocks {
		out.Blocks = append(out.Blocks, sdk.Block{
			TypeName: b.TypeName, Nesting: sdk.Nesting(b.Nesting), Body: schemaFromPB(b.Body),
			Required: b.Required, Description: b.Description,
		})
	}
	return out
}

func diagsFromPB(ds []*pb.Diagnostic) sdk.Diagnostics {
	var out sdk.Diagnostics
	for _, d := range ds {
		sev := sdk.Severity(d.Severity)
		if sev != sdk.SeverityWarning {
			sev = sdk.SeverityError
		}
		out = append(out, sdk.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: d.AttributePath})
	}
	return out
}

func keyInfoFromPB(k *pb.KeyInfo) (*sdk.KeyInfo, error) {
	pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDer)
	if err != nil {
		return nil, fmt.Errorf("parsing public key of %q: %w", k.Id, err)
	}
	return &sdk.KeyInfo{
		ID: k.Id, Algorithm: k.Algorithm, PublicKey: pub, CreatedAt: wire.Time(k.CreatedAt),
		Attributes: k.Attributes,
	}, nil
}

func signReqToPB(instance string, r sdk.SignRequest) *pb.SignRequest {
	return &pb.SignRequest{
		Instance: instance, KeyId: r.KeyID, Digest: r.Digest, Hash: uint32(r.Hash),
		Pss: r.PSS, PssSaltLength: int32(r.SaltLength),
	}
}

func recordToPB(r *sdk.CertRecord) *pb.CertificateRecord {
	return &pb.CertificateRecord{
		Serial: r.Serial, Aki: r.AKI, IssuerLabel: r.IssuerLabel, Subject: r.Subject, Sans: r.SANs,
		NotBefore: wire.Timestamp(r.NotBefore), NotAfter: wire.Timestamp(r.NotAfter), Status: r.Status,
		RevocationReason: int32(r.RevocationReason), RevokedAt: wire.Timestamp(r.RevokedAt), Profile: r.Profile,
		Der: r.DER, MetadataJson: r.Metadata, CreatedAt: wire.Timestamp(r.CreatedAt),
	}
}

func recordFromPB(r *pb.CertificateRecord) *sdk.CertRecord {
	return &sdk.CertRecord{
		Serial: r.Serial, AKI: r.Aki, IssuerLabel: r.IssuerLabel, Subject: r.Subject, SANs: r.Sans,
		NotBefore: wire.Time(r.NotBefore), NotAfter: wire.Time(r.NotAfter), Status: r.Status,
		RevocationReason: int(r.RevocationReason), RevokedAt: wire.Time(r.RevokedAt), Profile: r.Profile,
		DER: r.Der, Metadata: r.MetadataJson, CreatedAt: wire.Time(r.CreatedAt),
	}
}

func ocspToPB(r *sdk.OCSPRecord) *pb.OCSPRecord {
	return &pb.OCSPRecord{Serial: r.Serial, Aki: r.AKI, Response: r.Response, NextUpdate: wire.Timestamp(r.NextUpdate)}
}

func ocspFromPB(r *pb.OCSPRecord) *sdk.OCSPRecord {
	return &sdk.OCSPRecord{Serial: r.Serial, AKI: r.Aki, Response: r.Response, NextUpdate: wire.Time(r.NextUpdate)}
}
