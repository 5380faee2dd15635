// promcfg prints the Prometheus configuration the Prometheus Operator generates for PodMonitors,
// with the operator's own generator (pkg/prometheus.ConfigGenerator, the code its controller runs).
//
// Usage: promcfg < podmonitors.yaml   (one or more PodMonitor documents, YAML or JSON)
//
// The Prometheus it generates for is the default one (version operator.DefaultPrometheusVersion,
// one shard, no scrape classes), named monitoring/k8s; every PodMonitor given is selected, as a
// podMonitorSelector of {} and a podMonitorNamespaceSelector of {} would select it. The output
// is what the operator writes into the prometheus-k8s Secret, before the config reloader
// substitutes $(POD_NAME) and $(SHARD).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	"github.com/prometheus-operator/prometheus-operator/pkg/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "promcfg:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	monitors := map[string]*v1.PodMonitor{}
	decoder := yaml.NewYAMLOrJSONDecoder(in, 4096)
	for {
		monitor := &v1.PodMonitor{}
		if err := decoder.Decode(monitor); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if monitor.Kind != v1.PodMonitorsKind {
			return fmt.Errorf("%s %s/%s is not a %s", monitor.Kind, monitor.Namespace, monitor.Name, v1.PodMonitorsKind)
		}
		monitors[monitor.Namespace+"/"+monitor.Name] = monitor
	}
	server := &v1.Prometheus{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.SchemeGroupVersion.String(), Kind: v1.PrometheusesKind},
		ObjectMeta: metav1.ObjectMeta{Name: "k8s", Namespace: "monitoring"},
		Spec: v1.PrometheusSpec{
			CommonPrometheusFields: v1.CommonPrometheusFields{
				// The CRD's defaults, which the API server fills in.
				ScrapeInterval:              "30s",
				PodMonitorSelector:          &metav1.LabelSelector{},
				PodMonitorNamespaceSelector: &metav1.LabelSelector{},
			},
			EvaluationInterval: "30s",
		},
	}
	generator, err := prometheus.NewConfigGenerator(nil, server)
	if err != nil {
		return err
	}
	config, err := generator.GenerateServerConfiguration(
		server, nil, monitors, nil, nil, assets.NewTestStoreBuilder(), nil, nil, nil, nil,
	)
	if err != nil {
		return err
	}
	_, err = out.Write(config)
	return err
}
