// Package publish holds Herald's use-cases: recording a run of the site against its history, and sending
// what is due to the subscribers. The command line, the server and tests call it; it takes loaded sites,
// a store and mail settings, and reads no configuration itself.
package publish
