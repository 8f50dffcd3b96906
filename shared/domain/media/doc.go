// Package media is nova-api's media domain: uploads bounded and sniffed by
// their bytes, probed (dimensions, duration) and thumbnailed, kept in a file
// or S3 store under validated keys, and attached to their post when the
// post's event arrives (media-attach).
package media
