package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// checkMembers refuses what encoding/json lets through silently in a
// request body: a member given twice in one object (the last would win,
// where another JSON reader may take the first) and a member that names a
// field of dst only without regard to case ("Content" for "content"),
// which other readers would not take as that field. It runs on a body
// that is already valid JSON.
func checkMembers(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkMembers(dec, reflect.TypeOf(dst), "")
}

func walkMembers(dec *json.Decoder, t reflect.Type, at string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := k.(string)
			where := at + "." + name
			if seen[name] {
				return fmt.Errorf("member %q appears twice", strings.TrimPrefix(where, "."))
			}
			seen[name] = true
			var next reflect.Type
			switch {
			case fields != nil:
				next = fields[name]
				if next == nil {
					for f := range fields {
						if strings.EqualFold(f, name) {
							return fmt.Errorf("member %q is spelled %q (member names are case-sensitive)", strings.TrimPrefix(where, "."), f)
						}
					}
				}
			case t != nil && t.Kind() == reflect.Map:
				next = t.Elem()
			}
			if err := walkMembers(dec, next, where); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkMembers(dec, elem, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

// jsonFields are the JSON member names of struct t's fields, as
// encoding/json names them (tags, embedded structs promoted), with their
// types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for n, typ := range jsonFields(ft) {
					if _, own := out[n]; !own {
						out[n] = typ
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
