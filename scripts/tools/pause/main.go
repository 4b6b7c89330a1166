// The sandbox ("pause") process of the e2e node's pods: containerd's sandbox_image runs it as each pod's first
// process, which holds the pod's namespaces. Nothing can be pulled on the test machines, so the harness builds
// this instead of registry.k8s.io/pause. Like the upstream one it waits for SIGINT or SIGTERM and, as PID 1 of a
// pod that shares its process namespace, reaps the zombies it inherits.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
