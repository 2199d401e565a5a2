package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
)

// Client is the host side of one plugin connection. It serves every instance
// in that plugin process; KeyStore, CertStore, Trust and ScanCheck return
// per-instance views that implement the same Go interfaces as an in-process
// plugin.
type Client struct {
	base pb.PluginClient
	ks   pb.KeyStoreClient
	cs   pb.CertStoreClient
	tr   pb.TrustClient
	sc   pb.ScanCheckClient
	ds   pb.DocStoreClient

	sign *wire.Mux[*pb.SignRequest, *pb.SignResult]
	put  *wire.Mux[*pb.PutRequest, *pb.PutResult]

	mu   sync.Mutex
	caps map[[2]string][]string // kind, instance -> capabilities from Configure
}

// Capabilities: the optional interfaces a configured instance implements,
// as the plugin-side adapter found them (Client.Capabilities).
const (
	CapImportKey = wire.CapImportKey // sdk.KeyImporter
	CapPutBatch  = wire.CapPutBatch  // sdk.BatchPutter
	CapLease     = wire.CapLease     // sdk.Leaser
)

// NewClient wraps a gRPC connection to a plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	c := &Client{
		base: pb.NewPluginClient(conn), ks: pb.NewKeyStoreClient(conn), cs: pb.NewCertStoreClient(conn),
		tr: pb.NewTrustClient(conn), sc: pb.NewScanCheckClient(conn), ds: pb.NewDocStoreClient(conn), caps: map[[2]string][]string{},
	}
	c.sign = &wire.Mux[*pb.SignRequest, *pb.SignResult]{Ops: wire.StreamOps[*pb.SignRequest, *pb.SignResult]{
		Open: func(ctx context.Context) (func([]*pb.SignRequest) error, func() ([]*pb.SignResult, error), error) {
			st, err := c.ks.SignStream(ctx)
			if err != nil {
				return nil, nil, err
			}
			return func(b []*pb.SignRequest) error { return st.Send(&pb.SignBatch{Requests: b}) },
				func() ([]*pb.SignResult, error) {
					b, err := st.Recv()
					if err != nil {
						return nil, err
					}
					return b.Results, nil
				}, nil
		},
		SetID: func(r *pb.SignRequest, id uint64) { r.Id = id },
		GetID: func(r *pb.SignResult) uint64 { return r.Id },
	}}
	c.put = &wire.Mux[*pb.PutRequest, *pb.PutResult]{Ops: wire.StreamOps[*pb.PutRequest, *pb.PutResult]{
		Open: func(ctx context.Context) (func([]*pb.PutRequest) error, func() ([]*pb.PutResult, error), error) {
			st, err := c.cs.PutStream(ctx)
			if err != nil {
				return nil, nil, err
			}
			return func(b []*pb.PutRequest) error { return st.Send(&pb.PutBatch{Requests: b}) },
				func() ([]*pb.PutResult, error) {
					b, err := st.Recv()
					if err != nil {
						return nil, err
					}
					return b.Results, nil
				}, nil
		},
		SetID: func(r *pb.PutRequest, id uint64) { r.Id = id },
		GetID: func(r *pb.PutResult) uint64 { return r.Id },
	}}
	return c
}

// Close ends the client's streams; pending calls fail.
func (c *Client) Close() {
	c.sign.Close()
	c.put.Close()
}

// sdk.Info calls GetInfo.
func (c *Client) Info(ctx context.Context) (sdk.Info, error) {
	r, err := c.base.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		return sdk.Info{}, wire.FromStatus(err)
	}
	return sdk.Info{Name: r.Name, Version: r.Version, Kinds: r.Kinds, Description: r.Description}, nil
}

// sdk.Schema calls GetSchema.
func (c *Client) Schema(ctx context.Context, kind string) (*sdk.Schema, error) {
	r, err := c.base.GetSchema(ctx, &pb.GetSchemaRequest{Kind: kind})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	return schemaFromPB(r.Schema), nil
}

// ValidateConfig calls ValidateConfig.
func (c *Client) ValidateConfig(ctx context.Context, cfg sdk.Config) (sdk.Diagnostics, error) {
	r, err := c.base.ValidateConfig(ctx, &pb.ValidateConfigRequest{Kind: cfg.Kind, Instance: cfg.Instance, ConfigJson: cfg.JSON, LiteralSecrets: cfg.LiteralSecrets})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	return diagsFromPB(r.Diagnostics), nil
}

// Configure creates or replaces an instance. Configuration problems come
// back as a *DiagnosticsError; a kind the plugin does not provide as
// sdk.ErrInvalidArgument.
func (c *Client) Configure(ctx context.Context, cfg sdk.Config) error {
	r, err := c.base.Configure(ctx, &pb.ConfigureRequest{Kind: cfg.Kind, Instance: cfg.Instance, ConfigJson: cfg.JSON, LiteralSecrets: cfg.LiteralSecrets})
	if err != nil {
		return wire.FromStatus(err)
	}
	if err := diagsFromPB(r.Diagnostics).Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.caps[[2]string{cfg.Kind, cfg.Instance}] = r.Capabilities
	c.mu.Unlock()
	return nil
}

