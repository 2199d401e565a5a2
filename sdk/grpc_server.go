package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/pkid/pkid/sdk/internal/wire"
	pb "github.com/pkid/pkid/sdk/proto/pluginv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// server adapts a Plugin to the gRPC services (the plugin side of the
// protocol; the host side is package sdk/rpc). One server hosts every named
// instance of the plugin in this process.
type server struct {
	pb.UnimplementedPluginServer
	impl Plugin

	mu        sync.RWMutex
	instances map[instanceKey]Instance
}

type instanceKey struct{ kind, name string }

// newServer returns the gRPC adapter for p.
func newServer(p Plugin) *server {
	return &server{impl: p, instances: map[instanceKey]Instance{}}
}

// register adds the base service and the services of p's kinds to s.
func (srv *server) register(s *grpc.Server) {
	pb.RegisterPluginServer(s, srv)
	for _, k := range srv.impl.Info().Kinds {
		switch k {
		case KindKeyStore:
			pb.RegisterKeyStoreServer(s, &keyStoreServer{srv: srv})
		case KindCertStore:
			pb.RegisterCertStoreServer(s, &certStoreServer{srv: srv})
			pb.RegisterDocStoreServer(s, &docStoreServer{srv: srv})
		case KindTrust:
			pb.RegisterTrustServer(s, &trustServer{srv: srv})
		case KindScanCheck:
			pb.RegisterScanCheckServer(s, &scanCheckServer{srv: srv})
		}
	}
}

func (srv *server) instance(kind, name string) (Instance, error) {
	srv.mu.RLock()
	inst, ok := srv.instances[instanceKey{kind, name}]
	srv.mu.RUnlock()
	if !ok {
		// FailedPrecondition, not NotFound: NotFound means "no such key".
		return nil, status.Errorf(codes.FailedPrecondition, "%s instance %q is not configured in this plugin process", kind, name)
	}
	return inst, nil
}

func (srv *server) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	i := srv.impl.Info()
	return &pb.GetInfoResponse{Name: i.Name, Version: i.Version, Kinds: i.Kinds, Description: i.Description}, nil
}

func (srv *server) GetSchema(_ context.Context, r *pb.GetSchemaRequest) (*pb.GetSchemaResponse, error) {
	return &pb.GetSchemaResponse{Schema: schemaToPB(srv.impl.Schema(r.Kind))}, nil
}

// checkKind refuses a kind the plugin does not serve, so that no plugin
// re-checks cfg.Kind itself.
func (srv *server) checkKind(kind string) error {
	if i := srv.impl.Info(); !hasKind(i, kind) {
		return status.Errorf(codes.InvalidArgument, "plugin %q provides %q, not %q", i.Name, i.Kinds, kind)
	}
	return nil
}

func (srv *server) ValidateConfig(ctx context.Context, r *pb.ValidateConfigRequest) (*pb.ValidateConfigResponse, error) {
	if err := srv.checkKind(r.Kind); err != nil {
		return nil, err
	}
	ds := srv.impl.ValidateConfig(ctx, Config{Kind: r.Kind, Instance: r.Instance, JSON: r.ConfigJson, LiteralSecrets: r.LiteralSecrets})
	return &pb.ValidateConfigResponse{Diagnostics: diagsToPB(ds)}, nil
}

func (srv *server) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := srv.checkKind(r.Kind); err != nil {
		return nil, err
	}
	inst, err := srv.impl.Configure(ctx, Config{Kind: r.Kind, Instance: r.Instance, JSON: r.ConfigJson, LiteralSecrets: r.LiteralSecrets})
	var de *DiagnosticsError
	if errors.As(err, &de) {
		return &pb.ConfigureResponse{Diagnostics: diagsToPB(de.Diagnostics)}, nil
	}
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	caps, err := capabilities(r.Kind, inst)
	if err != nil {
		_ = inst.Close()
		return nil, status.Errorf(codes.Internal, "plugin %q: %v", srv.impl.Info().Name, err)
	}
	key := instanceKey{r.Kind, r.Instance}
	srv.mu.Lock()
	old := srv.instances[key]
	srv.instances[key] = inst
	srv.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return &pb.ConfigureResponse{Capabilities: caps}, nil
}

