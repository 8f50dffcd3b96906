// Package fault injects failures into a running Nova for reliability
// tests: a TCP proxy that stands in front of a real server and can play
// that server being down, and an HTTP switch that makes a function answer
// with errors for a while.
package fault