// Capabilities returns what the last successful Configure of the instance
// reported (CapImportKey, CapPutBatch, CapLease): the optional interfaces it
// implements.
func (c *Client) Capabilities(kind, instance string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.caps[[2]string{kind, instance}])
}

// has reports whether the instance reported capability cp.
func (c *Client) has(kind, instance, cp string) bool {
	return slices.Contains(c.Capabilities(kind, instance), cp)
}

// CloseInstance closes an instance in the plugin process.
func (c *Client) CloseInstance(ctx context.Context, kind, name string) error {
	_, err := c.base.CloseInstance(ctx, &pb.CloseInstanceRequest{Kind: kind, Instance: name})
	return wire.FromStatus(err)
}

// Commands lists the plugin's CLI commands.
func (c *Client) Commands(ctx context.Context) ([]sdk.Command, error) {
	r, err := c.base.ListCommands(ctx, &pb.ListCommandsRequest{})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	var out []sdk.Command
	for _, cmd := range r.Commands {
		out = append(out, sdk.Command{Kind: cmd.Kind, Name: cmd.Name, Synopsis: cmd.Synopsis, Help: cmd.Help})
	}
	return out, nil
}

// RunCommand runs a plugin command, streaming req.Stdin to it and its output
// to req.Stdout and req.Stderr. It returns the command's exit code.
func (c *Client) RunCommand(ctx context.Context, req sdk.CommandRequest) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.base.RunCommand(ctx)
	if err != nil {
		return 1, wire.FromStatus(err)
	}
	start := &pb.RunCommandRequest_Start{Kind: req.Kind, Name: req.Name, Args: req.Args}
	if err := st.Send(&pb.RunCommandRequest{Msg: &pb.RunCommandRequest_Start_{Start: start}}); err != nil {
		return 1, wire.FromStatus(err)
	}
	go func() {
		if req.Stdin != nil {
			buf := make([]byte, 32<<10)
			for {
				n, err := req.Stdin.Read(buf)
				if n > 0 {
					if st.Send(&pb.RunCommandRequest{Msg: &pb.RunCommandRequest_Stdin{Stdin: append([]byte(nil), buf[:n]...)}}) != nil {
						return
					}
				}
				if err != nil {
					break
				}
			}
		}
		_ = st.Send(&pb.RunCommandRequest{Msg: &pb.RunCommandRequest_StdinEof{StdinEof: true}})
	}()
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return 1, fmt.Errorf("plugin command %s ended without an exit code", req.Name)
		}
		if err != nil {
			return 1, wire.FromStatus(err)
		}
		switch x := m.Msg.(type) {
		case *pb.RunCommandResponse_Stdout:
			if req.Stdout != nil {
				_, _ = req.Stdout.Write(x.Stdout)
			}
		case *pb.RunCommandResponse_Stderr:
			if req.Stderr != nil {
				_, _ = req.Stderr.Write(x.Stderr)
			}
		case *pb.RunCommandResponse_ExitCode:
			return int(x.ExitCode), nil
		}
	}
}

// KeyStore returns the named keystore instance of this plugin process. It
// implements sdk.KeyImporter when the instance does.
func (c *Client) KeyStore(instance string) sdk.KeyStore {
	k := &keyStoreClient{c: c, instance: instance}
	if c.has(sdk.KindKeyStore, instance, CapImportKey) {
		return &importingKeyStoreClient{k}
	}
	return k
}

// CertStore returns the named certstore instance of this plugin process.
// It implements sdk.Leaser and sdk.DocStore when the instance does.
func (c *Client) CertStore(instance string) sdk.CertStore {
	s := &certStoreClient{c: c, instance: instance}
	if c.has(sdk.KindCertStore, instance, CapLease) {
		return c.withDocs(leasingCertStoreClient{s}, instance)
	}
	return c.withDocs(s, instance)
}

// ---------------------------------------------------------------------------

type keyStoreClient struct {
	c        *Client
	instance string
}

// Close is a no-op: the host owns the instance's life cycle (CloseInstance).
func (k *keyStoreClient) Close() error { return nil }

func keyInfoReply(r *pb.KeyInfo, err error) (*sdk.KeyInfo, error) {
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	return keyInfoFromPB(r)
}

func (k *keyStoreClient) GenerateKey(ctx context.Context, req sdk.GenerateKeyRequest) (*sdk.KeyInfo, error) {
	return keyInfoReply(k.c.ks.GenerateKey(ctx, &pb.GenerateKeyRequest{Instance: k.instance, Id: req.ID, Algorithm: req.Algorithm, Attributes: req.Attributes}))
}

