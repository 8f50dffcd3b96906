package envelope

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/id"
)

// ErrContract means the event's data decoded but breaks a rule of its
// event type's contract (schemas/nova/events/v1/rules.proto): a required
// field missing, an id that is not one, an enum value this version does not
// know, a number below its minimum.
var ErrContract = errors.New("event breaks its contract")

// contract is the compiled rules of one message type. The rules are read
// from the schema's field options once, when a codec is built, so checking
// an event walks a short list rather than the descriptors.
type contract struct {
	name   protoreflect.Name
	fields []fieldContract
	// eventTime is the timestamp field saying when the event happened.
	eventTime protoreflect.FieldDescriptor
}

type fieldContract struct {
	fd          protoreflect.FieldDescriptor
	required    bool
	definedOnly bool
	idKind      string
	maxLength   int
	min         *int64
	// nested is the contract of a message field's type, nil when that
	// type has no rules anywhere within it.
	nested *contract
}

// idKinds are the names shared/id gives each kind in its errors.
var idKinds = map[eventsv1.IdKind]string{
	eventsv1.IdKind_ID_KIND_USER:         "user",
	eventsv1.IdKind_ID_KIND_POST:         "post",
	eventsv1.IdKind_ID_KIND_MEDIA:        "media",
	eventsv1.IdKind_ID_KIND_CONVERSATION: "conversation",
	eventsv1.IdKind_ID_KIND_MESSAGE:      "message",
	eventsv1.IdKind_ID_KIND_NOTIFICATION: "notification",
	eventsv1.IdKind_ID_KIND_ENTITY:       "entity",
}

// Rules returns the contract rules of a field, nil when it has none.
func Rules(fd protoreflect.FieldDescriptor) *eventsv1.FieldRules {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, eventsv1.E_Rules) {
		return nil
	}
	r, _ := proto.GetExtension(opts, eventsv1.E_Rules).(*eventsv1.FieldRules)
	return r
}

// IDKind is the name of the id kind a rule asks for ("user", "post", …),
// "" when it asks for none.
func IDKind(r *eventsv1.FieldRules) string { return idKinds[r.GetId()] }

// compileContract reads md's rules, recursing into message fields; seen
// breaks cycles (a message type refers to itself only through a field that
// carries no rules).
func compileContract(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*contract) (*contract, error) {
	if c, ok := seen[md.FullName()]; ok {
		return c, nil
	}
	c := &contract{name: md.Name()}
	seen[md.FullName()] = c
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fc := fieldContract{fd: fd}
		if r := Rules(fd); r != nil {
			fc.required, fc.definedOnly, fc.maxLength = r.GetRequired(), r.GetDefinedOnly(), int(r.GetMaxLength())
			if r.Min != nil {
				m := r.GetMin()
				fc.min = &m
			}
			if r.GetId() != eventsv1.IdKind_ID_KIND_UNSPECIFIED {
				kind, ok := idKinds[r.GetId()]
				if !ok {
					return nil, fmt.Errorf("%s: unknown id kind %v", fd.FullName(), r.GetId())
				}
				fc.idKind = kind
			}
			if err := checkRuleFits(fd, &fc); err != nil {
				return nil, err
			}
			if r.GetEventTime() {
				if fd.Message() == nil || fd.Message().FullName() != "google.protobuf.Timestamp" || fd.IsList() || c.eventTime != nil {
					return nil, fmt.Errorf("%s: event_time marks one google.protobuf.Timestamp field per message", fd.FullName())
				}
				c.eventTime = fd
			}
		}
		if fd.Kind() == protoreflect.MessageKind && !fd.IsMap() && !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
			nested, err := compileContract(fd.Message(), seen)
			if err != nil {
				return nil, err
			}
			if nested.hasRules(map[*contract]bool{}) {
				fc.nested = nested
			}
		}
		if fc != (fieldContract{fd: fd}) {
			c.fields = append(c.fields, fc)
		}
	}
	return c, nil
}

// checkRuleFits refuses a rule its field cannot obey, so a mistake in the
// schema fails at start-up rather than passing every event.
func checkRuleFits(fd protoreflect.FieldDescriptor, fc *fieldContract) error {
	k := fd.Kind()
	switch {
	case fc.idKind != "" && k != protoreflect.StringKind,
		fc.maxLength > 0 && k != protoreflect.StringKind:
		return fmt.Errorf("%s: id and max_length rules apply to strings only", fd.FullName())
	case fc.definedOnly && k != protoreflect.EnumKind:
		return fmt.Errorf("%s: defined_only applies to enums only", fd.FullName())
	case fc.min != nil && !isInteger(k):
		return fmt.Errorf("%s: min applies to integers only", fd.FullName())
	case fd.IsMap():
		return fmt.Errorf("%s: map fields carry no rules", fd.FullName())
	}
	return nil
}

