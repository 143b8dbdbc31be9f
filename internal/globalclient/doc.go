// Package globalclient holds the process-wide default client behind
// client.Setup, client.Client and client.Connected.
//
// The state lives in an internal package, not in package client, for one
// reason: tests. In production the global client is set up once per process
// (like Cilium's), and nothing may replace it. Test helpers in package
// hivetest (SetupDummy) need to install a fresh client per test and remove it
// afterwards; Reset gives them that without adding a "for testing" function
// to client's public API. Being internal, only packages of this module can
// call it.
package globalclient