// capabilities checks that inst implements kind's interface and names the
// optional interfaces it implements (wire.Cap*).
func capabilities(kind string, inst Instance) ([]string, error) {
	var ok bool
	switch kind {
	case KindKeyStore:
		_, ok = inst.(KeyStore)
	case KindCertStore:
		_, ok = inst.(CertStore)
	case KindTrust:
		_, ok = inst.(Trust)
	case KindScanCheck:
		_, ok = inst.(ScanCheck)
	}
	if !ok {
		return nil, fmt.Errorf("configure returned a %T, which does not implement the %s interface", inst, kind)
	}
	var caps []string
	if _, ok := inst.(KeyImporter); ok && kind == KindKeyStore {
		caps = append(caps, wire.CapImportKey)
	}
	if _, ok := inst.(BatchPutter); ok && kind == KindCertStore {
		caps = append(caps, wire.CapPutBatch)
	}
	if _, ok := inst.(Leaser); ok && kind == KindCertStore {
		caps = append(caps, wire.CapLease)
	}
	if _, ok := inst.(DocStore); ok && kind == KindCertStore {
		caps = append(caps, wire.CapDocs)
	}
	return caps, nil
}

func (srv *server) CloseInstance(_ context.Context, r *pb.CloseInstanceRequest) (*pb.CloseInstanceResponse, error) {
	key := instanceKey{r.Kind, r.Instance}
	srv.mu.Lock()
	inst := srv.instances[key]
	delete(srv.instances, key)
	srv.mu.Unlock()
	if inst != nil {
		if err := inst.Close(); err != nil {
			return nil, wire.ToStatus(err)
		}
	}
	return &pb.CloseInstanceResponse{}, nil
}

func (srv *server) ListCommands(context.Context, *pb.ListCommandsRequest) (*pb.ListCommandsResponse, error) {
	out := &pb.ListCommandsResponse{}
	if c, ok := srv.impl.(Commander); ok {
		cmds := c.Commands()
		sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
		for _, cmd := range cmds {
			out.Commands = append(out.Commands, &pb.Command{Kind: cmd.Kind, Name: cmd.Name, Synopsis: cmd.Synopsis, Help: cmd.Help})
		}
	}
	return out, nil
}

func (srv *server) RunCommand(stream grpc.BidiStreamingServer[pb.RunCommandRequest, pb.RunCommandResponse]) error {
	c, ok := srv.impl.(Commander)
	if !ok {
		return status.Error(codes.Unimplemented, "plugin provides no commands")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "first RunCommand message must be start")
	}
	stdinR, stdinW := io.Pipe()
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil || m.GetStdinEof() {
				stdinW.Close()
				return
			}
			if b := m.GetStdin(); len(b) > 0 {
				if _, err := stdinW.Write(b); err != nil {
					return
				}
			}
		}
	}()
	var sendMu sync.Mutex
	send := func(m *pb.RunCommandResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	code, err := c.RunCommand(stream.Context(), CommandRequest{
		Kind: start.Kind, Name: start.Name, Args: start.Args, Stdin: stdinR,
		Stdout: streamWriter(func(b []byte) error {
			return send(&pb.RunCommandResponse{Msg: &pb.RunCommandResponse_Stdout{Stdout: b}})
		}),
		Stderr: streamWriter(func(b []byte) error {
			return send(&pb.RunCommandResponse{Msg: &pb.RunCommandResponse_Stderr{Stderr: b}})
		}),
	})
	stdinR.Close()
	if err != nil {
		return wire.ToStatus(err)
	}
	return send(&pb.RunCommandResponse{Msg: &pb.RunCommandResponse_ExitCode{ExitCode: int32(code)}})
}

type streamWriter func([]byte) error

