package sdk

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Conversions between the plain Go types and their protobuf forms.

func tsOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

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

func schemaFromPB(s *pb.Schema) *Schema {
	out := &Schema{}
	if s == nil {
		return out
	}
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, Attribute{
			Name: a.Name, Type: string(a.TypeJson), Required: a.Required, Sensitive: a.Sensitive,
			Description: a.Description, Default: string(a.DefaultJson),
		})
	}
	for _, b := range s.Blocks {
		out.Blocks = append(out.Blocks, Block{
			TypeName: b.TypeName, Nesting: Nesting(b.Nesting), Body: schemaFromPB(b.Body),
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

func diagsFromPB(ds []*pb.Diagnostic) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		sev := Severity(d.Severity)
		if sev != SeverityWarning {
			sev = SeverityError
		}
		out = append(out, Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: d.AttributePath})
	}
	return out
}

func keyInfoToPB(k *KeyInfo) (*pb.KeyInfo, error) {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshaling public key of %q: %w", k.ID, err)
	}
	return &pb.KeyInfo{
		Id: k.ID, Algorithm: k.Algorithm, PublicKeyDer: der, CreatedAt: tsOf(k.CreatedAt),
		Attributes: k.Attributes,
	}, nil
}

func keyInfoFromPB(k *pb.KeyInfo) (*KeyInfo, error) {
	pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDer)
	if err != nil {
		return nil, fmt.Errorf("parsing public key of %q: %w", k.Id, err)
	}
	return &KeyInfo{
		ID: k.Id, Algorithm: k.Algorithm, PublicKey: pub, CreatedAt: timeOf(k.CreatedAt),
		Attributes: k.Attributes,
	}, nil
}

func signReqToPB(instance string, r SignRequest) *pb.SignRequest {
	return &pb.SignRequest{
		Instance: instance, KeyId: r.KeyID, Digest: r.Digest, Hash: uint32(r.Hash),
		Pss: r.PSS, PssSaltLength: int32(r.SaltLength),
	}
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
		NotBefore: tsOf(r.NotBefore), NotAfter: tsOf(r.NotAfter), Status: r.Status,
		RevocationReason: int32(r.RevocationReason), RevokedAt: tsOf(r.RevokedAt), Profile: r.Profile,
		Der: r.DER, MetadataJson: r.Metadata, CreatedAt: tsOf(r.CreatedAt),
	}
}

func recordFromPB(r *pb.CertificateRecord) *CertRecord {
	return &CertRecord{
		Serial: r.Serial, AKI: r.Aki, IssuerLabel: r.IssuerLabel, Subject: r.Subject, SANs: r.Sans,
		NotBefore: timeOf(r.NotBefore), NotAfter: timeOf(r.NotAfter), Status: r.Status,
		RevocationReason: int(r.RevocationReason), RevokedAt: timeOf(r.RevokedAt), Profile: r.Profile,
		DER: r.Der, Metadata: r.MetadataJson, CreatedAt: timeOf(r.CreatedAt),
	}
}

func ocspToPB(r *OCSPRecord) *pb.OCSPRecord {
	return &pb.OCSPRecord{Serial: r.Serial, Aki: r.AKI, Response: r.Response, NextUpdate: tsOf(r.NextUpdate)}
}

func ocspFromPB(r *pb.OCSPRecord) *OCSPRecord {
	return &OCSPRecord{Serial: r.Serial, AKI: r.Aki, Response: r.Response, NextUpdate: timeOf(r.NextUpdate)}
}

func statusToPB(err error) *pb.Status {
	if err == nil {
		return nil
	}
	return &pb.Status{Code: int32(Code(err)), Message: err.Error()}
}
