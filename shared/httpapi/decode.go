package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBodyBytes bounds a JSON request body when the caller gives no
// limit: ample for a post or a message, small enough that a flood of large
// bodies cannot exhaust memory.
const DefaultMaxBodyBytes = 1 << 20

// DecodeJSON reads r's body into dst strictly: Content-Type must be
// application/json (charset, if given, utf-8); the body at most maxBytes
// (0 means DefaultMaxBodyBytes); exactly one JSON value; no field dst does
// not declare, no member twice, member names exactly as declared (not
// only without regard to case, as encoding/json would take them); valid
// UTF-8. Failures are *Error: 415, 413 or 400 with a message that
// says what was wrong and where.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > maxBytes {
		return tooLarge(maxBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return decodeError(err, maxBytes)
	}
	// encoding/json would turn invalid bytes into U+FFFD and store the
	// text changed; the caller is told instead.
	if !utf8.Valid(data) {
		return NewError(http.StatusBadRequest, CodeInvalidJSON, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, maxBytes)
	}
	// Exactly one value: anything after it but whitespace is an error
	// (a second object would otherwise be silently ignored).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(maxBytes)
		}
		return NewError(http.StatusBadRequest, CodeInvalidJSON, "request body must hold a single JSON value")
	}
	if err := checkMembers(data, dst); err != nil {
		return NewError(http.StatusBadRequest, CodeInvalidJSON, "request body: "+err.Error())
	}
	return nil
}

func checkContentType(ct string) error {
	unsupported := func(msg string) error {
		return NewError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, msg).WithHeader("Accept", "application/json")
	}
	if ct == "" {
		return unsupported("Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupported("Content-Type must be application/json")
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported(fmt.Sprintf("unsupported Content-Type parameter %s=%s", k, v))
		}
	}
	return nil
}

func tooLarge(limit int64) error {
	return Errorf(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body exceeds %d bytes", limit)
}

// decodeError turns a decoding failure into a message a client can act on.
func decodeError(err error, limit int64) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	invalid := func(format string, args ...any) error {
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, format, args...).Wrap(err)
	}
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.As(err, &ne):
		// Reading the body failed, not decoding it; the cause names
		// addresses, so it is only logged.
		if ne.Timeout() {
			return NewError(http.StatusRequestTimeout, CodeBadRequest, "the request body took too long to arrive").Wrap(err)
		}
		return BadRequest("the request body could not be read").Wrap(err)
	case errors.Is(err, io.EOF):
		return invalid("request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body is truncated JSON")
	case errors.As(err, &syntax):
		return invalid("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return invalid("field %q must be %s", typ.Field, jsonKind(typ.Type.Kind().String()))
		}
		return invalid("request body must be a JSON %s", jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		return invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		// A field's own UnmarshalText/UnmarshalJSON refused its value (an
		// id that is not a UUID, an unknown enum); those messages are ours
		// and name the problem.
		return invalid("invalid value: %s", err.Error())
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "of another type"
}
