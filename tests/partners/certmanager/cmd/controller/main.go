// Command controller is cert-manager's controller (github.com/cert-manager/cert-manager v1.21.2),
// built from the main module's exported packages, with the controllers otelwire's install needs:
// a self-signed Issuer and a Certificate issued by it (manifests/certificates).
//
// Why a main of our own: upstream's main package, cmd/controller, is a nested Go module
// (github.com/cert-manager/cert-manager/controller-binary) that the module proxy does not serve.
// This file mirrors, at the release-1.21 branch:
//
//   - cmd/controller/main.go: exit handler, klog initialisation, the "controller" logger in the
//     context;
//   - cmd/controller/app/start.go: the controllers are those registered with pkg/controller by
//     the packages imported below (upstream imports every controller package and then filters by
//     --controllers; here only these are compiled in, so all of them run);
//   - cmd/controller/app/controller.go, Run and buildControllerContextFactory: one
//     controller.ContextFactory from the kubeconfig, each known controller built from it and run
//     with NumberOfConcurrentWorkers, then the shared informer factories started, and on
//     cancellation the control loops drained and the factories shut down;
//   - the option defaults of internal/apis/config/controller/v1alpha1/defaults.go (an internal
//     package, so the values are copied, each named below).
//
// Left out, because otelwire needs none of it: leader election (this process is the only
// controller; upstream's --leader-elect defaults to true), the metrics, healthz and pprof servers
// (upstream binds 0.0.0.0:9402/9403 by default; the suite talks only to loopback), the
// --config file, feature gates, the ACME, CA, Vault, Venafi, ClusterIssuer, ingress/gateway shim
// and CertificateSigningRequest controllers, and configurePEMSizeLimits (internal/pem; the
// defaults it would set are the package's own defaults, DefaultSizeLimits).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	logsapi "k8s.io/component-base/logs/api/v1"

	// Issuers: the issuers controller sets an Issuer Ready once its issuer type (registered by
	// pkg/issuer/selfsigned) has been set up.
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"

	// CertificateRequests: approved by cert-manager's own approver, signed by the self-signed issuer.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"

	// Certificates: the six controllers of upstream's "certificate controllers" group.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"

	"otelwire.io/tests/partners/certmanager/internal/signals"
)

// Defaults from internal/apis/config/controller/v1alpha1/defaults.go (v1.21).
const (
	defaultKubernetesAPIQPS          = 20
	defaultKubernetesAPIBurst        = 50
	defaultClusterResourceNamespace  = "kube-system"
	defaultNumberOfConcurrentWorkers = 5
	defaultCRMinimumBackoffDuration  = 1 * time.Hour
	defaultCRMaximumBackoffDuration  = 32 * time.Hour
)

// defaultCopiedAnnotationPrefixes: copied from Certificate to CertificateRequest, except those of
// kubectl, Flux and Argo CD (same file).
var defaultCopiedAnnotationPrefixes = []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"}

type options struct {
	kubeconfig string
	master     string
	namespace  string
	workers    int
	logging    *logsapi.LoggingConfiguration
}

func main() {
	ctx, exit := signals.SetupExitHandler(context.Background())
	defer exit()

	logf.InitLogs()
	defer logf.FlushLogs()
	ctx = logf.NewContext(ctx, logf.Log, "controller")

	opts := options{logging: logsapi.NewLoggingConfiguration()}
	fs := pflag.NewFlagSet("controller", pflag.ExitOnError)
	// Flag names, meanings and defaults as in cmd/controller/app/options/options.go.
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "Paths to a kubeconfig. Only required if out-of-cluster.")
	fs.StringVar(&opts.master, "master", "", "Optional apiserver host address to connect to.")
	fs.StringVar(&opts.namespace, "namespace", "", "If set, this limits the scope of cert-manager to a single namespace. "+
		"If not specified, all namespaces will be watched")
	fs.IntVar(&opts.workers, "concurrent-workers", defaultNumberOfConcurrentWorkers, "The number of concurrent workers for each controller.")
	logf.AddFlagsNonDeprecated(opts.logging, fs)
	fs.AddGoFlagSet(flag.CommandLine)
	_ = fs.Parse(os.Args[1:])

	if err := logf.ValidateAndApply(opts.logging); err != nil {
		logf.Log.Error(err, "failed to validate controller logging flags")
		os.Exit(1)
	}
	if err := run(ctx, opts); err != nil {
		logf.Log.Error(err, "error executing command")
		os.Exit(1)
	}
}

// run is upstream's app.Run without the servers and leader election (see the package comment).
func run(rootCtx context.Context, opts options) error {
	rootCtx, cancelContext := context.WithCancel(rootCtx)
	defer cancelContext()

	log := logf.FromContext(rootCtx)
	g, rootCtx := errgroup.WithContext(rootCtx)

	versionInfo := util.VersionInfo()
	log.Info("starting cert-manager controller", "version", versionInfo.GitVersion, "git_commit", versionInfo.GitCommit,
		"go_version", versionInfo.GoVersion, "platform", versionInfo.Platform)

	ctxFactory, err := controller.NewContextFactory(rootCtx, controller.ContextOptions{
		Kubeconfig:         opts.kubeconfig,
		KubernetesAPIQPS:   defaultKubernetesAPIQPS,
		KubernetesAPIBurst: defaultKubernetesAPIBurst,
		APIServerHost:      opts.master,
		Namespace:          opts.namespace,
		// ACMEOptions, SchedulerOptions and IngressShimOptions configure controllers that are not
		// compiled in; they stay zero.
		IssuerOptions: controller.IssuerOptions{
			ClusterIssuerAmbientCredentials: true,
			IssuerAmbientCredentials:        false,
			ClusterResourceNamespace:        defaultClusterResourceNamespace,
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           false,
			CopiedAnnotationPrefixes:                 defaultCopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: defaultCRMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: defaultCRMaximumBackoffDuration,
		},
		ConfigOptions: controller.ConfigOptions{EnableGatewayAPI: false, EnableGatewayAPIListenerSet: false},
	})
	if err != nil {
		return err
	}

	// The base controller context: upstream builds it for the metrics server and for the
	// informer factories it starts below.
	ctx, err := ctxFactory.Build()
	if err != nil {
		return err
	}

	known := controller.Known()
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names)
	log.Info(fmt.Sprintf("enabled controllers: %v", names))

	for _, n := range names {
		log := log.WithValues("controller", n)
		iface, err := known[n](ctxFactory)
		if err != nil {
			err = fmt.Errorf("error starting controller: %v", err)
			cancelContext()
			return errors.Join(err, g.Wait())
		}
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting controller")
			return iface.Run(opts.workers, rootCtx)
		})
	}

	log.V(logf.DebugLevel).Info("starting shared informer factories")
	ctx.SharedInformerFactory.Start(rootCtx.Done())
	ctx.KubeSharedInformerFactory.Start(rootCtx.Done())
	ctx.HTTP01ResourceMetadataInformersFactory.Start(rootCtx.Done())

	if err := g.Wait(); err != nil {
		return fmt.Errorf("error starting controller: %v", err)
	}
	log.V(logf.InfoLevel).Info("control loops exited")

	ctx.HTTP01ResourceMetadataInformersFactory.Shutdown()
	ctx.KubeSharedInformerFactory.Shutdown()
	ctx.SharedInformerFactory.Shutdown()
	return nil
}
