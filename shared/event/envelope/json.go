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

// unmarshalJSON reads protojson into msg, accepting the design document's
// short enum names ("TEXT") besides the schema's prefixed ones
// ("POST_TYPE_TEXT"). With ignoreUnknown a field the message does not have
// is skipped (a misspelt required field is still caught, by the contract);
// an enum name the schema does not have is an error either way, since
// dropping it would leave the field at its UNSPECIFIED value.
func unmarshalJSON(data []byte, msg proto.Message, ignoreUnknown bool) error {
	fixed, err := expandEnumNames(data, msg.ProtoReflect().Descriptor())
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: ignoreUnknown}.Unmarshal(fixed, msg)
}

// expandEnumNames rewrites short enum names in data to the schema's names,
// and refuses an enum name the schema has in neither spelling. Anything
// else it does not understand is left for protojson to judge.
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
	changed, err := fixMessage(obj, md)
	if err != nil || !changed {
		return data, err
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
func fixMessage(obj map[string]any, md protoreflect.MessageDescriptor) (bool, error) {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return false, nil // well-known types have their own JSON forms
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
		var err error
		switch {
		case fd.IsMap():
			if m, ok := v.(map[string]any); ok {
				for mk, mv := range m {
					var nv any
					if nv, err = fixValue(fd.MapValue(), mv, &changed); err != nil {
						break
					}
					m[mk] = nv
				}
			}
		case fd.IsList():
			if l, ok := v.([]any); ok {
				for i, lv := range l {
					if l[i], err = fixValue(fd, lv, &changed); err != nil {
						break
					}
				}
			}
		default:
			obj[k], err = fixValue(fd, v, &changed)
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", fd.Name(), err)
		}
	}
	return changed, nil
}

// fixValue returns v with a short enum name replaced by the schema's name
// (and nested messages fixed), setting *changed when it changed anything.
func fixValue(fd protoreflect.FieldDescriptor, v any, changed *bool) (any, error) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		s, ok := v.(string)
		if !ok || fd.Enum().FullName() == "google.protobuf.NullValue" {
			return v, nil
		}
		values := fd.Enum().Values()
		if values.ByName(protoreflect.Name(s)) != nil {
			return v, nil
		}
		full := EnumPrefix(fd.Enum()) + s
		if values.ByName(protoreflect.Name(full)) == nil {
			return nil, fmt.Errorf("%q is not a value of %s", s, fd.Enum().Name())
		}
		*changed = true
		return full, nil
	case protoreflect.MessageKind:
		if m, ok := v.(map[string]any); ok {
			c, err := fixMessage(m, fd.Message())
			if c {
				*changed = true
			}
			return m, err
		}
	}
	return v, nil
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
