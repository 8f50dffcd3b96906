package envelope

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// strictJSON rejects fields the message does not have: a misspelt field
// would otherwise vanish and the event be handled with a value missing.
var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

// unmarshalJSON reads protojson into msg, accepting the design document's
// short enum names ("TEXT") besides the schema's prefixed ones
// ("POST_TYPE_TEXT").
func unmarshalJSON(data []byte, msg proto.Message) error {
	fixed, err := expandEnumNames(data, msg.ProtoReflect().Descriptor())
	if err != nil {
		return err
	}
	return strictJSON.Unmarshal(fixed, msg)
}

// expandEnumNames rewrites short enum names in data to the schema's names.
// Anything it does not understand is left for protojson to judge.
func expandEnumNames(data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	if !hasEnums(md, map[protoreflect.FullName]bool{}) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep 64-bit integers exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: trailing data after the object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return data, nil
	}
	if !fixMessage(obj, md) {
		return data, nil
	}
	return json.Marshal(obj)
}

func hasEnums(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		switch fd.Kind() {
		case protoreflect.EnumKind:
			return true
		case protoreflect.MessageKind, protoreflect.GroupKind:
			if hasEnums(fd.Message(), seen) {
				return true
			}
		}
	}
	return false
}

// fixMessage rewrites obj in place and reports whether it changed anything.
func fixMessage(obj map[string]any, md protoreflect.MessageDescriptor) bool {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return false // well-known types have their own JSON forms
	}
	changed := false
	fields := md.Fields()
	for k, v := range obj {
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		if fd == nil {
			continue
		}
		switch {
		case fd.IsMap():
			if m, ok := v.(map[string]any); ok {
				for mk, mv := range m {
					if nv, ok := fixValue(fd.MapValue(), mv); ok {
						m[mk] = nv
						changed = true
					} else if changedNested(fd.MapValue(), mv) {
						changed = true
					}
				}
			}
		case fd.IsList():
			if l, ok := v.([]any); ok {
				for i, lv := range l {
					if nv, ok := fixValue(fd, lv); ok {
						l[i] = nv
						changed = true
					} else if changedNested(fd, lv) {
						changed = true
					}
				}
			}
		default:
			if nv, ok := fixValue(fd, v); ok {
				obj[k] = nv
				changed = true
			} else if changedNested(fd, v) {
				changed = true
			}
		}
	}
	return changed
}

// fixValue returns the schema name for a short enum name.
func fixValue(fd protoreflect.FieldDescriptor, v any) (any, bool) {
	s, ok := v.(string)
	if !ok || fd.Kind() != protoreflect.EnumKind {
		return nil, false
	}
	values := fd.Enum().Values()
	if values.ByName(protoreflect.Name(s)) != nil {
		return nil, false
	}
	full := EnumPrefix(fd.Enum()) + s
	if values.ByName(protoreflect.Name(full)) == nil {
		return nil, false
	}
	return full, true
}

func changedNested(fd protoreflect.FieldDescriptor, v any) bool {
	if fd.Kind() != protoreflect.MessageKind {
		return false
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	return fixMessage(m, fd.Message())
}

// EnumPrefix is the prefix the schema puts before the design document's
// enum value names: the enum's name in upper snake case plus "_"
// (PostType → "POST_TYPE_").
func EnumPrefix(ed protoreflect.EnumDescriptor) string {
	name := string(ed.Name())
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			prev := rune(name[i-1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	b.WriteByte('_')
	return b.String()
}
