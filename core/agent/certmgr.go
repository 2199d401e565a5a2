package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"
)

// maxSpecBytes bounds a certmgr spec file.
const maxSpecBytes = 1 << 20

// certmgrSpec is the part of a certmgr certificate spec (JSON) that maps
// onto the agent's configuration.
type certmgrSpec struct {
	Service string `json:"service"`
	Action  string `json:"action"`
	SvcMgr  string `json:"svcmgr"`
	Request *struct {
		CN    string   `json:"CN"`
		Hosts []string `json:"hosts"`
		Key   *struct {
			Algo string `json:"algo"`
			Size int    `json:"size"`
		} `json:"key"`
	} `json:"request"`
	Key       *certmgrFile `json:"private_key"`
	Cert      *certmgrFile `json:"certificate"`
	Authority struct {
		Remote      string       `json:"remote"`
		AuthKey     string       `json:"auth_key"`
		AuthKeyFile string       `json:"auth_key_file"`
		Label       string       `json:"label"`
		Profile     string       `json:"profile"`
		RootCA      string       `json:"root_ca"`
		File        *certmgrFile `json:"file"`
	} `json:"authority"`
}

type certmgrFile struct {
	Path  string `json:"path"`
	Owner string `json:"owner"`
	Group string `json:"group"`
	Mode  string `json:"mode"`
}

var blockName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// ImportCertmgr converts certmgr spec files (JSON, or YAML by extension) into an agent
// configuration. The first spec's authority becomes the agent's ca block;
// a later spec naming another remote, label-less differences aside, is an
// error (one agent talks to one CA). Errors name the file: unreadable,
// over 1 MiB, not JSON (or YAML for .yml/.yaml), no request, no
// certificate and key, an action the agent cannot express.
func ImportCertmgr(paths []string) ([]byte, error) {
	if len(paths) == 0 {
		return nil, errors.New("agent: no certmgr spec files given")
	}
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	var ca *hclwrite.Body
	remote := ""
	names := map[string]bool{}
	for _, p := range paths {
		s, err := readSpec(p)
		if err != nil {
			return nil, err
		}
		if ca == nil {
			agent := body.AppendNewBlock("agent", nil).Body()
			agent.SetAttributeValue("listen", cty.StringVal("127.0.0.1:9180"))
			ca = agent.AppendNewBlock("ca", nil).Body()
			remote = remoteURL(s.Authority.Remote)
			ca.SetAttributeValue("url", cty.StringVal(remote))
			setIf(ca, "root_ca", s.Authority.RootCA)
			setIf(ca, "auth_key", s.Authority.AuthKey)
			setIf(ca, "auth_key_file", s.Authority.AuthKeyFile)
			setIf(ca, "label", s.Authority.Label)
			setIf(ca, "profile", s.Authority.Profile)
			body.AppendNewline()
		} else if r := remoteURL(s.Authority.Remote); r != remote {
			return nil, fmt.Errorf("agent: %s: authority remote %s differs from the first spec's %s: use one agent configuration per CA", p, r, remote)
		}
		name := blockName.ReplaceAllString(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)), "_")
		for base, i := name, 2; names[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		names[name] = true
		cb := body.AppendNewBlock("certificate", []string{name}).Body()
		setIf(cb, "cn", s.Request.CN)
		if len(s.Request.Hosts) > 0 {
			vals := make([]cty.Value, len(s.Request.Hosts))
			for i, h := range s.Request.Hosts {
				vals[i] = cty.StringVal(h)
			}
			cb.SetAttributeValue("hosts", cty.ListVal(vals))
		}
		if s.Request.Key != nil && s.Request.Key.Algo != "" {
			cb.SetAttributeValue("key_algo", cty.StringVal(s.Request.Key.Algo))
			cb.SetAttributeValue("key_size", cty.NumberIntVal(int64(s.Request.Key.Size)))
		}
		if s.Authority.Profile != "" && s.Authority.Profile != stringAttr(ca, "profile") {
			cb.SetAttributeValue("profile", cty.StringVal(s.Authority.Profile))
		}
		if s.Authority.Label != "" && s.Authority.Label != stringAttr(ca, "label") {
			cb.SetAttributeValue("label", cty.StringVal(s.Authority.Label))
		}
		cb.SetAttributeValue("cert_file", cty.StringVal(s.Cert.Path))
		cb.SetAttributeValue("key_file", cty.StringVal(s.Key.Path))
		if s.Authority.File != nil && s.Authority.File.Path != "" {
			cb.SetAttributeValue("chain_file", cty.StringVal(s.Authority.File.Path))
		}
		setIf(cb, "owner", s.Key.Owner)
		setIf(cb, "group", s.Key.Group)
		setIf(cb, "key_mode", s.Key.Mode)
		setIf(cb, "cert_mode", s.Cert.Mode)
		if err := reloadFromSpec(cb, s); err != nil {
			return nil, fmt.Errorf("agent: %s: %w", p, err)
		}
		body.AppendNewline()
	}
	return bytes.TrimRight(f.Bytes(), "\n"), nil
}

