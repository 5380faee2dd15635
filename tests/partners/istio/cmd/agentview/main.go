// Command agentview says, with Istio's own code, what pilot-agent makes of an injected pod:
// the service name the mesh's spans carry and the application endpoint its metrics merge scrapes.
//
// otelwire labels pods service.istio.io/canonical-name and merges tracingServiceName:
// CANONICAL_NAME_ONLY into proxy.istio.io/config so that the sidecar's spans carry the app's
// OTEL_SERVICE_NAME, and it fills the app's scrape settings into istio-proxy's
// ISTIO_PROMETHEUS_ANNOTATIONS. Whether that works is decided by pilot-agent, so this program
// runs pilot-agent's steps on the pod, in pilot-agent's order, calling Istio's functions:
//
//  1. the container's environment as the kubelet gives it (literal values and downward-API
//     fields of the pod), and the pod's labels and annotations in ./etc/istio/pod/{labels,annotations},
//     the files of the istio-podinfo downward-API volume, relative to the working directory as
//     pilot-agent reads them (a scratch directory here);
//  2. pilot/cmd/pilot-agent/config.ConstructProxyConfig: mesh defaults, the mesh config file
//     (none in a sidecar), the PROXY_CONFIG variable, then the pod's proxy.istio.io/config;
//  3. pkg/bootstrap.GetNodeMetaData and bootstrap.New(...).WriteTo with Istio's bootstrap
//     template (tools/packaging/common/envoy_bootstrap.json): the node's "cluster" there is
//     the name istiod gives the proxy's tracer (pilot/pkg/networking/core/tracing.go uses
//     proxy.XdsNode.Cluster as the span service name);
//  4. pilot/cmd/pilot-agent/status.NewServer with the container's ISTIO_PROMETHEUS_ANNOTATIONS:
//     once with the sidecar's real status port (pilot-agent refuses, as in a pod, a merge that
//     points back at itself), then serving on a free port, scraped once on /stats/prometheus.
//     Its outbound scrape of the app goes through http.DefaultTransport, which records the URL
//     and answers with a marker metric instead of dialling anything.
//
// Usage: agentview -bootstrap-template FILE [POD.yaml|-]
//
// The pod (YAML or JSON) is the one the API server stores: metadata and spec after every
// mutating webhook. The answer is one JSON object on stdout (see Result).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	agentconfig "istio.io/istio/pilot/cmd/pilot-agent/config"
	"istio.io/istio/pilot/cmd/pilot-agent/status"
	"istio.io/istio/pkg/bootstrap"
	"istio.io/istio/pkg/bootstrap/platform"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/kube/inject"
	"istio.io/istio/pkg/kube/labels"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/model"
	"istio.io/istio/pkg/util/protomarshal"
)

// podIP stands in for the pod's address in status.podIP: loopback, so that nothing this
// program might dial leaves the machine.
const podIP = "127.0.0.1"

// marker is the metric the recorded app scrape answers with; seen in the merged output, it
// proves pilot-agent merged what it scraped.
const marker = "otelwire_agentview_app_marker 1\n"

// Result is what pilot-agent makes of the pod.
type Result struct {
	// ServiceCluster is the bootstrap node's cluster: the service name of the mesh's spans.
	ServiceCluster string `json:"serviceCluster"`
	// TracingServiceName is the effective ProxyConfig's choice (e.g. CANONICAL_NAME_ONLY).
	TracingServiceName string `json:"tracingServiceName"`
	// CanonicalService and CanonicalRevision as pkg/kube/labels.CanonicalService reads the pod's labels.
	CanonicalService  string `json:"canonicalService"`
	CanonicalRevision string `json:"canonicalRevision"`
	// ProxyConfig is the effective ProxyConfig (protobuf JSON).
	ProxyConfig json.RawMessage `json:"proxyConfig"`
	Metrics     Metrics         `json:"metrics"`
}

// Metrics is the status server's metrics merge.
type Metrics struct {
	// Refused is the error pilot-agent's status server starts with, if any: the agent exits.
	Refused string `json:"refused,omitempty"`
	// Scraped lists the application URLs one scrape of /stats/prometheus fetched.
	Scraped []string `json:"scraped"`
	// Merged: the app's answer is in the merged output.
	Merged bool `json:"merged"`
}

