package asyncapi

// The AsyncAPI 3.0 objects Nova's document uses, in the specification's
// field names.

type doc struct {
	AsyncAPI           string               `json:"asyncapi"`
	ID                 string               `json:"id"`
	Info               info                 `json:"info"`
	DefaultContentType string               `json:"defaultContentType"`
	Servers            map[string]server    `json:"servers"`
	Channels           map[string]channel   `json:"channels"`
	Operations         map[string]operation `json:"operations"`
	Components         components           `json:"components"`
}

type info struct {
	Title       string   `json:"title"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	License     *license `json:"license,omitempty"`
}

type license struct {
	Name string `json:"name"`
}

type server struct {
	Host        string `json:"host"`
	Protocol    string `json:"protocol"`
	Description string `json:"description,omitempty"`
	Security    []ref  `json:"security,omitempty"`
}

type ref struct {
	Ref string `json:"$ref"`
}

type channel struct {
	Address     string           `json:"address"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Messages    map[string]ref   `json:"messages"`
	Bindings    *channelBindings `json:"bindings,omitempty"`
}

type channelBindings struct {
	Kafka kafkaChannel `json:"kafka"`
}

type kafkaChannel struct {
	Topic          string `json:"topic"`
	Partitions     int    `json:"partitions"`
	Replicas       int    `json:"replicas"`
	BindingVersion string `json:"bindingVersion"`
}

type operation struct {
	Action   string `json:"action"`
	Channel  ref    `json:"channel"`
	Title    string `json:"title,omitempty"`
	Summary  string `json:"summary,omitempty"`
	Messages []ref  `json:"messages"`
}

type components struct {
	Messages        map[string]message        `json:"messages"`
	Schemas         map[string]*schema        `json:"schemas"`
	SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
}

type securityScheme struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

type message struct {
	Name         string           `json:"name"`
	Title        string           `json:"title,omitempty"`
	Summary      string           `json:"summary,omitempty"`
	Description  string           `json:"description,omitempty"`
	ContentType  string           `json:"contentType,omitempty"`
	Headers      *schema          `json:"headers,omitempty"`
	Payload      *schema          `json:"payload,omitempty"`
	Bindings     *messageBindings `json:"bindings,omitempty"`
	Examples     []messageExample `json:"examples,omitempty"`
	ExternalDocs *externalDocs    `json:"externalDocs,omitempty"`
}

type messageBindings struct {
	Kafka kafkaMessage `json:"kafka"`
}

type kafkaMessage struct {
	Key            *schema `json:"key,omitempty"`
	BindingVersion string  `json:"bindingVersion"`
}

type messageExample struct {
	Name    string         `json:"name"`
	Headers map[string]any `json:"headers,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
}

type externalDocs struct {
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
}

// schema is the part of JSON Schema (draft 7, as AsyncAPI's default schema
// format) the document uses.
type schema struct {
	Ref                  string             `json:"$ref,omitempty"`
	Title                string             `json:"title,omitempty"`
	Description          string             `json:"description,omitempty"`
	Type                 string             `json:"type,omitempty"`
	Format               string             `json:"format,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	ContentEncoding      string             `json:"contentEncoding,omitempty"`
	Const                any                `json:"const,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	MinLength            *int               `json:"minLength,omitempty"`
	MaxLength            *int               `json:"maxLength,omitempty"`
	Minimum              *int               `json:"minimum,omitempty"`
	MinItems             *int               `json:"minItems,omitempty"`
	Items                *schema            `json:"items,omitempty"`
	Properties           map[string]*schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"`
	AllOf                []*schema          `json:"allOf,omitempty"`
	OneOf                []*schema          `json:"oneOf,omitempty"`
}
