package doctor

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"strings"
)

// maxString is the longest character-string a DNS TXT record holds (RFC 1035 §3.3); a longer value is
// published as several, which receivers join without spaces (RFC 6376 §3.6.2.2, RFC 7208 §3.3).
const maxString = 255

// TXTStrings splits a TXT record's value into character-strings of at most 255 bytes.
func TXTStrings(value string) []string {
	var ss []string
	for len(value) > maxString {
		ss = append(ss, value[:maxString])
		value = value[maxString:]
	}
	return append(ss, value)
}

// ZoneLine writes a TXT record as a zone file line: its name, and its value as quoted strings of at most
// 255 bytes. The values Herald writes hold no quote or backslash, so quoting needs no escapes.
func ZoneLine(name, value string) string {
	ss := TXTStrings(value)
	quoted := make([]string, len(ss))
	for i, s := range ss {
		quoted[i] = `"` + s + `"`
	}
	v := quoted[0]
	if len(quoted) > 1 {
		v = "( " + strings.Join(quoted, " ") + " )"
	}
	return strings.TrimSuffix(name, ".") + ". 3600 IN TXT " + v
}

// tags parses a DKIM or DMARC record's tag=value list (RFC 6376 §3.2): tag names are case-sensitive,
// and white space around tags and values, and inside a base64 value, does not count. A malformed
// entry is skipped.
func tags(record string) (map[string]string, []string) {
	m := map[string]string{}
	var order []string
	for _, part := range strings.Split(record, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if _, dup := m[name]; dup || name == "" {
			continue
		}
		m[name] = strings.TrimSpace(value)
		order = append(order, name)
	}
	return m, order
}

// dkimKey is what a DKIM key record publishes: its kind and its public key, raw (Ed25519) or
// SubjectPublicKeyInfo (RSA; a PKCS #1 key, which some publish, is turned into one).
type dkimKey struct {
	kind    string
	pub     []byte
	testing bool // t=y: receivers treat failures as if unsigned
}

// parseDKIMRecord reads a key record; ok is false when it is not one (another TXT record at the name,
// or a key that does not decode).
func parseDKIMRecord(record string) (k dkimKey, reason string) {
	t, order := tags(record)
	if v, ok := t["v"]; ok && (v != "DKIM1" || order[0] != "v") {
		return k, "its v= is not DKIM1 at the start"
	}
	k.kind = t["k"]
	if k.kind == "" {
		k.kind = "rsa"
	}
	p, ok := t["p"]
	if !ok {
		return k, "it has no p= (public key)"
	}
	p = strings.Join(strings.Fields(p), "")
	if p == "" {
		return k, "its p= is empty: the key is revoked"
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return k, "its p= is not base64"
	}
	switch k.kind {
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return k, "its p= is not an Ed25519 key (32 bytes)"
		}
		k.pub = der
	case "rsa":
		if _, err := x509.ParsePKIXPublicKey(der); err == nil {
			k.pub = der
		} else if pk, err := x509.ParsePKCS1PublicKey(der); err == nil {
			k.pub, _ = x509.MarshalPKIXPublicKey(pk)
		} else {
			return k, "its p= is not an RSA public key"
		}
	default:
		return k, "its k= " + k.kind + " is neither rsa nor ed25519"
	}
	for _, f := range strings.Split(t["t"], ":") {
		k.testing = k.testing || strings.TrimSpace(f) == "y"
	}
	return k, ""
}
