// Command etcd is etcd's own server main (etcdmain), pinned by this module's
// go.mod, for the local test control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
