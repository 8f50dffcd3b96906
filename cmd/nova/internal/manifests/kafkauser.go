package manifests

import (
	"encoding/base64"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/nova-social/nova/cmd/nova/internal/broker"
)

// KafkaUser is a Strimzi KafkaUser as the local broker takes it: a SCRAM
// user with the ACLs of spec.authorization (the manifest check has
// validated the object against Strimzi's schema already).
type KafkaUser struct {
	Name string
	ACLs []broker.ACL
}

type kafkaUserDoc struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Authentication struct {
			Type string `json:"type"`
		} `json:"authentication"`
		Authorization struct {
			Type string `json:"type"`
			ACLs []struct {
				Resource struct {
					Type        string `json:"type"`
					Name        string `json:"name"`
					PatternType string `json:"patternType"`
				} `json:"resource"`
				Operations []string `json:"operations"`
				Host       string   `json:"host"`
			} `json:"acls"`
		} `json:"authorization"`
	} `json:"spec"`
}

func parseKafkaUser(file string, data []byte) (KafkaUser, error) {
	var d kafkaUserDoc
	if err := yaml.Unmarshal(data, &d); err != nil {
		return KafkaUser{}, fmt.Errorf("%s: KafkaUser: %w", file, err)
	}
	u := KafkaUser{Name: d.Metadata.Name}
	if t := d.Spec.Authentication.Type; t != "scram-sha-512" {
		return u, fmt.Errorf("%s: KafkaUser %s: authentication %q: the local broker takes scram-sha-512 users only", file, u.Name, t)
	}
	if t := d.Spec.Authorization.Type; t != "simple" {
		return u, fmt.Errorf("%s: KafkaUser %s: authorization %q: the local broker takes simple ACLs only", file, u.Name, t)
	}
	for _, a := range d.Spec.Authorization.ACLs {
		if a.Host != "" && a.Host != "*" {
			return u, fmt.Errorf("%s: KafkaUser %s: ACL host %q: the local broker takes \"*\" only", file, u.Name, a.Host)
		}
		for _, op := range a.Operations {
			u.ACLs = append(u.ACLs, broker.ACL{Type: a.Resource.Type, Name: a.Resource.Name,
				Prefixed: a.Resource.PatternType == "prefix", Operation: op})
		}
	}
	return u, nil
}

// parseSecret reads a Secret's data (base64) and stringData, the latter
// winning as the API server merges them.
func parseSecret(file string, data []byte) (string, map[string]string, error) {
	var d struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Data       map[string]string `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(data, &d); err != nil {
		return "", nil, fmt.Errorf("%s: Secret: %w", file, err)
	}
	out := map[string]string{}
	for k, v := range d.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", nil, fmt.Errorf("%s: Secret %s key %s: %w", file, d.Metadata.Name, k, err)
		}
		out[k] = string(b)
	}
	for k, v := range d.StringData {
		out[k] = v
	}
	return d.Metadata.Name, out, nil
}
