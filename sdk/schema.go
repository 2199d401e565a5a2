package sdk

// Schema describes the HCL body of a plugin's configuration block. The core
// decodes the operator's block against it (so errors carry file:line:col) and
// passes the plugin the decoded value as JSON.
//
// Build one with NewSchema:
//
//	sdk.NewSchema().
//		String("dir", sdk.Required, "directory holding the key files").
//		String("passphrase", sdk.Optional|sdk.Sensitive, "passphrase protecting the keys")
type Schema struct {
	Attributes []Attribute
	Blocks     []Block
}

// Type is an attribute type as cty's JSON type form: "string", "number",
// "bool", or a collection such as ["list","string"]; or TypeDuration.
type Type = string

// Attribute types.
const (
	TypeString     Type = `"string"`
	TypeNumber     Type = `"number"`
	TypeBool       Type = `"bool"`
	TypeListString Type = `["list","string"]`
	TypeMapString  Type = `["map","string"]`
	// TypeDuration is a string the core parses as pkid durations are
	// everywhere ("36h", "90m", "14d", "1d12h"; a bad one is an error at
	// its file:line:col). The plugin receives it as a Go duration string:
	// decode it with time.ParseDuration.
	TypeDuration Type = `"duration"`
)

// Attribute is one attribute of a block.
type Attribute struct {
	Name        string
	Type        Type
	Required    bool
	Sensitive   bool
	Description string
	// Default is shown in docs (JSON text); the plugin applies it.
	Default string
}

// Nesting says how often a nested block may appear.
type Nesting int

const (
	NestingSingle Nesting = iota + 1
	NestingList
	NestingMap // one label
)

// Block is a nested block.
type Block struct {
	TypeName    string
	Nesting     Nesting
	Body        *Schema
	Required    bool
	Description string
}

// Flag is an attribute property for the builder.
type Flag int

const (
	Optional  Flag = 0
	Required  Flag = 1 << iota
	Sensitive Flag = 1 << iota
)

// NewSchema returns an empty schema for the builder methods.
func NewSchema() *Schema { return &Schema{} }

// Attr adds an attribute of any type.
func (s *Schema) Attr(name string, t Type, f Flag, description string) *Schema {
	s.Attributes = append(s.Attributes, Attribute{
		Name: name, Type: t, Required: f&Required != 0, Sensitive: f&Sensitive != 0,
		Description: description,
	})
	return s
}

// String adds a string attribute.
func (s *Schema) String(name string, f Flag, description string) *Schema {
	return s.Attr(name, TypeString, f, description)
}

// Number adds a number attribute.
func (s *Schema) Number(name string, f Flag, description string) *Schema {
	return s.Attr(name, TypeNumber, f, description)
}

// Bool adds a bool attribute.
func (s *Schema) Bool(name string, f Flag, description string) *Schema {
	return s.Attr(name, TypeBool, f, description)
}

// Duration adds a TypeDuration attribute.
func (s *Schema) Duration(name string, f Flag, description string) *Schema {
	return s.Attr(name, TypeDuration, f, description)
}

// StringList adds a list(string) attribute.
func (s *Schema) StringList(name string, f Flag, description string) *Schema {
	return s.Attr(name, TypeListString, f, description)
}

// StringMap adds a map(string) attribute.
func (s *Schema) StringMap(name string, f Flag, description string) *Schema {
	return s.Attr(name, TypeMapString, f, description)
}

// Default sets the documented default (JSON text) of the last attribute added.
func (s *Schema) Default(jsonValue string) *Schema {
	if n := len(s.Attributes); n > 0 {
		s.Attributes[n-1].Default = jsonValue
	}
	return s
}

// Block adds a nested block.
func (s *Schema) Block(typeName string, nesting Nesting, body *Schema, required bool, description string) *Schema {
	s.Blocks = append(s.Blocks, Block{TypeName: typeName, Nesting: nesting, Body: body, Required: required, Description: description})
	return s
}

// Severity of a diagnostic.
type Severity int

const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

// Diagnostic is a plugin's finding about its configuration. Path names the
// attribute (e.g. []string{"dir"}) so the core can point at its source range.
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	Path     []string
}

// Diagnostics is a list of findings.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool {
	for _, x := range d {
		if x.Severity != SeverityWarning {
			return true
		}
	}
	return false
}

// Error renders the diagnostics as one error (nil if there are no errors).
func (d Diagnostics) Err() error {
	if !d.HasErrors() {
		return nil
	}
	return &DiagnosticsError{Diagnostics: d}
}

// DiagnosticsError carries configuration diagnostics as an error.
type DiagnosticsError struct{ Diagnostics Diagnostics }

func (e *DiagnosticsError) Error() string {
	msg := ""
	for _, d := range e.Diagnostics {
		if d.Severity == SeverityWarning {
			continue
		}
		if msg != "" {
			msg += "; "
		}
		msg += d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
	}
	return msg
}

// Errorf returns a one-error Diagnostics for the attribute at path.
func Errorf(path []string, summary, detail string) Diagnostics {
	return Diagnostics{{Severity: SeverityError, Summary: summary, Detail: detail, Path: path}}
}
