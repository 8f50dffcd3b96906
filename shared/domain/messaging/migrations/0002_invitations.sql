-- Consent for groups: someone added to a group who does not follow its
-- creator is INVITED and receives nothing (no messages, pushes or
-- notifications, no history) until they accept; declining removes them.
-- Rows that exist already are members.
ALTER TABLE conversation_participants
    ADD COLUMN status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INVITED'));
