package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pkid/pkid/core/acme"
	"github.com/pkid/pkid/sdk"
)

func acmeCmd(e *env) *command {
	return &command{
		synopsis: "Manage the ACME server's external account binding keys and list its state",
		help: `
Usage: pkid acme COMMAND [flags] -config FILE

Commands:
  eab add [-ca LABEL -profile NAME] [-note TEXT]   create an external account
       binding key (printed once: key id and base64url HMAC key); with -ca and
       -profile it works only for that directory
  eab list                                        list EAB keys (no secrets)
  eab revoke -kid ID                              revoke an unused EAB key
  accounts|orders|authz [-ca LABEL] [-profile NAME] [-format table|json]
                                                  list a directory's state

These read and write the ACME state where the daemon keeps it (the CA's
certstore documents), so they work with the daemon running or not and show
every node's state. -ca defaults to the default CA, -profile to "acme".
`,
		run: func(args []string) error {
			if len(args) == 0 {
				return usagef("pkid acme needs a command: eab, accounts, orders or authz")
			}
			verb, rest := args[0], args[1:]
			sub := ""
			if verb == "eab" {
				if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
					return usagef("pkid acme eab needs add, list or revoke")
				}
				sub, rest = rest[0], rest[1:]
				switch sub {
				case "add", "list", "revoke":
				default:
					return usagef("unknown eab command %q (add, list, revoke)", sub)
				}
			}
			switch verb {
			case "eab", "accounts", "orders", "authz":
			default:
				return usagef("unknown acme command %q (eab, accounts, orders, authz)", verb)
			}
			var cf configFlag
			fs := newFlags("acme " + verb)
			cf.register(fs)
			label := fs.String("ca", "", "CA `LABEL` (default: the first ca block)")
			prof := fs.String("profile", "", "profile `NAME` (default acme)")
			note := fs.String("note", "", "a note kept with the EAB key")
			kid := fs.String("kid", "", "EAB key `ID`")
			format := fs.String("format", "table", "table|json")
			if err := parseFlagsNoArgs(fs, rest); err != nil {
				return err
			}
			if *format != "table" && *format != "json" {
				return usagef("-format must be table or json")
			}
			if sub == "revoke" && *kid == "" {
				return usagef("acme eab revoke needs -kid ID")
			}
			if sub == "add" && (*label == "") != (*prof == "") {
				return usagef("acme eab add: -ca and -profile go together (neither: any directory)")
			}
			s, err := cf.load(e, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ca := *label
			if ca == "" && len(s.Config.CAs) > 0 {
				ca = s.Config.CAs[0].Name
			}
			ds, err := acmeDocStore(s, ca)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			admin := &acme.Admin{Docs: ds}
			dir := ca + "/" + orDefault(*prof, acme.DefaultProfile)
			switch verb + " " + sub {
			case "eab add":
				scope := ""
				if *label != "" {
					scope = dir
				}
				k, err := admin.AddEAB(ctx, scope, *note)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "kid:  %s\nhmac: %s\n", k.ID, base64.RawURLEncoding.EncodeToString(k.Key))
				fmt.Fprintln(e.stderr, "The HMAC key is shown once; give both to the ACME client (e.g. certbot --eab-kid --eab-hmac-key).")
				return nil
			case "eab list":
				keys, err := admin.ListEAB(ctx)
				if err != nil {
					return err
				}
				if *format == "json" {
					return writeJSON(e, nonNil(keys))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tDIRECTORY\tCREATED\tSTATE\tNOTE")
				for _, k := range keys {
					state := "unused"
					switch {
					case k.Revoked:
						state = "revoked"
					case k.Account != "":
						state = "bound " + k.Account
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, orDefault(k.Dir, "any"), k.CreatedAt.Format(time.RFC3339), state, k.Note)
				}
				return tw.Flush()
			case "eab revoke":
				if err := admin.RevokeEAB(ctx, *kid); err != nil {
					if errors.Is(err, sdk.ErrNotFound) {
						return fmt.Errorf("no EAB key %q", *kid)
					}
					return err
				}
				fmt.Fprintf(e.stdout, "Revoked EAB key %s.\n", *kid)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			switch verb {
			case "accounts":
				list, err := admin.Accounts(ctx, dir)
				if err != nil {
					return err
				}
				if *format == "json" {
					return writeJSON(e, nonNil(list))
				}
				fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tEAB\tCONTACT")
				for _, a := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.CreatedAt.Format(time.RFC3339), orDefault(a.EAB, "-"), strings.Join(a.Contact, ","))
				}
			case "orders":
				list, err := admin.Orders(ctx, dir)
				if err != nil {
					return err
				}
				if *format == "json" {
					return writeJSON(e, nonNil(list))
				}
				fmt.Fprintln(tw, "ID\tACCOUNT\tSTATUS\tEXPIRES\tIDENTIFIERS")
				for _, o := range list {
					var ids []string
					for _, id := range o.Identifiers {
						ids = append(ids, id.Value)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.ID, o.Account, o.Status, o.Expires.Format(time.RFC3339), strings.Join(ids, ","))
				}
			case "authz":
				list, err := admin.Authzs(ctx, dir)
				if err != nil {
					return err
				}
				if *format == "json" {
					return writeJSON(e, nonNil(list))
				}
				fmt.Fprintln(tw, "ID\tACCOUNT\tSTATUS\tIDENTIFIER\tCHALLENGES")
				for _, a := range list {
					var cs []string
					for _, c := range a.Challenges {
						cs = append(cs, c.Type+":"+c.Status)
					}
					name := a.Identifier.Value
					if a.Wildcard {
						name = "*." + name
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Account, a.Status, name, strings.Join(cs, ","))
				}
			}
			return tw.Flush()
		},
	}
}

// acmeDocStore is the document store of CA label's certstore.
func acmeDocStore(s *session, label string) (sdk.DocStore, error) {
	for _, c := range s.Config.CAs {
		if c.Name != label {
			continue
		}
		cs, ok := s.CertStores[c.CertStore]
		if c.CertStore == "" || !ok {
			return nil, fmt.Errorf("CA %q has no certstore: ACME state lives in the CA's certstore", label)
		}
		ds, err := acme.DocStoreOf(cs)
		if err != nil {
			return nil, fmt.Errorf("certstore %q of CA %q does not keep documents, which ACME needs", c.CertStore, label)
		}
		return ds, nil
	}
	return nil, fmt.Errorf("no ca block %q in the configuration", label)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