// importingKeyStoreClient is the view of a keystore that implements
// sdk.KeyImporter.
type importingKeyStoreClient struct{ *keyStoreClient }

func (k *importingKeyStoreClient) ImportKey(ctx context.Context, req sdk.ImportKeyRequest) (*sdk.KeyInfo, error) {
	return keyInfoReply(k.c.ks.ImportKey(ctx, &pb.ImportKeyRequest{Instance: k.instance, Id: req.ID, PrivateKeyPem: req.PEM}))
}

func (k *keyStoreClient) ListKeys(ctx context.Context) ([]sdk.KeyInfo, error) {
	r, err := k.c.ks.ListKeys(ctx, &pb.ListKeysRequest{Instance: k.instance})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	out := make([]sdk.KeyInfo, 0, len(r.Keys))
	for _, pk := range r.Keys {
		ki, err := keyInfoFromPB(pk)
		if err != nil {
			return nil, err
		}
		out = append(out, *ki)
	}
	return out, nil
}

func (k *keyStoreClient) PublicKey(ctx context.Context, id string) (*sdk.KeyInfo, error) {
	return keyInfoReply(k.c.ks.PublicKey(ctx, &pb.PublicKeyRequest{Instance: k.instance, Id: id}))
}

// Sign goes over the shared signing stream.
func (k *keyStoreClient) Sign(ctx context.Context, req sdk.SignRequest) ([]byte, error) {
	res, err := k.c.sign.Call(ctx, signReqToPB(k.instance, req))
	if err != nil {
		return nil, err
	}
	if res.Error != nil {
		return nil, wire.StatusFromPB(res.Error)
	}
	return res.Signature, nil
}

// ---------------------------------------------------------------------------

type certStoreClient struct {
	c        *Client
	instance string
}

func (s *certStoreClient) Close() error { return nil }

// Put goes over the shared group-commit stream.
func (s *certStoreClient) Put(ctx context.Context, rec *sdk.CertRecord) error {
	res, err := s.c.put.Call(ctx, &pb.PutRequest{Instance: s.instance, Record: recordToPB(rec)})
	if err != nil {
		return err
	}
	if res.Error != nil {
		return wire.StatusFromPB(res.Error)
	}
	return nil
}

// PutBatch sends recs in order over the group-commit stream; the plugin
// commits them together, with the semantics of sequential Puts.
func (s *certStoreClient) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	reqs := make([]*pb.PutRequest, len(recs))
	for i, rec := range recs {
		reqs[i] = &pb.PutRequest{Instance: s.instance, Record: recordToPB(rec)}
	}
	res, errs := s.c.put.CallMany(ctx, reqs)
	for i := range errs {
		if errs[i] == nil && res[i].Error != nil {
			errs[i] = wire.StatusFromPB(res[i].Error)
		}
	}
	return errs, nil
}

func (s *certStoreClient) Get(ctx context.Context, serial, aki string) (*sdk.CertRecord, error) {
	r, err := s.c.cs.Get(ctx, &pb.GetRequest{Instance: s.instance, Serial: serial, Aki: aki})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	return recordFromPB(r), nil
}

func (s *certStoreClient) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := s.c.cs.List(ctx, &pb.ListRequest{
		Instance: s.instance, IssuerLabel: f.IssuerLabel, Aki: f.AKI, Status: f.Status,
		ExpiresBefore: wire.Timestamp(f.ExpiresBefore), ExpiresAfter: wire.Timestamp(f.ExpiresAfter), Limit: int32(f.Limit),
		Descending: f.Descending,
	})
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
		if err := fn(recordFromPB(r)); err != nil {
			return err
		}
	}
}

func (s *certStoreClient) Revoke(ctx context.Context, req sdk.RevokeRequest) error {
	_, err := s.c.cs.Revoke(ctx, &pb.RevokeRequest{Instance: s.instance, Serial: req.Serial, Aki: req.AKI, Reason: int32(req.Reason), RevokedAt: wire.Timestamp(req.RevokedAt)})
	return wire.FromStatus(err)
}

func (s *certStoreClient) PutOCSP(ctx context.Context, rec *sdk.OCSPRecord) error {
	_, err := s.c.cs.PutOCSP(ctx, &pb.PutOCSPRequest{Instance: s.instance, Record: ocspToPB(rec)})
	return wire.FromStatus(err)
}

func (s *certStoreClient) GetOCSP(ctx context.Context, serial, aki string) (*sdk.OCSPRecord, error) {
	r, err := s.c.cs.GetOCSP(ctx, &pb.GetOCSPRequest{Instance: s.instance, Serial: serial, Aki: aki})
	if err != nil {
		return nil, wire.FromStatus(err)
	}
	return ocspFromPB(r), nil
}