func main() {
	template := flag.String("bootstrap-template", "", "Istio's Envoy bootstrap template (envoy_bootstrap.json)")
	flag.Parse()
	if *template == "" || flag.NArg() > 1 {
		fmt.Fprintln(os.Stderr, "usage: agentview -bootstrap-template FILE [POD.yaml|-]")
		os.Exit(2)
	}
	// Istio logs to stdout by default; the answer is stdout's.
	logging := istiolog.DefaultOptions()
	logging.OutputPaths = []string{"stderr"}
	if err := istiolog.Configure(logging); err != nil {
		fmt.Fprintln(os.Stderr, "agentview:", err)
		os.Exit(1)
	}
	input := "-"
	if flag.NArg() == 1 {
		input = flag.Arg(0)
	}
	result, err := run(*template, input)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentview:", err)
		os.Exit(1)
	}
	out, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentview:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func run(templatePath, input string) (*Result, error) {
	templatePath, err := filepath.Abs(templatePath)
	if err != nil {
		return nil, err
	}
	pod, err := readPod(input)
	if err != nil {
		return nil, err
	}
	sidecar := inject.FindSidecar(pod)
	if sidecar == nil {
		return nil, errors.New("the pod has no istio-proxy container (in containers or initContainers)")
	}
	env, err := containerEnv(pod, sidecar)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "agentview-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if err := writePodInfo(scratch, pod); err != nil {
		return nil, err
	}
	// pilot-agent runs in / and reads ./etc/istio/pod/*: the same relative paths, here.
	if err := os.Chdir(scratch); err != nil {
		return nil, err
	}
	var envs []string
	for _, e := range env {
		envs = append(envs, e.name+"="+e.value)
		if err := os.Setenv(e.name, e.value); err != nil {
			return nil, err
		}
	}
	proxyConfigEnv, _ := lookup(env, "PROXY_CONFIG")
	// pilot-agent's defaults: --meshConfig ./etc/istio/config/mesh (not mounted in a sidecar),
	// --serviceCluster istio-proxy, --concurrency 0.
	proxyConfig, err := agentconfig.ConstructProxyConfig("./etc/istio/config/mesh", constants.ServiceClusterName, proxyConfigEnv, 0)
	if err != nil {
		return nil, fmt.Errorf("pilot-agent's proxy config: %w", err)
	}
	namespace := pod.Namespace
	node, err := bootstrap.GetNodeMetaData(bootstrap.MetadataOptions{
		ID:          fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", podIP, pod.Name, namespace, namespace),
		Envs:        envs,
		Platform:    &platform.Unknown{},
		InstanceIPs: []string{podIP},
		ProxyConfig: proxyConfig,
	})
	if err != nil {
		return nil, fmt.Errorf("pilot-agent's node metadata: %w", err)
	}
	var rendered bytes.Buffer
	if err := bootstrap.New(bootstrap.Config{Node: node}).WriteTo(templatePath, &rendered); err != nil {
		return nil, fmt.Errorf("pilot-agent's Envoy bootstrap: %w", err)
	}
	var boot struct {
		Node struct {
			Cluster string `json:"cluster"`
		} `json:"node"`
	}
	if err := json.Unmarshal(rendered.Bytes(), &boot); err != nil {
		return nil, fmt.Errorf("the Envoy bootstrap is not JSON: %w", err)
	}
	canonicalName, canonicalRevision := labels.CanonicalService(node.Metadata.Labels, node.Metadata.WorkloadName)
	pcJSON, err := protomarshal.ToJSON(proxyConfig)
	if err != nil {
		return nil, err
	}
	tracing := proxyConfig.GetTracingServiceName().String()
	if cluster := proxyConfig.GetServiceCluster(); cluster != "" {
		tracing = "serviceCluster:" + cluster
	}
	metrics, err := metricsMerge(uint16(proxyConfig.GetStatusPort()))
	if err != nil {
		return nil, err
	}
	return &Result{
		ServiceCluster:     boot.Node.Cluster,
		TracingServiceName: tracing,
		CanonicalService:   canonicalName,
		CanonicalRevision:  canonicalRevision,
		ProxyConfig:        json.RawMessage(pcJSON),
		Metrics:            metrics,
	}, nil
}

func readPod(input string) (*corev1.Pod, error) {
	var raw []byte
	var err error
	if input == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(input)
	}
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict(raw, pod); err != nil {
		return nil, fmt.Errorf("not a Pod: %w", err)
	}
	if pod.Kind != "Pod" || pod.Name == "" || pod.Namespace == "" {
		return nil, fmt.Errorf("want a Pod with a name and a namespace, got kind %q %s/%s", pod.Kind, pod.Namespace, pod.Name)
	}
	return pod, nil
}

type envVar struct{ name, value string }

func lookup(env []envVar, name string) (string, bool) {
	for _, e := range env {
		if e.name == name {
			return e.value, true
		}
	}
	return "", false
}