func isInteger(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func (c *contract) hasRules(seen map[*contract]bool) bool {
	if seen[c] {
		return false
	}
	seen[c] = true
	for _, f := range c.fields {
		if f.required || f.definedOnly || f.idKind != "" || f.maxLength > 0 || f.min != nil {
			return true
		}
		if f.nested != nil && f.nested.hasRules(seen) {
			return true
		}
	}
	return false
}

// fillEventTime sets m's event-time field to at when m leaves it out.
func (c *contract) fillEventTime(m protoreflect.Message, at time.Time) {
	if c.eventTime == nil || at.IsZero() || m.Has(c.eventTime) {
		return
	}
	m.Set(c.eventTime, protoreflect.ValueOfMessage(timestamppb.New(at).ProtoReflect()))
}

// check returns the first rule m breaks, naming the field by its path from
// the event's message ("PostCreated.media[0].media_id"). Paths are built
// only for the error: a valid event allocates nothing here.
func (c *contract) check(m protoreflect.Message, path string) error {
	if path == "" {
		path = string(c.name)
	}
	for i := range c.fields {
		f := &c.fields[i]
		if f.fd.IsList() {
			l := m.Get(f.fd).List()
			if f.required && l.Len() == 0 {
				return fmt.Errorf("%s.%s is required (at least one item)", path, f.fd.Name())
			}
			for j := range l.Len() {
				if err := f.value(l.Get(j), path, j); err != nil {
					return err
				}
			}
			continue
		}
		// A field with presence (a message, a proto3 optional) that is
		// absent is judged only as required or not; one without presence
		// holds its zero value, which the rules below judge.
		if f.fd.HasPresence() && !m.Has(f.fd) {
			if f.required {
				return fmt.Errorf("%s.%s is required", path, f.fd.Name())
			}
			continue
		}
		if err := f.value(m.Get(f.fd), path, -1); err != nil {
			return err
		}
	}
	return nil
}

// path names the field under parent, with its list index when item >= 0.
func (f *fieldContract) path(parent string, item int) string {
	if item < 0 {
		return parent + "." + string(f.fd.Name())
	}
	return fmt.Sprintf("%s.%s[%d]", parent, f.fd.Name(), item)
}

// value checks one value of the field (item >= 0: an item of a list).
func (f *fieldContract) value(v protoreflect.Value, parent string, item int) error {
	switch k := f.fd.Kind(); {
	case k == protoreflect.StringKind:
		s := v.String()
		if s == "" {
			if f.required {
				return fmt.Errorf("%s is required", f.path(parent, item))
			}
			return nil
		}
		if f.idKind != "" {
			if err := id.Check(f.idKind, s); err != nil {
				return fmt.Errorf("%s: %w", f.path(parent, item), err)
			}
		}
		if f.maxLength > 0 && utf8.RuneCountInString(s) > f.maxLength {
			return fmt.Errorf("%s has %d characters, more than %d", f.path(parent, item), utf8.RuneCountInString(s), f.maxLength)
		}
	case k == protoreflect.EnumKind:
		n := v.Enum()
		if f.required && n == 0 {
			return fmt.Errorf("%s is required (not %s)", f.path(parent, item), f.fd.Enum().Values().ByNumber(0).Name())
		}
		if f.definedOnly && f.fd.Enum().Values().ByNumber(n) == nil {
			return fmt.Errorf("%s: %d is not a value of %s", f.path(parent, item), n, f.fd.Enum().Name())
		}
	case k == protoreflect.MessageKind:
		if f.nested != nil {
			return f.nested.checkNested(v.Message(), f, parent, item)
		}
	case f.min != nil:
		var below bool
		switch k {
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			below = *f.min > 0 && v.Uint() < uint64(*f.min)
		default:
			below = v.Int() < *f.min
		}
		if below {
			return fmt.Errorf("%s is %v, less than %d", f.path(parent, item), v.Interface(), *f.min)
		}
	}
	return nil
}

// checkNested checks a message held by field f. Its path is needed only for
// an error, so the message is checked first under a placeholder and the
// error, if any, checked again with the real path: errors are rare, and a
// valid event then builds no strings.
func (c *contract) checkNested(m protoreflect.Message, f *fieldContract, parent string, item int) error {
	if err := c.check(m, "-"); err == nil {
		return nil
	}
	return c.check(m, f.path(parent, item))
}

// contracts compiles the rules of every message a catalogue carries.
func contracts(mds []protoreflect.MessageDescriptor) (map[protoreflect.FullName]*contract, error) {
	seen := map[protoreflect.FullName]*contract{}
	out := make(map[protoreflect.FullName]*contract, len(mds))
	for _, md := range mds {
		c, err := compileContract(md, seen)
		if err != nil {
			return nil, fmt.Errorf("envelope: event contract: %w", err)
		}
		out[md.FullName()] = c
	}
	return out, nil
}
