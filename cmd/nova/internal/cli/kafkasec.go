package cli

import (
	"flag"

	"github.com/nova-social/nova/shared/event/kafka"
)

// kafkaSecurity registers the flags that say how a command logs in to
// Kafka, each defaulting to the variable a function reads
// (kafka.SecurityFromEnv). The password is taken only from
// KAFKA_SASL_PASSWORD, never a flag, so it stays out of ps. The returned
// func reads them once the flags are parsed; getenv reads the variables
// that have no flag (a tool's also finds the running Nova's login).
func kafkaSecurity(fs *flag.FlagSet, getenv func(string) string) func() kafka.Security {
	var tls bool
	var ca, cert, key, mech, user string
	fs.BoolVar(&tls, "kafka-tls", false, "connect to Kafka over TLS [KAFKA_TLS]")
	fs.StringVar(&ca, "kafka-tls-ca-file", "", "PEM file of the CA Kafka's certificates chain to; empty: the system's [KAFKA_TLS_CA_FILE]")
	fs.StringVar(&cert, "kafka-tls-cert-file", "", "PEM client certificate, for mTLS [KAFKA_TLS_CERT_FILE]")
	fs.StringVar(&key, "kafka-tls-key-file", "", "PEM client key, for mTLS [KAFKA_TLS_KEY_FILE]")
	fs.StringVar(&mech, "kafka-sasl-mechanism", "", "SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN; the password is KAFKA_SASL_PASSWORD [KAFKA_SASL_MECHANISM]")
	fs.StringVar(&user, "kafka-sasl-username", "", "SASL user name [KAFKA_SASL_USERNAME]")
	return func() kafka.Security {
		env := map[string]string{
			kafka.EnvTLSCAFile: ca, kafka.EnvTLSCertFile: cert, kafka.EnvTLSKeyFile: key,
			kafka.EnvSASLMech: mech, kafka.EnvSASLUsername: user,
			kafka.EnvSASLPassword: getenv(kafka.EnvSASLPassword),
			// PEM in the environment, as a function takes it from a Secret.
			kafka.EnvTLSCACert: getenv(kafka.EnvTLSCACert),
			kafka.EnvTLSCert:   getenv(kafka.EnvTLSCert),
			kafka.EnvTLSKey:    getenv(kafka.EnvTLSKey),
		}
		if tls {
			env[kafka.EnvTLS] = "true"
		}
		return kafka.SecurityFromEnv(env)
	}
}