func (w streamWriter) Write(b []byte) (int, error) {
	if err := w(append([]byte(nil), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func hasKind(i Info, kind string) bool {
	for _, k := range i.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------

type keyStoreServer struct {
	pb.UnimplementedKeyStoreServer
	srv *server
}

func (s *keyStoreServer) ks(name string) (KeyStore, error) {
	inst, err := s.srv.instance(KindKeyStore, name)
	if err != nil {
		return nil, err
	}
	ks, ok := inst.(KeyStore)
	if !ok {
		return nil, status.Errorf(codes.Internal, "instance %q is not a keystore", name)
	}
	return ks, nil
}

func keyInfoResult(k *KeyInfo, err error) (*pb.KeyInfo, error) {
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	out, err := keyInfoToPB(k)
	return out, wire.ToStatus(err)
}

func (s *keyStoreServer) GenerateKey(ctx context.Context, r *pb.GenerateKeyRequest) (*pb.KeyInfo, error) {
	ks, err := s.ks(r.Instance)
	if err != nil {
		return nil, err
	}
	return keyInfoResult(ks.GenerateKey(ctx, GenerateKeyRequest{ID: r.Id, Algorithm: r.Algorithm, Attributes: r.Attributes}))
}

func (s *keyStoreServer) ImportKey(ctx context.Context, r *pb.ImportKeyRequest) (*pb.KeyInfo, error) {
	ks, err := s.ks(r.Instance)
	if err != nil {
		return nil, err
	}
	imp, ok := ks.(KeyImporter)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "keystore %q cannot import keys", r.Instance)
	}
	return keyInfoResult(imp.ImportKey(ctx, ImportKeyRequest{ID: r.Id, PEM: r.PrivateKeyPem}))
}

func (s *keyStoreServer) ListKeys(ctx context.Context, r *pb.ListKeysRequest) (*pb.ListKeysResponse, error) {
	ks, err := s.ks(r.Instance)
	if err != nil {
		return nil, err
	}
	keys, err := ks.ListKeys(ctx)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	out := &pb.ListKeysResponse{}
	for i := range keys {
		k, err := keyInfoToPB(&keys[i])
		if err != nil {
			return nil, wire.ToStatus(err)
		}
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}

func (s *keyStoreServer) PublicKey(ctx context.Context, r *pb.PublicKeyRequest) (*pb.KeyInfo, error) {
	ks, err := s.ks(r.Instance)
	if err != nil {
		return nil, err
	}
	return keyInfoResult(ks.PublicKey(ctx, r.Id))
}

func (s *keyStoreServer) Sign(ctx context.Context, r *pb.SignRequest) (*pb.SignResponse, error) {
	ks, err := s.ks(r.Instance)
	if err != nil {
		return nil, err
	}
	sig, err := ks.Sign(ctx, signReqFromPB(r))
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.SignResponse{Signature: sig}, nil
}

// SignStream answers each received batch with one message, signing its
// items in parallel. Keeping batches whole matters: answering item by item
// would wake callers one at a time, they would resubmit one at a time, and
// batches would collapse to single items costing a round trip each.
func (s *keyStoreServer) SignStream(stream grpc.BidiStreamingServer[pb.SignBatch, pb.SignResultBatch]) error {
	ctx := stream.Context()
	var (
		wg      sync.WaitGroup
		sendMu  sync.Mutex
		sendErr error
	)
	var rerr error
	for {
		b, err := stream.Recv()
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
		reqs := b.Requests
		wg.Add(1)
		go func() {
			defer wg.Done()
			results := make([]*pb.SignResult, len(reqs))
			parallel(len(reqs), func(i int) {
				r := reqs[i]
				res := &pb.SignResult{Id: r.Id}
				ks, err := s.ks(r.Instance)
				if err == nil {
					res.Signature, err = ks.Sign(ctx, signReqFromPB(r))
				}
				res.Error = wire.StatusToPB(err)
				results[i] = res
			})
			sendMu.Lock()
			defer sendMu.Unlock()
			if sendErr == nil {
				sendErr = stream.Send(&pb.SignResultBatch{Results: results})
			}
		}()
	}
	wg.Wait()
	if sendErr != nil {
		return sendErr
	}
	return rerr
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines, the caller's
// among them.
func parallel(n int, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// ---------------------------------------------------------------------------

type certStoreServer struct {
	pb.UnimplementedCertStoreServer
	srv *server
}

func (s *certStoreServer) cs(name string) (CertStore, error) {
	inst, err := s.srv.instance(KindCertStore, name)
	if err != nil {
		return nil, err
	}
	cs, ok := inst.(CertStore)
	if !ok {
		return nil, status.Errorf(codes.Internal, "instance %q is not a certstore", name)
	}
	return cs, nil
}

func (s *certStoreServer) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	cs, err := s.cs(r.Instance)
	if err != nil {
		return nil, err
	}
	if r.Record == nil {
		return nil, status.Error(codes.InvalidArgument, "put: missing record")
	}
	if err := cs.Put(ctx, recordFromPB(r.Record)); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.PutResponse{}, nil
}

// PutStream is the plugin side of group commit: everything that arrived
// while the previous batch was committing is committed together.
func (s *certStoreServer) PutStream(stream grpc.BidiStreamingServer[pb.PutBatch, pb.PutResultBatch]) error {
	recv := func() ([]*pb.PutRequest, error) {
		b, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		return b.Requests, nil
	}
	send := func(rs []*pb.PutResult) error { return stream.Send(&pb.PutResultBatch{Results: rs}) }
	return wire.ServeStream(stream.Context(), recv, send, func(ctx context.Context, in <-chan *pb.PutRequest, out chan<- *pb.PutResult) {
		wire.Batches(in, nil, wire.MaxBatch, func(batch []*pb.PutRequest) { s.commit(ctx, batch, out) })
	})
}

// commit writes a batch grouped by instance, one PutBatch per instance.
func (s *certStoreServer) commit(ctx context.Context, batch []*pb.PutRequest, out chan<- *pb.PutResult) {
	byInst := map[string][]*pb.PutRequest{}
	var order []string
	for _, r := range batch {
		if _, ok := byInst[r.Instance]; !ok {
			order = append(order, r.Instance)
		}
		byInst[r.Instance] = append(byInst[r.Instance], r)
	}
	for _, name := range order {
		reqs := byInst[name]
		errs := make([]error, len(reqs))
		cs, err := s.cs(name)
		switch {
		case err != nil:
			for i := range errs {
				errs[i] = err
			}
		default:
			errs = putAll(ctx, cs, recordsOf(reqs))
		}
		for i, r := range reqs {
			out <- &pb.PutResult{Id: r.Id, Error: wire.StatusToPB(errs[i])}
		}
	}
}

func recordsOf(reqs []*pb.PutRequest) []*CertRecord {
	recs := make([]*CertRecord, len(reqs))
	for i, r := range reqs {
		if r.Record == nil {
			r.Record = &pb.CertificateRecord{}
		}
		recs[i] = recordFromPB(r.Record)
	}
	return recs
}

// putAll stores recs with one PutBatch when cs implements BatchPutter, else
// one Put each. It returns one error (or nil) per record.
func putAll(ctx context.Context, cs CertStore, recs []*CertRecord) []error {
	errs := make([]error, len(recs))
	if bp, ok := cs.(BatchPutter); ok && len(recs) > 1 {
		per, err := bp.PutBatch(ctx, recs)
		for i := range errs {
			switch {
			case err != nil:
				errs[i] = err
			case i < len(per):
				errs[i] = per[i]
			default:
				errs[i] = fmt.Errorf("put batch: no result for record %d", i)
			}
		}
		return errs
	}
	for i, rec := range recs {
		errs[i] = cs.Put(ctx, rec)
	}
	return errs
}

func (s *certStoreServer) Get(ctx context.Context, r *pb.GetRequest) (*pb.CertificateRecord, error) {
	cs, err := s.cs(r.Instance)
	if err != nil {
		return nil, err
	}
	rec, err := cs.Get(ctx, r.Serial, r.Aki)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return recordToPB(rec), nil
}

func (s *certStoreServer) List(r *pb.ListRequest, stream grpc.ServerStreamingServer[pb.CertificateRecord]) error {
	cs, err := s.cs(r.Instance)
	if err != nil {
		return err
	}
	f := ListFilter{
		IssuerLabel: r.IssuerLabel, AKI: r.Aki, Status: r.Status, ExpiresBefore: wire.Time(r.ExpiresBefore),
		ExpiresAfter: wire.Time(r.ExpiresAfter), Limit: int(r.Limit), Descending: r.Descending,
	}
	return wire.ToStatus(cs.List(stream.Context(), f, func(rec *CertRecord) error { return stream.Send(recordToPB(rec)) }))
}

func (s *certStoreServer) Revoke(ctx context.Context, r *pb.RevokeRequest) (*pb.RevokeResponse, error) {
	cs, err := s.cs(r.Instance)
	if err != nil {
		return nil, err
	}
	err = cs.Revoke(ctx, RevokeRequest{Serial: r.Serial, AKI: r.Aki, Reason: int(r.Reason), RevokedAt: wire.Time(r.RevokedAt)})
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.RevokeResponse{}, nil
}

func (s *certStoreServer) PutOCSP(ctx context.Context, r *pb.PutOCSPRequest) (*pb.PutOCSPResponse, error) {
	cs, err := s.cs(r.Instance)
	if err != nil {
		return nil, err
	}
	if r.Record == nil {
		return nil, status.Error(codes.InvalidArgument, "put ocsp: missing record")
	}
	if err := cs.PutOCSP(ctx, ocspFromPB(r.Record)); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.PutOCSPResponse{}, nil
}

func (s *certStoreServer) GetOCSP(ctx context.Context, r *pb.GetOCSPRequest) (*pb.OCSPRecord, error) {
	cs, err := s.cs(r.Instance)
	if err != nil {
		return nil, err
	}
	rec, err := cs.GetOCSP(ctx, r.Serial, r.Aki)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return ocspToPB(rec), nil
}
