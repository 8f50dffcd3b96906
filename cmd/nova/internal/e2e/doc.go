// Package e2e holds end-to-end tests of Nova on the local runtime: the
// whole system as nova run starts it (embedded Kafka, nova-api, every
// function through func-go, the dispatcher running eventing/), driven
// through the public API and Kafka clients as a user would.
package e2e
