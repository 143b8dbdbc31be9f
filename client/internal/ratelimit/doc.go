// Package ratelimit is the client-side limiter every backend operation passes
// through: a token bucket for the request rate (etcd.qps, or
// etcd.bootstrapQps until bootstrap completes) and a bound on concurrent
// requests (etcd.maxInflight). It exists so that thousands of clients
// restarting together cannot flatten their store.
package ratelimit