// containerEnv is the container's environment as the kubelet builds it: literal values and
// downward-API fields (a later entry of the same name wins). Anything else -- Secrets,
// ConfigMaps, $(VAR) references -- is refused rather than guessed: Istio's injection
// template uses none of them.
func containerEnv(pod *corev1.Pod, c *corev1.Container) ([]envVar, error) {
	if len(c.EnvFrom) > 0 {
		return nil, fmt.Errorf("container %s: envFrom is not resolved here", c.Name)
	}
	var env []envVar
	set := func(name, value string) {
		for i := range env {
			if env[i].name == name {
				env[i].value = value
				return
			}
		}
		env = append(env, envVar{name, value})
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			if strings.Contains(e.Value, "$(") {
				return nil, fmt.Errorf("container %s: %s=%q references another variable; not resolved here", c.Name, e.Name, e.Value)
			}
			set(e.Name, e.Value)
		case e.ValueFrom.FieldRef != nil:
			value, err := podField(pod, e.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return nil, fmt.Errorf("container %s: %s: %w", c.Name, e.Name, err)
			}
			set(e.Name, value)
		case e.ValueFrom.ResourceFieldRef != nil:
			// CPU/memory limits (ISTIO_CPU_LIMIT and the like): read at pilot-agent's start-up
			// for concurrency and GOMEMLIMIT only; nothing here depends on them.
			set(e.Name, "0")
		default:
			return nil, fmt.Errorf("container %s: %s takes its value from a Secret or ConfigMap; not resolved here", c.Name, e.Name)
		}
	}
	return env, nil
}

// podField resolves a downward-API fieldPath the way the kubelet does, with loopback for the
// addresses a pod only gets from a node.
func podField(pod *corev1.Pod, path string) (string, error) {
	if key, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(key, "']")], nil
	}
	if key, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(key, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.serviceAccountName":
		if pod.Spec.ServiceAccountName == "" {
			return "default", nil // what the ServiceAccount admission plugin fills in
		}
		return pod.Spec.ServiceAccountName, nil
	case "spec.nodeName":
		return "node-1", nil
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return podIP, nil
	}
	return "", fmt.Errorf("downward-API field %q is not resolved here", path)
}

// writePodInfo writes the istio-podinfo volume's files. Their format is the kubelet's
// (k8s.io/kubernetes/pkg/fieldpath.FormatMap, mirrored in formatMap): sorted key="quoted" lines.
func writePodInfo(root string, pod *corev1.Pod) error {
	dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(filepath.Dir(constants.PodInfoLabelsPath), "./")))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for path, values := range map[string]map[string]string{
		constants.PodInfoLabelsPath:      pod.Labels,
		constants.PodInfoAnnotationsPath: pod.Annotations,
	} {
		file := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(path, "./")))
		if err := os.WriteFile(file, []byte(formatMap(values)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// formatMap mirrors k8s.io/kubernetes/pkg/fieldpath.FormatMap (the kubelet's downward-API
// format for labels and annotations).
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%v=%q\n", k, m[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// recorder stands in for the network under pilot-agent's app scrape: it notes the URL and
// answers with the marker metric.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": []string{"text/plain; version=0.0.4"}},
		Body:       io.NopCloser(strings.NewReader(marker)),
		Request:    req,
	}, nil
}

func metricsMerge(statusPort uint16) (Metrics, error) {
	// The sidecar's own status port first: the checks pilot-agent makes before it serves.
	if _, err := status.NewServer(status.Options{
		NodeType: model.SidecarProxy, StatusPort: statusPort, NoEnvoy: true, PodIP: podIP,
		PrometheusRegistry: prometheus.NewRegistry(),
	}); err != nil {
		return Metrics{Refused: err.Error(), Scraped: []string{}}, nil
	}
	port, err := freePort()
	if err != nil {
		return Metrics{}, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	server, err := status.NewServer(status.Options{
		NodeType: model.SidecarProxy, StatusPort: port, NoEnvoy: true, PodIP: podIP,
		PrometheusRegistry: prometheus.NewRegistry(), Context: ctx, Shutdown: cancel,
	})
	if err != nil {
		return Metrics{}, fmt.Errorf("status server on port %d: %w", port, err)
	}
	// The status server's client is a zero http.Client: its requests go through DefaultTransport.
	rec := &recorder{}
	http.DefaultTransport = rec
	go server.Run(ctx)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/stats/prometheus", port)
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return Metrics{}, err
			}
			if resp.StatusCode != http.StatusOK {
				return Metrics{}, fmt.Errorf("%s: %s", url, resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			return Metrics{}, fmt.Errorf("status server never answered: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return Metrics{Scraped: append([]string{}, rec.urls...), Merged: bytes.Contains(body, []byte(marker))}, nil
}

func freePort() (uint16, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(port)
	return uint16(n), err
}
