// Command hyperkube bundles kube-apiserver, kube-controller-manager and
// kube-scheduler from k8s.io/kubernetes into one binary, for the local test
// control plane. Usage: hyperkube <kube-apiserver|kube-controller-manager|kube-scheduler> [flags].
package main

import (
	"fmt"
	"os"
	_ "time/tzdata" // CronJob time zones, as in the upstream mains

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	commands := map[string]func() *cobra.Command{
		"kube-apiserver":          apiserver.NewAPIServerCommand,
		"kube-controller-manager": controllermanager.NewControllerManagerCommand,
		"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hyperkube kube-apiserver|kube-controller-manager|kube-scheduler [flags]")
		os.Exit(2)
	}
	newCommand, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "hyperkube: unknown component %q\n", os.Args[1])
		os.Exit(2)
	}
	// cobra reads os.Args[1:]; drop the component name.
	os.Args = append([]string{os.Args[0]}, os.Args[2:]...)
	os.Exit(cli.Run(newCommand()))
}
