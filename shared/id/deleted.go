package id

// Deleted stands in for an erased account where a row must keep some user
// id: the author of a deleted post's tombstone, the sender of a message
// left in someone else's conversation. It is the nil UUID, which no
// account is ever given (account ids are UUIDv7), so it links to no one.
const Deleted UserID = "00000000-0000-0000-0000-000000000000"
