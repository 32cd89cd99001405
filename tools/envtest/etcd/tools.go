//go:build tools

// Package tools only exists so that `go mod tidy` keeps the etcd server dependency graph in go.mod/go.sum.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
