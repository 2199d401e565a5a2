// Package pluginhost starts plugin processes with hashicorp/go-plugin,
// supervises them, and hands the core typed facades (sdk.KeyStore,
// sdk.CertStore, sdk.Trust, sdk.ScanCheck) that stay valid across plugin
// restarts.
//
// One process serves every instance of its plugin type. When a process
// dies, calls in flight fail at once with sdk.ErrUnavailable (retryable); the
// host restarts the process, configures its instances again, and the next
// call succeeds. Builtin plugins run out of process by re-executing the pkid
// binary (`pkid plugin serve KIND TYPE`), or in process when asked.
package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// Spec says how to run one plugin type.
type Spec struct {
	Kind string // the kind this spec is opened for
	Type string
	// Builtin plugins: New creates the implementation (in process, or in
	// the re-executed pkid binary).
	New func() sdk.Plugin
	// External plugins: the binary, its pinned sha256 (hex), the host
	// environment variables it may see, and its arguments.
	Path   string
	SHA256 string
	Env    []string
	Args   []string
}

// Builtin reports whether the spec is a builtin plugin.
func (s Spec) Builtin() bool { return s.New != nil }

func (s Spec) key() string {
	if s.Builtin() {
		return "builtin/" + s.Kind + "/" + s.Type
	}
	return "external/" + s.Type
}

func (s Spec) String() string {
	if s.Builtin() {
		return fmt.Sprintf("builtin %s plugin %q", s.Kind, s.Type)
	}
	return fmt.Sprintf("plugin %q (%s)", s.Type, s.Path)
}

// Options configure a Host.
type Options struct {
	Logger hclog.Logger
	// Executable re-executed for builtins; default os.Executable().
	Executable string
	// BuiltinEnv is the host environment allowlist for builtin plugins.
	BuiltinEnv []string
	// RestartWait bounds how long a call waits for a restarting plugin
	// before failing with sdk.ErrUnavailable. Default 10s.
	RestartWait time.Duration
	// PollInterval is how often process liveness is checked. Default 100ms.
	PollInterval time.Duration
}

// DefaultBuiltinEnv is what builtin plugins see of the host environment.
var DefaultBuiltinEnv = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "PATH", "TMPDIR", "TZ", "HOME", "SOFTHSM2_CONF",
	// The trust plugin's system roots follow Go's (and CFSSL's) overrides.
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	// A split keystore custodian's token PIN (pkid keystore split delegate).
	"PKID_SPLIT_PIN"}

// Host owns plugin processes and in-process plugin instances.
type Host struct {
	opts Options
	log  hclog.Logger

	mu     sync.Mutex
	procs  map[string]*Process
	inproc map[string]sdk.Plugin
	insts  []sdk.Instance // in-process instances, closed with the host
	closed bool
}

// New returns a Host. Close it to stop every plugin process.
func New(opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "pkid", Output: os.Stderr, Level: hclog.Warn})
	}
	if opts.BuiltinEnv == nil {
		opts.BuiltinEnv = DefaultBuiltinEnv
	}
	if opts.RestartWait == 0 {
		opts.RestartWait = 10 * time.Second
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	return &Host{opts: opts, log: opts.Logger, procs: map[string]*Process{}, inproc: map[string]sdk.Plugin{}}
}

// ErrChecksum is returned when an external plugin binary does not match its
// pinned sha256.
var ErrChecksum = errors.New("plugin binary does not match its pinned sha256")

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Process returns the running process for spec, starting it if needed.
func (h *Host) Process(ctx context.Context, spec Spec) (*Process, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("plugin host closed")
	}
	p, ok := h.procs[spec.key()]
	if !ok {
		p = &Process{h: h, spec: spec, configs: map[instKey]sdk.Config{}, nudge: make(chan uint64, 1), log: h.log.Named("plugin." + spec.Kind + "." + spec.Type)}
		h.procs[spec.key()] = p
	}
	h.mu.Unlock()
	if err := p.ensureStarted(); err != nil {
		return nil, err
	}
	return p, nil
}

// InProcess returns the shared in-process implementation of a builtin.
func (h *Host) InProcess(spec Spec) sdk.Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.inproc[spec.key()]
	if !ok {
		p = spec.New()
		h.inproc[spec.key()] = p
	}
	return p
}

