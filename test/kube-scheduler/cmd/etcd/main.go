//go:build stack

// Command etcd is etcd 3.6 (go.etcd.io/etcd/server/v3, the version k8s.io/kubernetes v1.35.4 itself requires),
// built from this module because Debian 12's etcd 3.4.23 is below Kubernetes' supported minimum. Build it with
// `go build -tags stack -o bin/etcd ./cmd/etcd` (stack/up.sh does).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
