// The Knative Serving controller for the local control plane, built by test/cluster/build inside a
// writable copy of the knative.dev/serving module (as cmd/kserve-reclaimer-controller, so that the
// module's own go.mod and versions apply). Knative's cmd/controller cannot run here as it is: its
// health-probe server binds :8080 hard-coded, which the autoscaler's stat server needs on the same
// host, and it asks for cert-manager when config-network says so. This main runs the same
// reconcilers through the same sharedmain, with the probe server and leader election switched off
// (one replica, loopback only); its liveness is its profiling port (PROFILING_PORT).
package main

import (
	"flag"

	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/signals"
	"knative.dev/serving/pkg/reconciler/configuration"
	"knative.dev/serving/pkg/reconciler/gc"
	"knative.dev/serving/pkg/reconciler/labeler"
	"knative.dev/serving/pkg/reconciler/revision"
	"knative.dev/serving/pkg/reconciler/route"
	"knative.dev/serving/pkg/reconciler/serverlessservice"
	"knative.dev/serving/pkg/reconciler/service"
)

func main() {
	flag.DurationVar(&reconciler.DefaultTimeout, "reconciliation-timeout", reconciler.DefaultTimeout,
		"how long one reconciliation may take before its context is cancelled")
	ctx := signals.NewContext()
	ctx = sharedmain.WithHealthProbesDisabled(ctx)
	ctx = sharedmain.WithHADisabled(ctx)
	// Parses the flags (--kubeconfig among them), so the flag above must be declared first.
	cfg := injection.ParseAndGetRESTConfigOrDie()
	// What a KServe InferenceService in Knative mode needs: Service -> Configuration -> Revision
	// (Deployment, PodAutoscaler, ServerlessService) and Route (KIngress). Domain mappings and
	// namespace wildcard certificates are left out: nothing here uses them.
	sharedmain.MainWithConfig(ctx, "controller", cfg,
		service.NewController,
		configuration.NewController,
		revision.NewController,
		route.NewController,
		serverlessservice.NewController,
		labeler.NewController,
		gc.NewController,
	)
}
