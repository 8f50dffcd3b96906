// Package load drives Nova under load and reports what it measured, each
// workload beside a baseline taken in the same run:
//
//   - Producer publishes records as Nova does (binary-mode CloudEvents
//     through shared/event/kafka's producer) in the manner of Kafka's
//     kafka-producer-perf-test, with a raw Sarama producer of plain byte
//     records as the baseline.
//   - Mixed registers users on a running Nova, has them follow each other,
//     then for a fixed time posts, likes, sends messages and reads feeds at
//     a target rate, and follows the consumers' lag until it drains; a
//     trivial endpoint at the same rate and concurrency is the baseline.
//
// The nova bench command parses flags into these configurations.
package load
