package csr

// printDefaultsCSR is `cfssl print-defaults csr` output, byte for byte
// (4-space indent, two trailing newlines).
const printDefaultsCSR = `{
    "CN": "example.net",
    "hosts": [
        "example.net",
        "www.example.net"
    ],
    "key": {
        "algo": "ecdsa",
        "size": 256
    },
    "names": [
        {
            "C": "US",
            "ST": "CA",
            "L": "San Francisco"
        }
    ]
}

`

// Defaults returns the request `print-defaults csr` prints: CN and hosts
// example.net and www.example.net, ecdsa 256, names C US, ST CA,
// L San Francisco. Each call returns a fresh value.
func Defaults() *Request {
	return &Request{
		CN:         "example.net",
		Hosts:      []string{"example.net", "www.example.net"},
		KeyRequest: DefaultKeyRequest(),
		Names:      []Name{{C: "US", ST: "CA", L: "San Francisco"}},
	}
}

// DefaultsJSON returns the bytes `cfssl print-defaults csr` writes to
// stdout, identical to CFSSL's (they end in two newlines), for writing
// unchanged.
func DefaultsJSON() []byte {
	return []byte(printDefaultsCSR)
}
