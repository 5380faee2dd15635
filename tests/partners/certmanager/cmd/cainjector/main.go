// Command cainjector is cert-manager's CA injector (github.com/cert-manager/cert-manager v1.21.2),
// built from the main module's exported packages: it writes the CA of the Certificate named by a
// `cert-manager.io/inject-ca-from` annotation into a MutatingWebhookConfiguration's caBundle, as
// otelwire's install relies on (manifests/operator/webhook.yaml).
//
// Why a main of our own: upstream's main package, cmd/cainjector, is a nested Go module
// (github.com/cert-manager/cert-manager/cainjector-binary) that the module proxy does not serve.
// This file mirrors, at the release-1.21 branch:
//
//   - cmd/cainjector/main.go: exit handler, klog initialisation, controller-runtime's logger set
//     to cert-manager's;
//   - cmd/cainjector/app/controller.go, Run: a controller-runtime manager with the same scheme
//     (client-go, cert-manager, apiextensions, apiregistration), the same cache options
//     (ReaderFailOnMissingInformer, no cache for Secrets), the wait for the Certificate CRD
//     because the Certificate data source is on (its default), then
//     pkg/controller/cainjector.RegisterAllInjectors and mgr.Start;
//   - cmd/cainjector/app/options/options.go: the flags kept (--kubeconfig, --namespace, logging).
//
// Differences, each on purpose:
//   - Only the MutatingWebhookConfiguration injectable is enabled (upstream enables all four by
//     default): otelwire ships no ValidatingWebhookConfiguration, APIService or conversion webhook.
//   - The REST config comes from --kubeconfig, loaded as internal/kube.BuildClientConfig loads it
//     for the controller (an internal package: its few lines are mirrored in restConfig), or
//     in-cluster without one. Upstream calls ctrl.GetConfigOrDie() (controller-runtime: its
//     --kubeconfig flag variable, then $KUBECONFIG, then in-cluster).
//   - Leader election is off and there is no metrics or pprof server (upstream: --leader-elect
//     defaults to true, metrics on 0.0.0.0:9402); the suite talks only to loopback.
//   - No --config file and no feature gates: the defaults apply.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	cmscheme "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/scheme"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	logsapi "k8s.io/component-base/logs/api/v1"
	apireg "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"otelwire.io/tests/partners/certmanager/internal/signals"
)

type options struct {
	kubeconfig string
	namespace  string
	logging    *logsapi.LoggingConfiguration
}

func main() {
	ctx, exit := signals.SetupExitHandler(context.Background())
	defer exit()

	logf.InitLogs()
	defer logf.FlushLogs()
	ctrl.SetLogger(logf.Log)
	ctx = logf.NewContext(ctx, logf.Log)

	opts := options{logging: logsapi.NewLoggingConfiguration()}
	fs := pflag.NewFlagSet("cainjector", pflag.ExitOnError)
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "Paths to a kubeconfig. Only required if out-of-cluster.")
	fs.StringVar(&opts.namespace, "namespace", "", "If set, this limits the scope of cainjector to a single namespace. "+
		"If set, cainjector will not update resources with certificates outside of the configured namespace.")
	logf.AddFlagsNonDeprecated(opts.logging, fs)
	fs.AddGoFlagSet(flag.CommandLine)
	_ = fs.Parse(os.Args[1:])

	if err := logf.ValidateAndApply(opts.logging); err != nil {
		logf.Log.Error(err, "failed to validate cainjector logging flags")
		os.Exit(1)
	}
	log := logf.FromContext(ctx, "cainjector")
	versionInfo := util.VersionInfo()
	log.Info("starting cert-manager ca-injector", "version", versionInfo.GitVersion, "git_commit", versionInfo.GitCommit,
		"go_version", versionInfo.GoVersion, "platform", versionInfo.Platform)
	if err := run(ctx, opts); err != nil {
		logf.Log.Error(err, "error executing command")
		os.Exit(1)
	}
}

// restConfig mirrors internal/kube/config.go's BuildClientConfig: in-cluster without a kubeconfig.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// run is upstream's app.Run (cmd/cainjector/app/controller.go) with the differences named in the
// package comment.
func run(ctx context.Context, opts options) error {
	log := logf.FromContext(ctx)

	base, err := restConfig(opts.kubeconfig)
	if err != nil {
		return fmt.Errorf("error creating rest config: %w", err)
	}
	cfg := util.RestConfigWithUserAgent(base, "cainjector")

	var defaultNamespaces map[string]cache.Config
	if opts.namespace != "" {
		defaultNamespaces = map[string]cache.Config{opts.namespace: {}}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(kscheme.AddToScheme(scheme))
	utilruntime.Must(cmscheme.AddToScheme(scheme))
	utilruntime.Must(apiext.AddToScheme(scheme))
	utilruntime.Must(apireg.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache: cache.Options{
			ReaderFailOnMissingInformer: true,
			DefaultNamespaces:           defaultNamespaces,
		},
		// Upstream: no cache for Secrets, so cainjector never lists every Secret of the cluster;
		// the reconciler GETs the source Secret directly.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		// "0" turns controller-runtime's metrics server off.
		Metrics:        metricsserver.Options{BindAddress: "0"},
		LeaderElection: false,
	})
	if err != nil {
		return fmt.Errorf("error creating manager: %v", err)
	}

	// The Certificate data source is on (upstream's default): wait up to 5 minutes for its CRD.
	directClient, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("failed to create client: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		crd := apiext.CustomResourceDefinition{}
		err := directClient.Get(ctx, types.NamespacedName{Name: "certificates.cert-manager.io"}, &crd)
		if apierrors.IsNotFound(err) {
			log.Info("cainjector has been configured to watch certificates, but certificates.cert-manager.io CRD not found, retrying with a backoff...")
			return false, nil
		} else if err != nil {
			log.Error(err, "error checking if certificates.cert-manager.io CRD is installed")
			return false, err
		}
		log.V(logf.DebugLevel).Info("certificates.cert-manager.io CRD found")
		return true, nil
	})
	if err != nil {
		log.Error(err, "error retrieving certificate.cert-manager.io CRDs")
		return err
	}

	setupOptions := cainjector.SetupOptions{
		Namespace:                    opts.namespace,
		EnableCertificatesDataSource: true,
		EnabledReconcilersFor: map[string]bool{
			cainjector.MutatingWebhookConfigurationName:   true,
			cainjector.ValidatingWebhookConfigurationName: false,
			cainjector.APIServiceName:                     false,
			cainjector.CustomResourceDefinitionName:       false,
		},
	}
	if err := cainjector.RegisterAllInjectors(ctx, mgr, setupOptions); err != nil {
		log.Error(err, "failed to register controllers")
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("error running manager: %v", err)
	}
	return nil
}