// OpenRequest asks for a configured instance.
type OpenRequest struct {
	Spec   Spec
	Name   string
	Config []byte // the decoded block as JSON
	// LiteralSecrets: sdk.Config.LiteralSecrets.
	LiteralSecrets []string
	InProcess      bool // builtins only
}

// Open configures the instance and returns it: the plugin's own value in
// process, or a restart-proof facade implementing the kind's interface.
// Configuration problems come back as *sdk.DiagnosticsError.
func (h *Host) Open(ctx context.Context, req OpenRequest) (sdk.Instance, error) {
	cfg := sdk.Config{Kind: req.Spec.Kind, Instance: req.Name, JSON: req.Config, LiteralSecrets: req.LiteralSecrets}
	if req.InProcess {
		if !req.Spec.Builtin() {
			return nil, fmt.Errorf("%s: only builtin plugins run in process", req.Spec)
		}
		// The one kind check of an in-process plugin (the sdk's adapter
		// makes it for the others): plugins do not re-check cfg.Kind.
		p := h.InProcess(req.Spec)
		if i := p.Info(); !slices.Contains(i.Kinds, cfg.Kind) {
			return nil, fmt.Errorf("%s: plugin %q provides %q, not %q: %w", req.Spec, i.Name, i.Kinds, cfg.Kind, sdk.ErrInvalidArgument)
		}
		inst, err := p.Configure(ctx, cfg)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.insts = append(h.insts, inst)
		h.mu.Unlock()
		return inst, nil
	}
	p, err := h.Process(ctx, req.Spec)
	if err != nil {
		return nil, err
	}
	if err := p.configure(ctx, cfg); err != nil {
		return nil, err
	}
	switch req.Spec.Kind {
	case sdk.KindKeyStore:
		return p.keyStore(ctx, req.Name)
	case sdk.KindCertStore:
		return p.certStore(ctx, req.Name)
	case sdk.KindTrust:
		return p.trust(req.Name), nil
	case sdk.KindScanCheck:
		return p.scanCheck(req.Name), nil
	}
	return nil, fmt.Errorf("%s: unsupported kind %q", req.Spec, req.Spec.Kind)
}

// Close closes in-process instances and stops every plugin process.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	procs := h.procs
	h.procs = map[string]*Process{}
	insts := h.insts
	h.insts = nil
	h.mu.Unlock()
	for _, inst := range insts {
		_ = inst.Close()
	}
	for _, p := range procs {
		p.stop()
	}
}

// Processes returns the running plugin processes (for status output).
func (h *Host) Processes() []*Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Process
	for _, p := range h.procs {
		out = append(out, p)
	}
	return out
}

func (h *Host) command(spec Spec) (*exec.Cmd, *plugin.SecureConfig, error) {
	var cmd *exec.Cmd
	var env []string
	var secure *plugin.SecureConfig
	if spec.Builtin() {
		exe := h.opts.Executable
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return nil, nil, fmt.Errorf("finding the pkid binary to run %s: %w", spec, err)
			}
		}
		cmd = exec.Command(exe, "plugin", "serve", spec.Kind, spec.Type)
		env = h.opts.BuiltinEnv
	} else {
		sum, err := hex.DecodeString(spec.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, nil, fmt.Errorf("plugin %q: sha256 must be 64 hex digits", spec.Type)
		}
		got, err := FileSHA256(spec.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("plugin %q: reading binary: %w", spec.Type, err)
		}
		if got != spec.SHA256 {
			return nil, nil, fmt.Errorf("plugin %q: %w: %s has sha256 %s, the config pins %s; if the new binary is trusted, run `pkid plugin register %s` and update the plugin block",
				spec.Type, ErrChecksum, spec.Path, got, spec.SHA256, spec.Path)
		}
		// go-plugin checks again right before exec.
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
		cmd = exec.Command(spec.Path, spec.Args...)
		env = spec.Env
	}
	for _, k := range env {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	lvl := "info"
	if h.log.IsDebug() {
		lvl = "debug"
	} else if !h.log.IsInfo() {
		lvl = "warn"
	}
	cmd.Env = append(cmd.Env, rpc.LogLevelEnv+"="+lvl)
	setDeathSignal(cmd)
	return cmd, secure, nil
}
