package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
)

const (
	algEdDSA = "EdDSA"
	typJWT   = "JWT"
)

// header is the protected header. Nova writes exactly these three fields
// and accepts no others: "crit", "jku", "jwk", "x5u" and the like would ask
// the verifier to trust something other than its own keys.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ,omitempty"`
}

// encodeJWS returns the compact serialisation of claims signed by k.
func encodeJWS(k Key, claims any) (string, error) {
	h, err := json.Marshal(header{Alg: algEdDSA, Kid: k.ID, Typ: typJWT})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(b64.EncodedLen(len(h)) + b64.EncodedLen(len(p)) + b64.EncodedLen(ed25519.SignatureSize) + 2)
	sb.WriteString(b64.EncodeToString(h))
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(p))
	sig := ed25519.Sign(k.private, []byte(sb.String()))
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(sig))
	return sb.String(), nil
}

// splitJWS splits a compact JWS into its signing input, decoded header,
// payload and signature. It does not verify anything but form.
type parsedJWS struct {
	signingInput string
	header       header
	payload      []byte
	sig          []byte
}

func splitJWS(token string) (parsedJWS, error) {
	var p parsedJWS
	h64, rest, ok := strings.Cut(token, ".")
	if !ok {
		return p, tokenErr(ErrMalformed, "not a compact JWS (want header.payload.signature)")
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return p, tokenErr(ErrMalformed, "not a compact JWS (want header.payload.signature)")
	}
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return p, tokenErr(ErrMalformed, "header is not unpadded base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.header); err != nil || dec.More() {
		return p, tokenErr(ErrMalformed, "header is not a JSON object of alg, kid and typ")
	}
	// The algorithm is judged first, before any key is touched: "none",
	// HS256 and everything else end here.
	if p.header.Alg != algEdDSA {
		return p, tokenErr(ErrAlgorithm, "alg %q, only EdDSA is accepted", truncate(p.header.Alg))
	}
	if p.header.Typ != "" && p.header.Typ != typJWT {
		return p, tokenErr(ErrMalformed, "typ %q, want JWT", truncate(p.header.Typ))
	}
	if p.header.Kid == "" {
		return p, tokenErr(ErrMalformed, "header has no kid")
	}
	if p.payload, err = b64.DecodeString(p64); err != nil {
		return p, tokenErr(ErrMalformed, "payload is not unpadded base64url")
	}
	if p.sig, err = b64.DecodeString(s64); err != nil {
		return p, tokenErr(ErrMalformed, "signature is not unpadded base64url")
	}
	if len(p.sig) != ed25519.SignatureSize {
		return p, tokenErr(ErrSignature, "signature is %d bytes, want %d", len(p.sig), ed25519.SignatureSize)
	}
	p.signingInput = token[:len(h64)+1+len(p64)]
	return p, nil
}
