package cli

// compatRows is the compat suite's table (compat_test.go). Placeholders:
// {NAME} is a fixture file's path (ca.pem, ca-key.pem, leaf.pem, leaf.csr,
// leaf-key.pem, ca.json, leaf.json, config.json, serials.txt,
// leaf.envelope, leaf.bare), {NAME.pem:json} its content as a JSON string;
// {serial} and {aki} are the leaf's, recorded in both certdbs; {db} is each
// side's own certdb configuration and {url} each side's daemon.
var compatRows = []compatRow{
	{covers: []string{"command cfssl version"}, tool: "cfssl", args: []string{"version"}, mode: sameExitCode},
}
