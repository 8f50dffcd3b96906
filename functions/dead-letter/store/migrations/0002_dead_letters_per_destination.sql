-- One entry per failing destination: several consumers of a topic (each
-- KafkaSource or Trigger delivering to its own function) can dead-letter
-- the same event, and each keeps its own entry and reason, where
-- (source, id) kept only the first. error_dest is Knative's
-- knativeerrordest, the sink that failed ('' when none was given).
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey;
ALTER TABLE dead_letters ADD PRIMARY KEY (source, id, error_dest);

-- The entries of one record, which a replay writes back once for all of
-- them.
CREATE INDEX dead_letters_record ON dead_letters (topic, kafka_partition, kafka_offset);
