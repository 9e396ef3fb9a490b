// The pod sandbox ("pause") image of the real node: the upstream one cannot be pulled here.
// It does what registry.k8s.io/pause does for a pod: hold the namespaces and wait for
// SIGTERM/SIGINT. Built static by scripts/images.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
