package sdk

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
)

// Conversions between the plain Go types and their protobuf forms, the
// directions the plugin side needs (sdk/rpc has the host's).

func schemaToPB(s *Schema) *pb.Schema {
	if s == nil {
		return &pb.Schema{}
	}
	out := &pb.Schema{}
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, &pb.Attribute{
			Name: a.Name, TypeJson: []byte(a.Type), Required: a.Required, Sensitive: a.Sensitive,
			Description: a.Description, DefaultJson: []byte(a.Default),
		})
	}
	for _, b := range s.Blocks {
		out.Blocks = append(out.Blocks, &pb.NestedBlock{
			TypeName: b.TypeName, Nesting: pb.NestedBlock_Nesting(b.Nesting), Body: schemaToPB(b.Body),
			Required: b.Required, Description: b.Description,
		})
	}
	return out
}

func diagsToPB(ds Diagnostics) []*pb.Diagnostic {
	var out []*pb.Diagnostic
	for _, d := range ds {
		out = append(out, &pb.Diagnostic{
			Severity: pb.Diagnostic_Severity(d.Severity), Summary: d.Summary, Detail: d.Detail,
			AttributePath: d.Path,
		})
	}
	return out
}

func keyInfoToPB(k *KeyInfo) (*pb.KeyInfo, error) {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshaling public key of %q: %w", k.ID, err)
	}
	return &pb.KeyInfo{
		Id: k.ID, Algorithm: k.Algorithm, PublicKeyDer: der, CreatedAt: wire.Timestamp(k.CreatedAt),
		Attributes: k.Attributes,
	}, nil
}

func signReqFromPB(r *pb.SignRequest) SignRequest {
	return SignRequest{
		KeyID: r.KeyId, Digest: r.Digest, Hash: crypto.Hash(r.Hash), PSS: r.Pss,
		SaltLength: int(r.PssSaltLength),
	}
}

func recordToPB(r *CertRecord) *pb.CertificateRecord {
	return &pb.CertificateRecord{
		Serial: r.Serial, Aki: r.AKI, IssuerLabel: r.IssuerLabel, Subject: r.Subject, Sans: r.SANs,
		NotBefore: wire.Timestamp(r.NotBefore), NotAfter: wire.Timestamp(r.NotAfter), Status: r.Status,
		RevocationReason: int32(r.RevocationReason), RevokedAt: wire.Timestamp(r.RevokedAt), Profile: r.Profile,
		Der: r.DER, MetadataJson: r.Metadata, CreatedAt: wire.Timestamp(r.CreatedAt),
	}
}

func recordFromPB(r *pb.CertificateRecord) *CertRecord {
	return &CertRecord{
		Serial: r.Serial, AKI: r.Aki, IssuerLabel: r.IssuerLabel, Subject: r.Subject, SANs: r.Sans,
		NotBefore: wire.Time(r.NotBefore), NotAfter: wire.Time(r.NotAfter), Status: r.Status,
		RevocationReason: int(r.RevocationReason), RevokedAt: wire.Time(r.RevokedAt), Profile: r.Profile,
		DER: r.Der, Metadata: r.MetadataJson, CreatedAt: wire.Time(r.CreatedAt),
	}
}

func ocspToPB(r *OCSPRecord) *pb.OCSPRecord {
	return &pb.OCSPRecord{Serial: r.Serial, Aki: r.AKI, Response: r.Response, NextUpdate: wire.Timestamp(r.NextUpdate)}
}

func ocspFromPB(r *pb.OCSPRecord) *OCSPRecord {
	return &OCSPRecord{Serial: r.Serial, AKI: r.Aki, Response: r.Response, NextUpdate: wire.Time(r.NextUpdate)}
}