func readSpec(p string) (*certmgrSpec, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if fi.Size() > maxSpecBytes {
		return nil, fmt.Errorf("agent: %s: larger than %d bytes", p, maxSpecBytes)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if ext := strings.ToLower(filepath.Ext(p)); ext == ".yml" || ext == ".yaml" {
		// certmgr reads YAML specs with the JSON keys (ghodss/yaml): go
		// through JSON so one set of struct tags serves both.
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("agent: %s: not a certmgr YAML spec: %w", p, err)
		}
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("agent: %s: not a certmgr YAML spec: %w", p, err)
		}
	}
	var s certmgrSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("agent: %s: not a certmgr JSON spec: %w", p, err)
	}
	switch {
	case s.Request == nil || (s.Request.CN == "" && len(s.Request.Hosts) == 0):
		return nil, fmt.Errorf("agent: %s: the spec has no request with a CN or hosts", p)
	case s.Cert == nil || s.Key == nil || s.Cert.Path == "" || s.Key.Path == "":
		return nil, fmt.Errorf("agent: %s: the spec needs certificate.path and private_key.path (CA-only specs are not imported)", p)
	case s.Authority.Remote == "":
		return nil, fmt.Errorf("agent: %s: the spec has no authority.remote", p)
	}
	return &s, nil
}

// reloadFromSpec maps certmgr's action and service manager.
func reloadFromSpec(cb *hclwrite.Body, s *certmgrSpec) error {
	action := s.Action
	if action == "" || action == "nop" || s.SvcMgr == "dummy" {
		return nil
	}
	if action != "reload" && action != "restart" {
		return fmt.Errorf("action %q: want nop, reload or restart", action)
	}
	if s.Service == "" {
		return fmt.Errorf("action %q without a service", action)
	}
	r := cb.AppendNewBlock("reload", nil).Body()
	switch s.SvcMgr {
	case "", "systemd":
		if action == "reload" {
			r.SetAttributeValue("systemd_unit", cty.StringVal(s.Service))
			return nil
		}
		r.SetAttributeValue("command", cty.ListVal([]cty.Value{cty.StringVal("systemctl"), cty.StringVal("restart"), cty.StringVal(s.Service)}))
	case "sysv":
		r.SetAttributeValue("command", cty.ListVal([]cty.Value{cty.StringVal("service"), cty.StringVal(s.Service), cty.StringVal(action)}))
	case "openrc":
		r.SetAttributeValue("command", cty.ListVal([]cty.Value{cty.StringVal("rc-service"), cty.StringVal(s.Service), cty.StringVal(action)}))
	case "command":
		// certmgr runs the service field through a shell.
		r.SetAttributeValue("command", cty.ListVal([]cty.Value{cty.StringVal("/bin/sh"), cty.StringVal("-c"), cty.StringVal(s.Service)}))
	default:
		return fmt.Errorf("svcmgr %q is not supported (systemd, sysv, openrc, command, dummy)", s.SvcMgr)
	}
	return nil
}

// remoteURL turns certmgr's remote ("host:port" or a URL) into an https URL.
func remoteURL(r string) string {
	if strings.Contains(r, "://") {
		return strings.Replace(r, "http://", "https://", 1)
	}
	return "https://" + r
}

func setIf(b *hclwrite.Body, name, v string) {
	if v != "" {
		b.SetAttributeValue(name, cty.StringVal(v))
	}
}

func stringAttr(b *hclwrite.Body, name string) string {
	a := b.GetAttribute(name)
	if a == nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(string(a.Expr().BuildTokens(nil).Bytes())), `"`)
}
