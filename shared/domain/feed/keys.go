package feed

// Key builders; see the package documentation for what each holds.
func feedKey(user string) string        { return "feed:" + user }
func authorPostsKey(user string) string { return "author:posts:" + user }
func followersKey(user string) string   { return "followers:" + user }
func followingKey(user string) string   { return "following:" + user }
func postKey(id string) string          { return "post:" + id }
func tombstoneKey(id string) string     { return "post:gone:" + id }
func processedKey(source, id string) string {
	return "processed:" + source + ":" + id
}

const (
	celebritiesKey = "celebrities"
	scoresKey      = "post:scores"
)

// FeedKey is the Redis key of user's home feed, for tools and tests that
// inspect it.
func FeedKey(user string) string { return feedKey(user) }
