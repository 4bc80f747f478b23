//go:build stack

// Package stack pins the real control-plane commands stack/up.sh builds from this module (`go install pkg@version`
// refuses modules with replace directives, so they are built here, with the same pinned dependencies). The build
// tag keeps them out of the harness tests' build; `go mod tidy` still records their dependencies.
package stack

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
